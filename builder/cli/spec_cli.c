#include "builder/cli/spec_cli.h"

#include "builder/image/sklearn_convert.h"
#include "builder/spec/spec_azure.h"
#include "common/err.h"
#include "common/parse_number.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int spec_cli_option(struct spec_cli *a, int c, const char *arg, const char *command)
{
    switch (c) {
    case SPEC_CLI_INFERENCE_CONFIG: a->inference_config = arg; return 1;
    case SPEC_CLI_DEPLOYMENT_CONFIG: a->deployment_config = arg; return 1;
    case SPEC_CLI_ENVIRONMENT_DIR: a->environment_dir = arg; return 1;
    case SPEC_CLI_MODEL_FRAMEWORK: a->model_framework = arg; return 1;
    case SPEC_CLI_PYTHON: a->python = arg; return 1;
    case SPEC_CLI_CHECK_ROWS: {
        long long n;
        int bad = parse_number_int(&n, "--check-rows", arg, 1, 100000);
        if (bad) {
            fprintf(stderr, "amlpkg %s: %s\n", command, err_message(bad));
            err_clear();
            return -1;
        }
        a->check_rows = (int)n;
        return 1;
    }
    case SPEC_CLI_MODEL:
        if (a->n_models == SPEC_CLI_MAX_MODELS) {
            fprintf(stderr, "amlpkg %s: more than %d --model options\n", command, SPEC_CLI_MAX_MODELS);
            return -1;
        }
        a->models[a->n_models++] = arg;
        return 1;
    default: return 0;
    }
}

int spec_cli_check(const struct spec_cli *a, const char *spec_path, const char *command)
{
    const char *problem = NULL;
    if (spec_path && a->inference_config)
        problem = "give a SPEC or --inference-config, not both";
    else if (!spec_path && !a->inference_config && !(a->n_models && a->model_framework))
        problem = "expected a SPEC, or --inference-config with --model (or --model with --model-framework)";
    else if (spec_path && (a->n_models || a->deployment_config || a->environment_dir || a->model_framework))
        problem = "--model, --model-framework, --deployment-config and --environment-dir go with --inference-config; "
                  "a SPEC lists its own";
    else if (a->inference_config && !a->n_models)
        problem = "--inference-config needs at least one --model NAME:VERSION=PATH";
    else if (!a->inference_config && a->environment_dir)
        problem = "--environment-dir goes with --inference-config";
    if (!problem)
        return 0;
    fprintf(stderr, "amlpkg %s: %s\n", command, problem);
    return -1;
}

int spec_cli_load(struct spec **out, const struct spec_cli *a, const char *spec_path)
{
    int rc;
    if (spec_path) {
        rc = spec_read(out, spec_path, SPEC_READ_ENVIRONMENT);
    } else {
        struct spec_azure_input in = {
            .inference_config = a->inference_config,
            .deployment_config = a->deployment_config,
            .environment_dir = a->environment_dir,
            .models = a->models,
            .n_models = a->n_models,
            .model_framework = a->model_framework,
        };
        rc = spec_load_azure(out, &in);
    }
    if (rc)
        return rc;
    /* scikit-learn models become ONNX-ML here, so every command sees a no-code package. */
    struct sklearn_options so = {.python = a->python, .check_rows = a->check_rows};
    if ((rc = sklearn_convert_spec(*out, &so))) {
        spec_free(*out);
        *out = NULL;
    }
    return rc;
}
