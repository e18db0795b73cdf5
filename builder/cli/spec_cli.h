/* How a command names its package: a spec.yaml, or Azure ML's files
 * (--inference-config F --model NAME:VERSION=PATH... [--deployment-config F]),
 * or Azure's no-code form (--model ... --model-framework ScikitLearn). Loading
 * also converts scikit-learn models (--python, --check-rows). Shared by build,
 * serve and profile so they accept the same forms. */
#ifndef AMLPKG_SPEC_CLI_H
#define AMLPKG_SPEC_CLI_H

#include "builder/spec/spec.h"

#include <getopt.h>
#include <stddef.h>

enum {
    SPEC_CLI_INFERENCE_CONFIG = 0x1000,
    SPEC_CLI_MODEL,
    SPEC_CLI_DEPLOYMENT_CONFIG,
    SPEC_CLI_ENVIRONMENT_DIR,
    SPEC_CLI_MODEL_FRAMEWORK,
    SPEC_CLI_PYTHON,
    SPEC_CLI_CHECK_ROWS
};

#define SPEC_CLI_OPTIONS                                                                                               \
    {"inference-config", required_argument, NULL, SPEC_CLI_INFERENCE_CONFIG},                                          \
        {"model", required_argument, NULL, SPEC_CLI_MODEL},                                                            \
        {"deployment-config", required_argument, NULL, SPEC_CLI_DEPLOYMENT_CONFIG},                                    \
        {"model-framework", required_argument, NULL, SPEC_CLI_MODEL_FRAMEWORK},                                        \
        {"python", required_argument, NULL, SPEC_CLI_PYTHON},                                                          \
        {"check-rows", required_argument, NULL, SPEC_CLI_CHECK_ROWS},                                                  \
    {                                                                                                                  \
        "environment-dir", required_argument, NULL, SPEC_CLI_ENVIRONMENT_DIR                                           \
    }

#define SPEC_CLI_HELP                                                                                                  \
    "      --inference-config F   Azure ML's inferenceconfig.json (or .yml) instead of a SPEC\n"                       \
    "      --model N:V=PATH       with --inference-config: a model, its name, version and file;\n"                     \
    "                             repeat for several\n"                                                                \
    "      --deployment-config F  with --inference-config: Azure ML's deploymentconfig.json\n"                         \
    "      --environment-dir DIR  with --inference-config: an Environment.save_to_directory folder\n"                  \
    "      --model-framework F    Azure's model_framework for every --model (ScikitLearn, Onnx, ...);\n"               \
    "                             --model with ScikitLearn and no --inference-config is no-code\n"                     \
    "      --python PATH          the Python with scikit-learn that converts scikit-learn models\n"                    \
    "                             (default /usr/bin/python3; serve and profile: also the entry script's)\n"            \
    "      --check-rows N         rows synthesised to check a converted model against scikit-learn\n"                  \
    "                             when there is no input sample (default 100)\n"

#define SPEC_CLI_MAX_MODELS 1000

struct spec_cli {
    const char *inference_config, *deployment_config, *environment_dir, *model_framework, *python;
    int check_rows;
    const char *models[SPEC_CLI_MAX_MODELS];
    size_t n_models;
};

/* 1 when c was one of SPEC_CLI_OPTIONS (consumed), 0 otherwise, -1 on a usage error (printed). */
int spec_cli_option(struct spec_cli *a, int c, const char *arg, const char *command);
/* Checks the combination: exactly one of spec_path and --inference-config. Prints and returns -1 on misuse. */
int spec_cli_check(const struct spec_cli *a, const char *spec_path, const char *command);
int spec_cli_load(struct spec **out, const struct spec_cli *a, const char *spec_path);

#endif
