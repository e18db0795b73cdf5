/* Shared by the Azure ML fuzz targets: loads an inferenceconfig.json / deploymentconfig.json pair (each
 * written to the fuzz folder, as the CLI reads paths) with one model, as `amlpkg build --inference-config
 * … --deployment-config … --model m:1=…` would. */
#ifndef AMLPKG_FUZZ_AZURE_H
#define AMLPKG_FUZZ_AZURE_H

#include "builder/spec/spec.h"
#include "builder/spec/spec_azure.h"
#include "common/err.h"
#include "fuzz_files.h"

/* INFERENCE NULL: a fixed one naming an existing score.py; DEPLOYMENT NULL: none. 0 and *SPEC, or -1. */
static int fuzz_load_azure(struct spec **spec, const char *inference, size_t inference_size, const char *deployment,
                           size_t deployment_size)
{
    static char score[512], fixed[600], inference_path[512], deployment_path[512], model[600];
    if (!fuzz_write(score, "score.py", "", 0))
        return -1;
    if (!inference) {
        snprintf(fixed, sizeof fixed, "{\"entryScript\": \"%s\"}", score);
        inference = fixed, inference_size = strlen(fixed);
    }
    if (!fuzz_write(inference_path, "inferenceconfig.json", inference, inference_size) ||
        (deployment && !fuzz_write(deployment_path, "deploymentconfig.json", deployment, deployment_size)))
        return -1;
    snprintf(model, sizeof model, "m:1=%s", score);
    const char *models[] = {model};
    struct spec_azure_input in = {.inference_config = inference_path,
                                  .deployment_config = deployment ? deployment_path : NULL,
                                  .models = models,
                                  .n_models = 1};
    *spec = NULL;
    err_clear();
    return spec_load_azure(spec, &in);
}

#endif
