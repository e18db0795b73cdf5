/* Wheel file names and tags (PEP 425, 427, 600): which wheels a CPython 3.11 image on glibc 2.35 x86_64
 * takes, and in pip's order of preference. */
#include "builder/env/wheel_tags.h"
#include "test.h"

static const struct wheel_target t311 = {.py_major = 3, .py_minor = 11, .glibc_major = 2, .glibc_minor = 35,
                                         .arch = "x86_64"};

static long rank(const char *filename)
{
    struct wheel_filename w;
    const char *why;
    if (wheel_filename_parse(&w, filename, &why))
        return -2;
    return wheel_tags_rank(&t311, &w);
}

TEST(filenames)
{
    struct wheel_filename w;
    const char *why;
    CHECK(!wheel_filename_parse(&w, "Foo_Bar-1.0.post1-2-py2.py3-none-any.whl", &why));
    CHECK_STR(w.name, "foo-bar");
    CHECK_STR(w.version_text, "1.0.post1");
    CHECK_STR(w.build, "2");
    CHECK_STR(w.py, "py2.py3");
    CHECK_STR(w.plat, "any");
    static const char *const bad[] = {"foo-1.0.tar.gz", "foo-1.0-py3-none.whl", "foo-1.0-x-py3-none-any.whl",
                                      "foo-1.0-1-2-py3-none-any.whl", "foo-bogus-py3-none-any.whl", "-1.0-py3-none-any.whl",
                                      ".whl"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(wheel_filename_parse(&w, bad[i], &why) != 0);
}

TEST(compatibility)
{
    CHECK(rank("six-1.16.0-py2.py3-none-any.whl") >= 0);
    CHECK(rank("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl") == 18);
    CHECK(rank("x-1-cp311-cp311-manylinux_2_35_x86_64.whl") == 0);
    CHECK(rank("x-1-cp311-cp311-manylinux_2_38_x86_64.whl") == -1); /* needs a newer glibc than the base's */
    CHECK(rank("x-1-cp310-cp310-manylinux_2_17_x86_64.whl") == -1);
    CHECK(rank("x-1-cp312-cp312-manylinux_2_17_x86_64.whl") == -1);
    CHECK(rank("x-1-cp311-cp311-linux_x86_64.whl") == -1); /* not portable: refused */
    CHECK(rank("x-1-cp311-cp311-musllinux_1_1_x86_64.whl") == -1);
    CHECK(rank("x-1-cp311-cp311-manylinux2014_aarch64.whl") == -1);
    CHECK(rank("x-1-cp311-cp311-win_amd64.whl") == -1);
    CHECK(rank("x-1-py2-none-any.whl") == -1);
    CHECK(rank("x-1-cp38-abi3-manylinux2014_x86_64.whl") > 0);
    CHECK(rank("x-1-cp311-cp311-manylinux1_x86_64.whl") == rank("x-1-cp311-cp311-manylinux_2_5_x86_64.whl"));
    CHECK(rank("x-1-cp311-cp311-manylinux2010_x86_64.whl") == rank("x-1-cp311-cp311-manylinux_2_12_x86_64.whl"));
    struct wheel_target arm = t311;
    snprintf(arm.arch, sizeof arm.arch, "aarch64");
    struct wheel_filename w;
    const char *why;
    CHECK(!wheel_filename_parse(&w, "x-1-cp311-cp311-manylinux1_aarch64.whl", &why) && wheel_tags_rank(&arm, &w) == -1);
    CHECK(!wheel_filename_parse(&w, "x-1-cp311-cp311-manylinux2014_aarch64.whl", &why) && wheel_tags_rank(&arm, &w) == 18);
}

/* pip's order: the interpreter's own ABI, then abi3, then none; newer manylinux first; pure wheels last. */
TEST(preference)
{
    static const char *const order[] = {
        "x-1-cp311-cp311-manylinux_2_28_x86_64.whl", "x-1-cp311-cp311-manylinux2014_x86_64.whl",
        "x-1-cp311-abi3-manylinux_2_28_x86_64.whl",  "x-1-cp311-none-manylinux_2_17_x86_64.whl",
        "x-1-cp310-abi3-manylinux_2_17_x86_64.whl",  "x-1-cp37-abi3-manylinux1_x86_64.whl",
        "x-1-py311-none-manylinux_2_17_x86_64.whl",  "x-1-py3-none-manylinux_2_17_x86_64.whl",
        "x-1-cp311-none-any.whl",                    "x-1-py311-none-any.whl",
        "x-1-py3-none-any.whl",                      "x-1-py310-none-any.whl",
        "x-1-py30-none-any.whl"};
    for (size_t i = 1; i < sizeof order / sizeof order[0]; i++) {
        long a = rank(order[i - 1]), b = rank(order[i]);
        if (a < 0 || b < 0 || a >= b) {
            printf("FAIL preference: %s (%ld) before %s (%ld)\n", order[i - 1], a, order[i], b);
            test_failures++;
            test_current_failed = 1;
            return;
        }
    }
}

int main(void)
{
    RUN(filenames);
    RUN(compatibility);
    RUN(preference);
    return test_failures != 0;
}
