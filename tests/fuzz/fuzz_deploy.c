/* libFuzzer target: a deploymentconfig.json (JSON or YAML) through the reader
 * (builder/spec/deployment_config.c) and, when it loads, through amlpkg
 * deploy's plan and every emitter (folder files, Secret, podman Deployment).
 * The loader reads paths, as the CLI does, so the input goes to a file. */
#include "builder/deploy/deploy.h"
#include "builder/spec/spec.h"
#include "builder/spec/spec_azure.h"
#include "common/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *write_file(const char *kind, const char *text, size_t size)
{
    static char paths[2][96];
    char *path = paths[kind[0] == 'd'];
    snprintf(path, sizeof paths[0], "/tmp/amlpkg-fuzz-deploy-%s-%d.json", kind, (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    fwrite(text, 1, size, f);
    fclose(f);
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char score[] = "/tmp/score.py";
    static const char inference_text[] = "{\"entryScript\": \"/tmp/score.py\"}";
    FILE *f = fopen(score, "a");
    if (f)
        fclose(f);
    const char *inference = write_file("inference", inference_text, sizeof inference_text - 1);
    const char *dc = write_file("deployment", (const char *)data, size);
    if (!inference || !dc)
        return 0;
    const char *models[] = {"m:1=/tmp/score.py"};
    struct spec_azure_input in = {
        .inference_config = inference, .deployment_config = dc, .models = models, .n_models = 1};
    struct spec *spec = NULL;
    err_clear();
    if (spec_load_azure(&spec, &in) != 0)
        return 0;
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
