/* deploymentconfig.json's cluster settings: replicas, resources, the
 * autoscaler, the liveness probe, the namespace, and what a Kubernetes cluster
 * has no use for (kept as notes that `amlpkg deploy` prints).
 *
 * spec_azure.c reads the service settings (timeouts, keys, concurrency) and
 * calls deployment_config_read with the same tree for the rest, so every key at
 * every depth is checked against Azure's names ("did you mean") and every error
 * names file, line and field. The fields land in spec->deploy, owned by the
 * spec (released by deployment_config_release from spec_free). */
#ifndef AMLPKG_DEPLOYMENT_CONFIG_H
#define AMLPKG_DEPLOYMENT_CONFIG_H

#include "builder/spec/spec.h"
#include "builder/spec/yaml_tree.h"

int deployment_config_read(struct spec_deploy *out, struct yaml_tree *t, yaml_node_t *root);
void deployment_config_release(struct spec_deploy *d);

#endif
