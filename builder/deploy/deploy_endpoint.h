/* An endpoint's folder: each version's Deployment, Service, PDB and autoscaler
 * (named ENDPOINT-VERSION, files deployment-VERSION.yaml ...), one Gateway API
 * HTTPRoute splitting traffic by weight (and pinning a version with the header
 * azureml-model-deployment: VERSION, as Azure's endpoints do), and the
 * kustomization listing them. Files go into the caller's struct deploy_files. */
#ifndef AMLPKG_DEPLOY_ENDPOINT_H
#define AMLPKG_DEPLOY_ENDPOINT_H

#include "builder/deploy/deploy.h"
#include "builder/deploy/endpoint.h"

#define DEPLOY_ROUTE_FILE "httproute.yaml"

int deploy_endpoint_files(struct deploy_files *out, const struct spec *spec, const struct deploy_request *req,
                          const struct endpoint *e);
/* The HTTPRoute alone (--set-traffic rewrites only it). */
int deploy_route_text(char **out, const struct endpoint *e);
/* The Secret of every version (one document each, the same value: one key for the endpoint). */
int deploy_endpoint_secret_text(char **out, const struct spec *spec, const struct deploy_request *req,
                                const struct endpoint *e, const char *value);
/* Whether the versions need a Secret (the package requires authentication). */
int deploy_endpoint_auth(const struct spec *spec);

#endif
