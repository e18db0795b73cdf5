/* libFuzzer target: a deploymentconfig.json (JSON or YAML) through the reader
 * (builder/spec/deployment_config.c) and, when it loads, through amlpkg
 * deploy's plan and every emitter (folder files, Secret, podman Deployment).
 * The loader reads paths, as the CLI does, so the input goes to a file. */
#include "builder/deploy/deploy.h"
#include "fuzz_azure.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct spec *spec = NULL;
    if (fuzz_load_azure(&spec, NULL, 0, (const char *)data, size) != 0) {
        err_clear();
        return 0;
    }
    struct deploy_request req = {
        .image = "r.example/m@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"};
    struct deploy_plan plan;
    for (int a = 0; a < 3; a++) {
        req.autoscaler = (enum deploy_autoscaler)a;
        if (deploy_plan_make(&plan, spec, &req))
            break;
        char *text = NULL;
        const char *name;
        for (int i = 0; i < 8; i++) {
            if (deploy_file_text(&text, &name, &plan, i) == 0)
                free(text);
        }
        char *value = NULL;
        if (plan.auth && !spec->service.token_secret_file && deploy_secret_value(&value, &plan) == 0) {
            if (deploy_secret_text(&text, &plan, value) == 0)
                free(text);
            if (deploy_podman_secret_text(&text, &plan, value) == 0)
                free(text);
        }
        free(value);
        if (deploy_podman_text(&text, &plan, 8080) == 0)
            free(text);
    }
    err_clear();
    spec_free(spec);
    return 0;
}
