/* An endpoint: several versions of a package behind one route, as Azure's
 * AksEndpoint (versions, traffic percentiles, one default, a control
 * version). Read from endpoint.yaml:
 *
 *   name: ridge                      # the route and the prefix of each version's objects
 *   gateway: {name: ml-gateway, namespace: gateway-system}   # the Gateway the route attaches to
 *   hostnames: [ridge.example.com]   # optional
 *   versions:
 *     - {name: v1, image: REF@sha256:..., traffic: 80, default: true, control: true}
 *     - {name: v2, image: REF@sha256:..., traffic: 20}
 *
 * endpoint_load checks everything (traffic sums to 100, unique versions,
 * exactly one default, at most one control, images by digest) with errors
 * naming file, line and field. The endpoint is owned by the caller
 * (endpoint_free); strings are its own. */
#ifndef AMLPKG_ENDPOINT_H
#define AMLPKG_ENDPOINT_H

#include <stddef.h>

#define ENDPOINT_MAX_VERSIONS 8

struct endpoint_version {
    char *name;
    char *image;
    int traffic; /* percent */
    int is_default, is_control;
    int line;
};

struct endpoint {
    char *file;
    char *name;
    char *gateway_name, *gateway_namespace; /* namespace may be NULL */
    char **hostnames;
    size_t n_hostnames;
    struct endpoint_version versions[ENDPOINT_MAX_VERSIONS];
    size_t n_versions;
};

int endpoint_load(struct endpoint **out, const char *path);
/* --set-traffic "v1=80,v2=20": new percentages for the versions named (the others get 0); they
 * must name known versions once each and sum to 100. */
int endpoint_set_traffic(struct endpoint *e, const char *text);
void endpoint_free(struct endpoint *e);

#endif
