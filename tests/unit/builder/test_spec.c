/* spec.yaml loading: defaults, validation, and error messages with lines. */
#include "test.h"

#include "builder/spec.h"
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
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    TEST_EXIT();
}
