/* Prefix replacement as conda does it: text everywhere, binary inside each C string with NUL padding, a
 * prefix too long for a binary placeholder refused; and the package lines of a lock. */
#include "builder/env/base_probe.h"
#include "builder/env/conda_prefix.h"
#include "builder/env/conda_pkg.h"
#include "builder/spec/conda_lockfile.h"
#include "common/err.h"
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t replace(struct buf *out, const char *data, size_t len, int binary)
{
    size_t count = 0;
    buf_reset(out);
    err_clear();
    if (conda_prefix_replace_buffer(out, &count, data, len, "/opt/placeholder_long", "/env", binary, "t"))
        return (size_t)-1;
    return count;
}

TEST(text_mode_replaces_everywhere)
{
    struct buf out;
    buf_init(&out, 0);
    const char *in = "a=/opt/placeholder_long/bin\nb=/opt/placeholder_long\n";
    CHECK_EQ_INT((int)replace(&out, in, strlen(in), 0), 2);
    CHECK(out.len == strlen("a=/env/bin\nb=/env\n") && !memcmp(out.data, "a=/env/bin\nb=/env\n", out.len));
    buf_release(&out);
}

TEST(binary_mode_keeps_length_and_pads)
{
    struct buf out;
    buf_init(&out, 0);
    static const char in[] = "\x7f"
                             "ELF\0/opt/placeholder_long/lib:/opt/placeholder_long/x\0tail";
    size_t n = sizeof in - 1;
    CHECK_EQ_INT((int)replace(&out, in, n, 1), 2);
    CHECK_EQ_INT((int)out.len, (int)n);
    static const char want[] = "\x7f"
                               "ELF\0/env/lib:/env/x";
    CHECK(!memcmp(out.data, want, sizeof want - 1));
    for (size_t i = sizeof want - 1; i < n - 5; i++)
        CHECK(out.data[i] == '\0');
    CHECK(!memcmp(out.data + n - 5, "\0tail", 5));
    buf_release(&out);
}

TEST(binary_prefix_too_long_is_refused)
{
    struct buf out;
    buf_init(&out, 0);
    size_t count;
    err_clear();
    CHECK(conda_prefix_replace_buffer(&out, &count, "\0/p\0", 4, "/p", "/longer", 1, "pkg: lib/x") == ERR_INVALID);
    CHECK(strstr(err_message(0), "pkg: lib/x: binary prefix replacement") != NULL);
    buf_release(&out);
}

TEST(has_prefix_lines)
{
    struct conda_pkg_info info;
    err_clear();
    int rc = conda_pkg_info_parse(&info, "{\"name\":\"a\",\"version\":\"1\",\"build\":\"0\"}", NULL,
                                  "bin/x\netc/a b\nlib/y\n", "/ph binary bin/x\n\"/ph\" text \"etc/a b\"\nlib/y\n",
                                  NULL, "t");
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT((int)info.n_paths, 3);
    if (info.n_paths == 3) {
        CHECK(info.paths[0].binary && !strcmp(info.paths[0].placeholder, "/ph"));
        CHECK(!info.paths[1].binary && !strcmp(info.paths[1].placeholder, "/ph"));
        CHECK(!strcmp(info.paths[2].placeholder, CONDA_PKG_DEFAULT_PLACEHOLDER));
    }
    conda_pkg_info_release(&info);
    err_clear();
    CHECK(conda_pkg_info_parse(&info, "{\"name\":\"a\",\"version\":\"1\",\"build\":\"0\"}",
                               "{\"paths\":[{\"_path\":\"../etc/passwd\"}]}", NULL, NULL, NULL, "t") == ERR_INVALID);
    CHECK(strstr(err_message(0), "must be relative and stay inside the prefix") != NULL);
    conda_pkg_info_release(&info);
}

