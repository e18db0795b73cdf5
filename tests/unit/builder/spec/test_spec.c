/* spec.yaml loading: defaults, validation, and error messages with lines. */
#include "test.h"

#include "builder/spec/conda.h"
#include "builder/spec/spec.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/amlpkg-test-spec-XXXXXX";

static const char *write_spec(const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/spec.yaml", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static int load(struct spec **out, const char *text)
{
    err_clear();
    return spec_load(out, write_spec(text));
}

TEST(minimal_spec_gets_defaults)
{
    struct spec *s = NULL;
    CHECK_EQ_INT(load(&s, "models:\n  - name: My_Model\n    version: 3\n    path: m.onnx\n"), 0);
    CHECK_EQ_INT(s->n_models, 1);
    CHECK_STR(s->models[0].name, "My_Model");
    CHECK_EQ_INT(s->models[0].version, 3);
    CHECK(strstr(s->models[0].path, "/m.onnx") != NULL);
    CHECK_STR(s->image_name, "my_model");
    CHECK_STR(s->image_tag, "3");
    spec_free(s);
}

TEST(unknown_field_names_line_and_suggests)
{
    struct spec *s = NULL;
    CHECK_EQ_INT(load(&s, "models:\n  - name: a\n    version: 1\n    paht: m.onnx\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "spec.yaml:4: models[0].paht: unknown field (did you mean 'path'?)"));
    CHECK(s == NULL);
    CHECK_EQ_INT(load(&s, "modles: []\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "spec.yaml:1: modles: unknown field (did you mean 'models'?)"));
    err_clear();
}

TEST(missing_path_and_bad_values_are_reported)
{
    struct spec *s = NULL;
    CHECK_EQ_INT(load(&s, "models:\n  - name: a\n    version: 1\n    path: nope.onnx\n"), ERR_NOTFOUND);
    CHECK(strstr(err_message(ERR_NOTFOUND), "spec.yaml:4: models[0].path: no such file or directory"));
    CHECK_EQ_INT(load(&s, "models:\n  - name: a\n    version: 0\n    path: m.onnx\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "spec.yaml:3: models[0].version: expected an integer from 1"));
    CHECK_EQ_INT(load(&s, "models:\n  - name: -bad\n    version: 1\n    path: m.onnx\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "'-bad' is not a valid model name"));
    CHECK_EQ_INT(load(&s, "models:\n  - name: a\n    version: 1\n    path: m.onnx\n  - name: a\n    version: 1\n"
                          "    path: m.onnx\n"),
                 ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "listed twice (first on line 2)"));
    CHECK_EQ_INT(load(&s, "models: {}\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "spec.yaml:1: models: expected a list, found a mapping"));
    CHECK_EQ_INT(load(&s, "output: {name: x}\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "models: required field is missing"));
    CHECK_EQ_INT(load(&s, "models:\n  - name: a\n    version: 1\n    path: m.onnx\n    path: m.onnx\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "duplicate field"));
    err_clear();
}

TEST(malformed_yaml_gives_line_and_column)
{
    struct spec *s = NULL;
    CHECK_EQ_INT(load(&s, "models:\n  - name: [a\n"), ERR_PARSE);
    CHECK(strstr(err_message(ERR_PARSE), "spec.yaml:3:1:") || strstr(err_message(ERR_PARSE), "spec.yaml:2:"));
    CHECK_EQ_INT(load(&s, ""), ERR_PARSE);
    CHECK(strstr(err_message(ERR_PARSE), "empty"));
    err_clear();
}

TEST(output_name_and_tag_are_validated)
{
    struct spec *s = NULL;
    CHECK_EQ_INT(load(&s, "models:\n  - {name: a, version: 1, path: m.onnx}\noutput:\n  name: Team/Ridge\n"),
                 ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "spec.yaml:4: output.name: 'Team/Ridge' is not a valid image name"));
    CHECK_EQ_INT(load(&s, "models:\n  - {name: a, version: 1, path: m.onnx}\noutput: {name: team/ridge, tag: v2}\n"),
                 0);
    CHECK_STR(s->image_name, "team/ridge");
    CHECK_STR(s->image_tag, "v2");
    spec_free(s);
    CHECK(spec_valid_tag("1.0_rc-1"));
    CHECK(!spec_valid_tag(".hidden"));
    CHECK(!spec_valid_image_name("a//b"));
    err_clear();
}

static int load_env(struct spec **out, const char *environment)
{
    char text[4096];
    snprintf(text, sizeof text, "models:\n  - {name: a, version: 1, path: m.onnx}\nenvironment:\n%s", environment);
    err_clear();
    return spec_read(out, write_spec(text), SPEC_READ_ENVIRONMENT);
}

TEST(environment_defaults_and_fields)
{
    struct spec *s = NULL;
    CHECK_EQ_INT(load(&s, "models:\n  - {name: a, version: 1, path: m.onnx}\n"), 0);
    CHECK_STR(s->environment.base_image, "scratch");
    CHECK_STR(s->environment.python_interpreter, "python");
    CHECK_EQ_INT(s->environment.line, 0);
    CHECK(s->environment.conda == NULL);
    spec_free(s);
    CHECK_EQ_INT(load_env(&s, "  name: env1\n"
                              "  base_image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04\n"
                              "  docker_steps:\n    - RUN apt-get update\n    - RUN echo hi\n"
                              "  env: {B: '2', A: x}\n"
                              "  gpu: {enabled: true, cuda_version: '11.8'}\n"
                              "  python: {interpreter_path: /opt/py/bin/python}\n"
                              "  conda:\n    channels: [conda-forge]\n    dependencies: [numpy, {pip: [requests]}]\n"),
                 0);
    const struct spec_environment *e = &s->environment;
    CHECK_EQ_INT(e->line, 4);
    CHECK_STR(e->name, "env1");
    CHECK_STR(e->base_image, "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04");
    CHECK_EQ_INT(e->n_docker_steps, 2);
    CHECK_STR(e->docker_steps[1], "RUN echo hi");
    CHECK_EQ_INT(e->n_env, 2);
    CHECK_STR(e->env[0].name, "B");
    CHECK_EQ_INT(e->gpu_enabled, 1);
    CHECK_STR(e->cuda_version, "11.8");
    CHECK_STR(e->python_interpreter, "/opt/py/bin/python");
    CHECK(e->conda != NULL);
    CHECK_EQ_INT(e->conda->n_deps, 1);
    CHECK_EQ_INT(e->conda->n_pip, 1);
    spec_free(s);
    /* GPU without a base image: Azure ML's default GPU image, as Azure does. */
    CHECK_EQ_INT(load_env(&s, "  gpu: {enabled: true, cuda_version: '11.3'}\n"), 0);
    CHECK_STR(s->environment.base_image, SPEC_DEFAULT_GPU_BASE_IMAGE);
    spec_free(s);
    CHECK_EQ_INT(load_env(&s, "  docker_steps: |\n    RUN a\n    RUN b\n"), 0);
    CHECK_EQ_INT(s->environment.n_docker_steps, 1);
    CHECK_STR(s->environment.docker_steps[0], "RUN a\nRUN b\n");
    spec_free(s);
}

TEST(environment_errors_name_line_and_field)
{
    struct spec *s = NULL;
    CHECK_EQ_INT(load(&s, "models:\n  - {name: a, version: 1, path: m.onnx}\nenvironment: {base_image: x}\n"),
                 ERR_UNSUPPORTED);
    CHECK(strstr(err_message(ERR_UNSUPPORTED), "spec.yaml:3: environment: not supported"));
    CHECK_EQ_INT(load_env(&s, "  base_imag: x\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID),
                 "spec.yaml:4: environment.base_imag: unknown field (did you mean 'base_image'?)"));
    CHECK_EQ_INT(load_env(&s, "  gpu: {enabled: true, cuda_verison: '11'}\n"), ERR_INVALID);
    CHECK(
        strstr(err_message(ERR_INVALID), "environment.gpu.cuda_verison: unknown field (did you mean 'cuda_version'?)"));
    CHECK_EQ_INT(load_env(&s, "  gpu: {cuda_version: '11.8'}\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "set without gpu.enabled: true"));
    CHECK_EQ_INT(load_env(&s, "  gpu: {enabled: true, cuda_version: eleven}\n"), ERR_INVALID);
    /* The default GPU base has CUDA 11.3: another version needs a base image that has it. */
    CHECK_EQ_INT(load_env(&s, "  gpu: {enabled: true, cuda_version: '12.1'}\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "spec.yaml:4: environment.gpu.cuda_version: '12.1': the default GPU base "
                                           "image (" SPEC_DEFAULT_GPU_BASE_IMAGE ") has CUDA 11.3; set "
                                           "environment.base_image"));
    CHECK_EQ_INT(load_env(&s, "  conda_file: nope.yml\n"), ERR_NOTFOUND);
    CHECK(strstr(err_message(ERR_NOTFOUND), "spec.yaml:4: environment.conda_file: no such file"));
    CHECK_EQ_INT(load_env(&s, "  conda: {dependencies: [numpy]}\n  conda_file: x.yml\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "spec.yaml:5: environment.conda_file: conda_file and conda are exclusive"));
    CHECK_EQ_INT(load_env(&s, "  conda:\n    dependencies:\n      - '=1'\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "spec.yaml:6:9: environment.conda.dependencies[0]: not a valid package spec"));
    CHECK_EQ_INT(load_env(&s, "  env: {1X: a}\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "environment.env.1X: not a valid variable name"));
    CHECK_EQ_INT(load_env(&s, "  env: [a]\n"), ERR_INVALID);
    CHECK_EQ_INT(load_env(&s, "  docker_steps: {a: b}\n"), ERR_INVALID);
    CHECK_EQ_INT(load_env(&s, "  base_image: 'has space'\n"), ERR_INVALID);
    CHECK_EQ_INT(load_env(&s, "  python: {user_managed: true}\n  conda: {dependencies: [numpy]}\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "python.user_managed: true means no conda"));
    CHECK(s == NULL);
    err_clear();
}

TEST(environment_conda_file_is_read_relative_to_the_spec)
{
    char path[300];
    snprintf(path, sizeof path, "%s/env.yml", dir);
    FILE *f = fopen(path, "w");
    fputs("name: e\ndependencies:\n  - python=3.9\n  - pip:\n    - \"num py\"\n", f);
    fclose(f);
    struct spec *s = NULL;
    CHECK_EQ_INT(load_env(&s, "  conda_file: env.yml\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "env.yml:5:7: dependencies[1].pip[0]: not a valid package spec"));
    f = fopen(path, "w");
    fputs("name: e\ndependencies:\n  - python=3.9\n", f);
    fclose(f);
    CHECK_EQ_INT(load_env(&s, "  conda_file: env.yml\n"), 0);
    CHECK(strstr(s->environment.conda_file, "/env.yml"));
    CHECK_STR(s->environment.conda->deps[0].canon, "python=3.9");
    spec_free(s);
}

TEST(sklearn_framework_and_method)
{
    CHECK(spec_framework_is_sklearn("scikit-learn") && spec_framework_is_sklearn("ScikitLearn") &&
          spec_framework_is_sklearn("SKLEARN"));
    CHECK(!spec_framework_is_sklearn("onnx") && !spec_framework_is_sklearn(NULL));
    CHECK(spec_framework_valid("Onnx") && spec_framework_valid("scikitlearn") && !spec_framework_valid("Caffe"));
    CHECK_EQ_INT(spec_method_parse("predict_proba"), SPEC_METHOD_PREDICT_PROBA);
    CHECK_EQ_INT(spec_method_parse("Predict"), -1);
    CHECK_STR(spec_method_name(SPEC_METHOD_BOTH), "both");

    struct spec *s = NULL;
    CHECK_EQ_INT(load(&s, "models:\n  - {name: a, version: 1, path: m.onnx, framework: ScikitLearn, method: both}\n"
                          "  - {name: b, version: 1, path: m.onnx, framework: onnx}\n"),
                 0);
    CHECK(s->models[0].sklearn && s->models[0].method == SPEC_METHOD_BOTH);
    CHECK(!s->models[1].sklearn && s->models[1].method == SPEC_METHOD_PREDICT);
    CHECK(s->generated_dir == NULL);
    spec_free(s);
    s = NULL;
    CHECK_EQ_INT(load(&s, "models:\n  - name: a\n    version: 1\n    path: m.onnx\n    method: predict\n"),
                 ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "spec.yaml:5: models[0].method: only a scikit-learn model"));
    CHECK_EQ_INT(load(&s, "models:\n  - name: a\n    version: 1\n    path: m.onnx\n    framework: sklearn\n"
                          "    method: proba\n"),
                 ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID),
                 "spec.yaml:6: models[0].method: 'proba' is not one of predict, predict_proba, both"));
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    char model[300];
    snprintf(model, sizeof model, "%s/m.onnx", dir);
    FILE *f = fopen(model, "w");
    fputs("x", f);
    fclose(f);
    RUN(minimal_spec_gets_defaults);
    RUN(unknown_field_names_line_and_suggests);
    RUN(missing_path_and_bad_values_are_reported);
    RUN(malformed_yaml_gives_line_and_column);
    RUN(output_name_and_tag_are_validated);
    RUN(environment_defaults_and_fields);
    RUN(environment_errors_name_line_and_field);
    RUN(environment_conda_file_is_read_relative_to_the_spec);
    RUN(sklearn_framework_and_method);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    TEST_EXIT();
}
