/* Azure ML's own files as a package spec, so existing projects move over
 * unchanged: inferenceconfig.json (or .yml) for the entry script and
 * environment, deploymentconfig.json for service settings, and models given
 * as NAME:VERSION=PATH (what `az ml model register` would have stored).
 *
 * Both files may be JSON or YAML; errors name the file, line and Azure's key.
 * The mapping to spec.yaml fields is in specs/azureml-mapping.md. The spec
 * comes back as from spec_load and is freed with spec_free. */
#ifndef AMLPKG_SPEC_AZURE_H
#define AMLPKG_SPEC_AZURE_H

#include "builder/spec/spec.h"

#include <stddef.h>

struct spec_azure_input {
    const char *inference_config;  /* or NULL: Azure's no-code deployment (models with a model_framework) */
    const char *deployment_config; /* or NULL */
    const char *environment_dir;   /* an Environment.save_to_directory folder, or NULL */
    const char *const *models;     /* "NAME:VERSION=PATH", paths relative to the working directory */
    size_t n_models;
    const char *model_framework; /* Azure's model_framework for every model (e.g. "ScikitLearn"), or NULL */
};

int spec_load_azure(struct spec **out, const struct spec_azure_input *in);
/* Reads a deploymentconfig.json into a loaded spec: the service settings and
 * spec->deploy (for `amlpkg deploy SPEC --deployment-config F`). */
int spec_azure_read_deployment_config(struct spec *spec, const char *path);

#endif
