/* builder/deploy/kyaml.c: values that a YAML 1.1 or 1.2 reader would take for
 * something else are quoted; plain text stays plain. */
#include "builder/deploy/kyaml.h"

#include "test.h"

TEST(plain_text_stays_plain)
{
    CHECK(kyaml_plain_ok("ridge"));
    CHECK(kyaml_plain_ok("app.kubernetes.io/name"));
    CHECK(kyaml_plain_ok("registry.example.com:5000/ml/ridge@sha256:0123abcd"));
    CHECK(kyaml_plain_ok("500m"));
    CHECK(kyaml_plain_ok("/var/run/secrets/amlserve/keys"));
    CHECK(kyaml_plain_ok("16Gi"));
}

TEST(lookalikes_are_quoted)
{
    static const char *const quoted[] = {"true",      "False", "yes", "NO",    "on",  "off",  "y",
                                         "n",         "null",  "~",   "",      "1",   "5001", "0.7",
                                         "1e3",       "0x1F",  "010", "12:30", "-1",  "- x",  "a: b",
                                         "a:",        "#c",    "*x",  "&x",    "!x",  "|",    ">",
                                         "'q'",       "\"q\"", "%x",  "@x",    "`x",  "a b",  "tab\there",
                                         "new\nline", "{a}",   "[a]", "a,b",   "a#b", NULL};
    for (size_t i = 0; quoted[i]; i++)
        CHECK(!kyaml_plain_ok(quoted[i]));
}

TEST(writer_output)
{
    struct kyaml y;
    kyaml_init(&y);
    kyaml_comment(&y, 0, "one\n\ntwo");
    kyaml_key(&y, 0, "spec");
    kyaml_int(&y, 2, "replicas", 3);
    kyaml_str(&y, 2, "cpu", "1");
    kyaml_str(&y, 2, "query", "sum(x{a=\"b\"})");
    kyaml_str(&y, 2, "keys", "k1\nk2\n");
    kyaml_bool(&y, 2, "readOnly", 1);
    kyaml_key(&y, 2, "drop");
    kyaml_item(&y, 4, "ALL");
    kyaml_str(&y, 4, "- name", "http");
    CHECK(kyaml_done(&y) == 0);
    CHECK_STR(y.out.data, "# one\n#\n# two\nspec:\n  replicas: 3\n  cpu: \"1\"\n  query: 'sum(x{a=\"b\"})'\n"
                          "  keys: \"k1\\nk2\\n\"\n  readOnly: true\n  drop:\n    - ALL\n    - name: http\n");
    kyaml_release(&y);
}

int main(void)
{
    RUN(plain_text_stays_plain);
    RUN(lookalikes_are_quoted);
    RUN(writer_output);
    TEST_EXIT();
}
