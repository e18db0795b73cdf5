/* Conda environment files: parsing, canonical forms, errors with line:column. */
#include "test.h"

#include "builder/spec/conda.h"
#include "common/err.h"

static int parse(struct conda_env **out, const char *text)
{
    err_clear();
    return conda_load_buffer(out, "env.yml", text, strlen(text));
}

static const char *canon_spec(const char *s)
{
    static char keep[256];
    char *c = NULL;
    const char *why;
    if (conda_canon_spec(&c, s, &why))
        return "(invalid)";
    snprintf(keep, sizeof keep, "%s", c);
    free(c);
    return keep;
}

static const char *canon_pip(const char *s)
{
    static char keep[256];
    char *c = NULL;
    const char *why;
    if (conda_canon_pip(&c, s, &why))
        return "(invalid)";
    snprintf(keep, sizeof keep, "%s", c);
    free(c);
    return keep;
}

TEST(reads_a_full_environment)
{
    struct conda_env *e = NULL;
    CHECK_EQ_INT(parse(&e, "name: myenv\n"
                           "channels:\n  - conda-forge\n  - defaults\n"
                           "dependencies:\n"
                           "  - python=3.8   # a comment\n"
                           "  - numpy >=1.20\n"
                           "  - pip\n"
                           "  - pip:\n"
                           "      - azureml-defaults\n"
                           "      - --extra-index-url  https://example.com/simple\n"
                           "      - Requests[Socks, security] >= 2.0 , <3\n"
                           "variables:\n  OMP_NUM_THREADS: 1\n"),
                 0);
    CHECK_STR(e->name, "myenv");
    CHECK_EQ_INT(e->n_channels, 2);
    CHECK_STR(e->channels[0], "conda-forge");
    CHECK_EQ_INT(e->n_deps, 3);
    CHECK_STR(e->deps[1].text, "numpy >=1.20");
    CHECK_STR(e->deps[1].canon, "numpy>=1.20");
    CHECK_EQ_INT(e->deps[1].line, 7);
    CHECK_EQ_INT(e->deps[1].column, 5);
    CHECK_EQ_INT(e->n_pip, 2);
    CHECK_STR(e->pip[1].canon, "requests[security,socks]<3,>=2.0");
    CHECK_EQ_INT(e->n_pip_options, 1);
    CHECK_STR(e->pip_options[0], "--extra-index-url https://example.com/simple");
    CHECK_EQ_INT(e->n_vars, 1);
    CHECK_STR(e->vars[0].name, "OMP_NUM_THREADS");
    CHECK_STR(e->vars[0].value, "1");
    conda_free(e);
}

TEST(conda_specs_are_canonical)
{
    CHECK_STR(canon_spec("NumPy >= 1.20"), "numpy>=1.20");
    CHECK_STR(canon_spec("numpy>=1.20"), "numpy>=1.20");
    CHECK_STR(canon_spec("numpy <2, >=1.20"), "numpy<2,>=1.20");
    CHECK_STR(canon_spec("numpy >=1.20,<2"), "numpy<2,>=1.20");
    CHECK_STR(canon_spec("python=3.8"), "python=3.8");
    CHECK_STR(canon_spec("numpy  1.20   py38_0"), "numpy 1.20 py38_0");
    CHECK_STR(canon_spec("Conda-Forge :: scikit-learn ==1.0"), "conda-forge::scikit-learn==1.0");
    CHECK_STR(canon_spec("pytorch[version='>=1.8', build=cuda*]"), "pytorch[version='>=1.8',build=cuda*]");
    /* Parts that are not operator+version are not reordered (found by fuzzing:
     * sorting moved "/x" next to the name). */
    CHECK_STR(canon_spec("nump=1.y> 20,/pkg-1.0.whl"), "nump=1.y>20,/pkg-1.0.whl");
    CHECK_STR(canon_spec(">=1.2"), "(invalid)");
    CHECK_STR(canon_spec("num$py"), "(invalid)");
    CHECK_STR(canon_spec("::numpy"), "(invalid)");
}

TEST(pip_requirements_are_canonical)
{
    CHECK_STR(canon_pip("Azure_ML.Defaults"), "azure-ml-defaults");
    CHECK_STR(canon_pip("scikit_learn == 1.0.2"), "scikit-learn==1.0.2");
    CHECK_STR(canon_pip("a (>=1, <2)"), "a<2,>=1");
    CHECK_STR(canon_pip("pkg ; python_version  <  \"3.8\""), "pkg; python_version < \"3.8\"");
    CHECK_STR(canon_pip("Pkg @ https://x.org/p.whl"), "pkg @ https://x.org/p.whl");
    CHECK_STR(canon_pip("git+https://github.com/o/r.git@v1#egg=r"), "git+https://github.com/o/r.git@v1#egg=r");
    CHECK_STR(canon_pip("a[B_c,b-c]"), "a[b-c]");
    CHECK_STR(canon_pip("a>=1,2"), "a>=1,2");
    CHECK_STR(canon_pip("-bad"), "(invalid)");
    CHECK_STR(canon_pip("pkg 1.0"), "(invalid)");
    CHECK_STR(canon_pip("pkg[a"), "(invalid)");
    CHECK_STR(canon_pip("pkg;"), "(invalid)");
}

TEST(errors_name_line_and_column)
{
    struct conda_env *e = NULL;
    CHECK_EQ_INT(parse(&e, "name: x\ndependencies:\n  - numpy\n  - '>=1.0'\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "env.yml:4:5: dependencies[1]: not a valid package spec: expected a package name"));
    CHECK_EQ_INT(parse(&e, "name: x\nchanels: [a]\n"), ERR_INVALID);
    CHECK(
        strstr(err_message(ERR_INVALID), "env.yml:2:1: document: unknown field 'chanels' (did you mean 'channels'?)"));
    CHECK_EQ_INT(parse(&e, "dependencies:\n  - pip:\n    - requests\n    - -r requirements.txt\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "env.yml:4:7: dependencies[0].pip[1]: '-r' names a file whose contents"));
    CHECK_EQ_INT(parse(&e, "dependencies:\n  - pipp: [a]\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "env.yml:2:5: dependencies[0]: unknown entry 'pipp' (did you mean 'pip'?)"));
    CHECK_EQ_INT(parse(&e, "dependencies: numpy\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "env.yml:1:15: dependencies: expected a list, found a scalar"));
    CHECK_EQ_INT(parse(&e, "dependencies:\n  - [a]\n"), ERR_INVALID);
    CHECK_EQ_INT(parse(&e, "variables:\n  1BAD: x\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "env.yml:2:3: variables.1BAD: not a valid variable name"));
    CHECK_EQ_INT(parse(&e, "dependencies:\n  - numpy\n  -\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "empty value"));
    CHECK_EQ_INT(parse(&e, "dependencies: [a, b\n"), ERR_PARSE);
    CHECK(strstr(err_message(ERR_PARSE), "env.yml:2:1:"));
    CHECK_EQ_INT(parse(&e, "- a\n- b\n"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "env.yml:1:1: document: expected a mapping, found a list"));
    CHECK(e == NULL);
    err_clear();
}

int main(void)
{
    RUN(reads_a_full_environment);
    RUN(conda_specs_are_canonical);
    RUN(pip_requirements_are_canonical);
    RUN(errors_name_line_and_column);
    TEST_EXIT();
}
