/* path_join: the one "dir/name" rule (empty and "." directories, trailing slashes) and the bounded
 * form's snprintf-like truncation. */
#include "test.h"

#include "common/path.h"

static int joins_to(const char *dir, const char *name, const char *want)
{
    char *got = path_join(dir, name);
    char buf[64];
    size_t n = path_join_into(buf, sizeof buf, dir, name);
    int ok = got && !strcmp(got, want) && n == strlen(want) && !strcmp(buf, want);
    free(got);
    return ok;
}

TEST(joins)
{
    CHECK(joins_to("a", "b", "a/b"));
    CHECK(joins_to("/var/lib", "x.db", "/var/lib/x.db"));
    CHECK(joins_to("a/", "b", "a/b"));
    CHECK(joins_to("/", "etc", "/etc"));
    CHECK(joins_to("", "b", "b"));
    CHECK(joins_to(NULL, "b", "b"));
    CHECK(joins_to(".", "b", "b"));
    CHECK(joins_to("./", "b", "./b"));
    CHECK(joins_to("..", "b", "../b"));
    CHECK(joins_to("a", "", "a/"));
    CHECK(joins_to("a", "b/c", "a/b/c"));
}

TEST(bounded_form_truncates_like_snprintf)
{
    char buf[6];
    CHECK_EQ_INT(path_join_into(buf, sizeof buf, "abc", "def"), 7);
    CHECK_STR(buf, "abc/d");
    CHECK_EQ_INT(path_join_into(buf, 4, "abc", "def"), 7);
    CHECK_STR(buf, "abc");
    CHECK_EQ_INT(path_join_into(buf, 1, "abc", "def"), 7);
    CHECK_STR(buf, "");
    CHECK_EQ_INT(path_join_into(NULL, 0, "abc", "def"), 7);
    CHECK_EQ_INT(path_join_into(buf, sizeof buf, "ab", "cd"), 5);
    CHECK_STR(buf, "ab/cd");
}

int main(void)
{
    RUN(joins);
    RUN(bounded_form_truncates_like_snprintf);
    TEST_EXIT();
}