TEST(lock_entries)
{
    char text[600];
    snprintf(text, sizeof text,
             "# c\n@EXPLICIT\nhttps://h/conda-forge/linux-64/scikit-learn-1.4.0-py311_0.conda#%064d\n", 0);
    struct conda_lock_entry *e = NULL;
    size_t n = 0;
    err_clear();
    CHECK_EQ_INT(conda_lockfile_entries(&e, &n, text, "x.lock"), 0);
    CHECK_EQ_INT((int)n, 1);
    if (n == 1) {
        CHECK_STR(e[0].name, "scikit-learn");
        CHECK_STR(e[0].version, "1.4.0");
        CHECK_STR(e[0].build, "py311_0");
        CHECK_STR(e[0].subdir, "linux-64");
        CHECK_STR(e[0].channel, "https://h/conda-forge");
        CHECK_EQ_INT(e[0].line, 3);
    }
    conda_lockfile_entries_free(e, n);
    err_clear();
    CHECK(conda_lockfile_entries(&e, &n, "@EXPLICIT\nhttps://h/c/linux-64/a-1-0.conda\n", "x.lock") == ERR_INVALID);
    CHECK(strstr(err_message(0), "x.lock:2: expected a package line") != NULL);
}

/* rel resolved in stage (prefix /env): the landing path, or "ERR" when refused. */
static char *resolve(const char *stage, const char *rel)
{
    char *out = NULL;
    err_clear();
    if (conda_prefix_resolve_dirs(&out, stage, "/env", rel, "t"))
        return strdup("ERR");
    return out;
}

TEST(paths_through_linked_folders)
{
    char path[600];
    const char *tmp = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/amlpkg-unit-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    if (!dir)
        return;
    const char *links[][2] = {{"lib", NULL}, {"lib64", "lib"}, {"abs", "/env/lib"}, {"out", "/etc"},
                              {"up", "../.."}, {"loop", "loop"}, {"deep/x", NULL}, {"deep/sib", "../lib"}};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, links[i][0]);
        if (!links[i][1])
            CHECK(mkdir(path, 0755) == 0);
        else
            CHECK(symlink(links[i][1], path) == 0);
        if (!strcmp(links[i][0], "lib")) {
            snprintf(path, sizeof path, "%s/deep", dir);
            CHECK(mkdir(path, 0755) == 0);
        }
    }
    const char *cases[][2] = {{"lib64/a.so", "lib/a.so"},       {"abs/a.so", "lib/a.so"},
                              {"deep/sib/a.so", "lib/a.so"},    {"bin/tool", "bin/tool"},
                              {"lib64", "lib64"},               {"out/passwd", "ERR"},
                              {"up/x", "ERR"},                  {"loop/x", "ERR"},
                              {"lib64/sub/dir/f", "lib/sub/dir/f"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = resolve(dir, cases[i][0]);
        if (strcmp(got, cases[i][1]))
            fprintf(stderr, "    %s -> %s, want %s\n", cases[i][0], got, cases[i][1]);
        CHECK(!strcmp(got, cases[i][1]));
        free(got);
    }
    err_clear();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

TEST(glibc_banner)
{
    char v[32];
    const char a[] = "\x7f" "ELF\0GNU C Library (Debian GLIBC 2.36-9+deb12u4) stable release version 2.36.\nCopyright";
    CHECK(!base_probe_glibc_banner(v, sizeof v, a, sizeof a - 1) && !strcmp(v, "2.36"));
    const char b[] = "release version 2\0 release version 2.31.";
    CHECK(!base_probe_glibc_banner(v, sizeof v, b, sizeof b - 1) && !strcmp(v, "2.31"));
    const char c[] = "musl libc (x86_64) Version 1.2.4";
    CHECK(base_probe_glibc_banner(v, sizeof v, c, sizeof c - 1) == 1);
    const char d[] = "release version ";
    CHECK(base_probe_glibc_banner(v, sizeof v, d, sizeof d - 1) == 1);
}

int main(void)
{
    RUN(paths_through_linked_folders);
    RUN(glibc_banner);
    RUN(text_mode_replaces_everywhere);
    RUN(binary_mode_keeps_length_and_pads);
    RUN(binary_prefix_too_long_is_refused);
    RUN(has_prefix_lines);
    RUN(lock_entries);
    return test_failures ? 1 : 0;
}
