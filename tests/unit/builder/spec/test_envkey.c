/* The environment key: same meaning → same key; any real change → new key. */
#include "test.h"

#include "builder/spec/envkey.h"
#include "builder/spec/spec.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/amlpkg-test-envkey-XXXXXX";

static void write_file(const char *name, const char *text)
{
    char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* The key of a spec whose environment section is text; "" on error. */
static const char *key_of(const char *environment)
{
    static char keys[4][ENVKEY_HEX_SIZE];
    static int next;
    char *out = keys[next++ % 4];
    char text[8192], path[300];
    snprintf(text, sizeof text, "models:\n  - {name: a, version: 1, path: m.onnx}\n%s", environment);
    write_file("spec.yaml", text);
    snprintf(path, sizeof path, "%s/spec.yaml", dir);
    struct spec *s = NULL;
    struct envkey k = {0};
    err_clear();
    out[0] = '\0';
    if (spec_read(&s, path, SPEC_READ_ENVIRONMENT) == 0 && envkey_compute(&k, &s->environment, "0.1.0") == 0)
        snprintf(out, ENVKEY_HEX_SIZE, "%s", k.hex);
    else
        printf("# %s\n", err_message(ERR_INVALID));
    envkey_release(&k);
    spec_free(s);
    return out;
}

static const char base[] = "environment:\n"
                           "  name: one\n"
                           "  base_image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04\n"
                           "  docker_steps:\n"
                           "    - RUN apt-get update && apt-get install -y libgomp1\n"
                           "    - ENV LANG=C.UTF-8\n"
                           "  env:\n"
                           "    OMP_NUM_THREADS: '4'\n"
                           "    MODE: fast\n"
                           "  conda:\n"
                           "    channels:\n"
                           "      - conda-forge\n"
                           "      - defaults\n"
                           "    dependencies:\n"
                           "      - python=3.9\n"
                           "      - numpy>=1.20\n"
                           "      - scikit-learn==1.0.2\n"
                           "      - pip:\n"
                           "          - azureml-defaults==1.40.0\n"
                           "          - requests>=2.0\n";

TEST(key_is_64_hex_and_differs_from_the_default)
{
    const char *k = key_of(base);
    CHECK_EQ_INT(strlen(k), 64);
    for (const char *p = k; *p; p++)
        CHECK((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
    const char *none = key_of("");
    CHECK_EQ_INT(strlen(none), 64);
    CHECK(strcmp(k, none) != 0);
}

TEST(key_ignores_formatting_order_and_names)
{
    char want[ENVKEY_HEX_SIZE];
    snprintf(want, sizeof want, "%s", key_of(base));
    /* Reordered deps, pip deps and env vars; comments; quoting; other
     * indentation; a different environment name; spacing inside specs. */
    CHECK_STR(key_of("environment:   # the runtime\n"
                     "    name: two\n"
                     "    env:\n"
                     "        MODE: \"fast\"\n"
                     "        OMP_NUM_THREADS: 4   # threads\n"
                     "    docker_steps:\n"
                     "        - \"RUN  apt-get update  &&   apt-get install -y libgomp1  \"\n"
                     "        - '# a comment line is not a step'\n"
                     "        - ENV  LANG=C.UTF-8\n"
                     "    conda:\n"
                     "        dependencies:\n"
                     "            - pip:\n"
                     "                - Requests >= 2.0\n"
                     "                - azureml_defaults==1.40.0\n"
                     "            - 'Scikit-Learn ==1.0.2'\n"
                     "            - numpy >=1.20\n"
                     "            - python=3.9\n"
                     "            - numpy>=1.20\n"
                     "        channels:\n"
                     "            - conda-forge\n"
                     "            - defaults\n"
                     "    base_image: 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04'\n"),
              want);
    /* Flow style throughout, and the steps as one block string. */
    CHECK_STR(key_of("environment: {base_image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04,\n"
                     "  env: {MODE: fast, OMP_NUM_THREADS: '4'},\n"
                     "  docker_steps: \"RUN apt-get update && apt-get install -y libgomp1\\nENV LANG=C.UTF-8\",\n"
                     "  conda: {channels: [conda-forge, defaults],\n"
                     "          dependencies: [numpy>=1.20, python=3.9, scikit-learn==1.0.2,\n"
                     "                         {pip: [requests>=2.0, azureml-defaults==1.40.0]}]}}\n"),
              want);
    CHECK_STR(key_of("environment:\n"
                     "  base_image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04\n"
                     "  docker_steps: |\n"
                     "    RUN apt-get update && apt-get install -y libgomp1\n"
                     "\n"
                     "    ENV LANG=C.UTF-8\n"
                     "  env: {MODE: fast, OMP_NUM_THREADS: '4'}\n"
                     "  conda_file: env.yml\n"),
              want);
}

TEST(key_changes_with_meaning)
{
    char want[ENVKEY_HEX_SIZE];
    snprintf(want, sizeof want, "%s", key_of(base));
    struct {
        const char *from, *to;
    } edits[] = {
        {"numpy>=1.20", "numpy>=1.21"},                                                         /* a version */
        {"      - python=3.9\n", "      - python=3.9\n      - pandas\n"},                       /* a new dep */
        {"      - conda-forge\n      - defaults\n", "      - defaults\n      - conda-forge\n"}, /* channel order */
        {"      - conda-forge\n", "      - pytorch\n"},                                         /* a channel */
        {"ENV LANG=C.UTF-8", "ENV LANG=C"},                                                     /* a step */
        {"openmpi4.1.0-ubuntu20.04", "openmpi4.1.0-ubuntu22.04"},                               /* the base image */
        {"requests>=2.0", "requests>=2.1"},                                                     /* a pip version */
        {"          - requests>=2.0\n", "          - requests>=2.0\n          - flask\n"},      /* a pip dep */
        {"MODE: fast", "MODE: slow"},                                                           /* an env var value */
        {"  name: one\n", "  name: one\n  gpu: {enabled: true}\n"},                             /* GPU */
        {"  name: one\n", "  name: one\n  python: {interpreter_path: python3}\n"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char text[4096];
        const char *at = strstr(base, edits[i].from);
        CHECK(at != NULL);
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - base), base, edits[i].to, at + strlen(edits[i].from));
        const char *k = key_of(text);
        CHECK_EQ_INT(strlen(k), 64);
        if (!strcmp(k, want))
            printf("# edit %zu did not change the key\n", i);
        CHECK(strcmp(k, want) != 0);
    }
    CHECK(strcmp(key_of("environment: {base_image: cuda, gpu: {enabled: true, cuda_version: '11.8'}}\n"),
                 key_of("environment: {base_image: cuda, gpu: {enabled: true, cuda_version: '12.1'}}\n")) != 0);
    /* GPU without a base image: Azure ML's default GPU image, the same as naming it. */
    CHECK_STR(key_of("environment: {gpu: {enabled: true}}\n"),
              key_of("environment: {base_image: '" SPEC_DEFAULT_GPU_BASE_IMAGE "', gpu: {enabled: true}}\n"));
    /* A different runtime version is a different image. */
    struct spec_environment e = {.base_image = "scratch", .python_interpreter = "python"};
    struct envkey a = {0}, b = {0};
    CHECK_EQ_INT(envkey_compute(&a, &e, "0.1.0"), 0);
    CHECK_EQ_INT(envkey_compute(&b, &e, "0.2.0"), 0);
    int differ = strcmp(a.hex, b.hex) != 0;
    envkey_release(&a);
    envkey_release(&b);
    CHECK(differ);
}

TEST(step_lines_are_normalised)
{
    struct buf b;
    buf_init(&b, 0);
    const char *line = "  RUN   echo  \"a   b\"\t 'c  d'   ";
    CHECK_EQ_INT(envkey_normalise_step_line(&b, line, strlen(line)), 0);
    CHECK_EQ_INT(buf_append(&b, "", 0), 0);
    CHECK_STR(b.data, "RUN echo \"a   b\" 'c  d'");
    buf_reset(&b);
    CHECK_EQ_INT(envkey_normalise_step_line(&b, "   # note", 9), 0);
    CHECK_EQ_INT(b.len, 0);
    buf_release(&b);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    write_file("m.onnx", "x");
    write_file("env.yml", "name: from-a-file\n"
                          "channels: [conda-forge, defaults]\n"
                          "dependencies:\n"
                          "  - scikit-learn==1.0.2\n"
                          "  - python=3.9\n"
                          "  - pip: [requests>=2.0, azureml-defaults==1.40.0]\n"
                          "  - numpy>=1.20\n");
    RUN(key_is_64_hex_and_differs_from_the_default);
    RUN(key_ignores_formatting_order_and_names);
    RUN(key_changes_with_meaning);
    RUN(step_lines_are_normalised);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    TEST_EXIT();
}
