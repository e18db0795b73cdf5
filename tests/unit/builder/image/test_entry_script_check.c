/* The entry script check with the host's real Python: messages name file and line; nothing is imported. */
#include "builder/image/entry_script_check.h"
#include "common/err.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/amlpkg-escheck.XXXXXX";
static char path[256];

/* Writes text to score.py and checks it; returns the check's result. */
static int check_text(const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1000;
    fputs(text, f);
    fclose(f);
    err_clear();
    return entry_script_check(path);
}

static int message_has(const char *needle)
{
    return strstr(err_message(ERR_INVALID), needle) != NULL;
}

TEST(good_script_passes_without_importing)
{
    CHECK_EQ_INT(check_text("import surely_not_installed\n"
                            "raise SystemExit(3)\n"
                            "def init():\n    pass\n"
                            "def run(data, request_headers=None):\n    return data\n"),
                 0);
}

TEST(conditional_and_imported_run_pass)
{
    CHECK_EQ_INT(check_text("try:\n    from fast import run\nexcept ImportError:\n    def run(raw):\n        return raw\n"),
                 0);
    CHECK_EQ_INT(check_text("from azureml.contrib.services.aml_request import rawhttp\n"
                            "def _run(request):\n    return 1\nrun = rawhttp(_run)\n"),
                 0);
}

TEST(syntax_error_names_the_line)
{
    CHECK_EQ_INT(check_text("def run(data):\n    return (\n\n"), ERR_INVALID);
    char want[300];
    snprintf(want, sizeof want, "%s:2: syntax error", path);
    CHECK(message_has(want));
}

TEST(missing_run)
{
    CHECK_EQ_INT(check_text("def init():\n    pass\n"), ERR_INVALID);
    CHECK(message_has("no top-level run()"));
}

TEST(run_signatures_azure_refuses)
{
    CHECK_EQ_INT(check_text("\ndef run(data, /):\n    pass\n"), ERR_INVALID);
    CHECK(message_has(":2: run() cannot accept positional-only arguments"));
    CHECK_EQ_INT(check_text("def run():\n    pass\n"), ERR_INVALID);
    CHECK(message_has(":1: run() needs to accept an argument for input data"));
    CHECK_EQ_INT(check_text("def run(request_headers):\n    pass\n"), ERR_INVALID);
    CHECK_EQ_INT(check_text("async def run(data):\n    pass\n"), ERR_INVALID);
    CHECK(message_has("run() is async"));
}

TEST(init_rules)
{
    CHECK_EQ_INT(check_text("def init(path='m.pkl'):\n    pass\ndef run(d):\n    return d\n"), 0);
    CHECK_EQ_INT(check_text("def run(d):\n    return d\ninit = None\n"), ERR_INVALID);
    CHECK(message_has(":3: init is not a function"));
    CHECK_EQ_INT(check_text("def run(d):\n    return d\ndef init(model):\n    pass\n"), ERR_INVALID);
    CHECK(message_has(":3: init() must work without arguments"));
}

TEST(unreadable_script)
{
    err_clear();
    CHECK_EQ_INT(entry_script_check("/nonexistent/score.py"), ERR_INVALID);
    CHECK(message_has("/nonexistent/score.py: cannot read it"));
}

int main(void)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("SKIP entry_script_check: /usr/bin/python3 is not installed\n");
        return 0;
    }
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/score.py", dir);
    RUN(good_script_passes_without_importing);
    RUN(conditional_and_imported_run_pass);
    RUN(syntax_error_names_the_line);
    RUN(missing_run);
    RUN(run_signatures_azure_refuses);
    RUN(init_rules);
    RUN(unreadable_script);
    unlink(path);
    rmdir(dir);
    TEST_EXIT();
}
