/* A built image's service under podman, for `profile --image`: loads the
 * archive, runs it with CPU and memory limits on a loopback port, and waits
 * until it answers. The same struct local_service as a host service, so the
 * profiler measures both alike (svc->pid is the container's amlserve, visible
 * in /proc for rootful podman); local_service_stop removes the container.
 *
 * The podman command comes from $AMLPKG_PODMAN (words split on spaces, e.g.
 * "podman --root /tmp/x"), else "podman". Keys are generated and passed with
 * -e AMLSERVE_AUTH_KEYS so images built with auth on start too. */
#ifndef AMLPKG_IMAGE_SERVICE_H
#define AMLPKG_IMAGE_SERVICE_H

#include "builder/service/local_service.h"

struct image_service_options {
    const char *archive; /* oci-archive or docker-archive */
    const char *cpus;    /* podman --cpus, or NULL */
    const char *memory;  /* podman --memory, or NULL */
};

int image_service_start(struct local_service *svc, const struct image_service_options *opts);
/* Removes the container; called by local_service_stop. */
void image_service_stop(struct local_service *svc);

#endif
