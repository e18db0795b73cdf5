/* base_image_scan_layer: which tar entries a base layer may hold. */
#include "builder/env/base_image.h"
#include "builder/sys/digest.h"
#include "common/err.h"
#include "test.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/amlpkg-test-base-XXXXXX";
static char path[256];

struct entry {
    const char *name;
    mode_t type;
    const char *link; /* symlink target, or hard link target with type 0 */
};

/* Writes a plain tar of entries to path (gzip when gz). */
static int write_tar(const struct entry *e, size_t n, int gz)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (gz)
        archive_write_add_filter_gzip(a);
    if (archive_write_open_filename(a, path) != ARCHIVE_OK)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *ae = archive_entry_new();
        archive_entry_set_pathname(ae, e[i].name);
        archive_entry_set_perm(ae, 0644);
        if (e[i].type == 0 && e[i].link) {
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_hardlink(ae, e[i].link);
        } else {
            archive_entry_set_filetype(ae, e[i].type);
            if (e[i].type == AE_IFLNK)
                archive_entry_set_symlink(ae, e[i].link);
            if (e[i].type == AE_IFREG)
                archive_entry_set_size(ae, 3);
        }
        archive_write_header(a, ae);
        if (e[i].type == AE_IFREG)
            archive_write_data(a, "hi\n", 3);
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
    return 0;
}

/* 0 when the layer is accepted; the error code otherwise (message cleared). */
static int scan(const struct entry *e, size_t n)
{
    if (write_tar(e, n, 0))
        return -100;
    int rc = base_image_scan_layer(path, "layer", NULL);
    err_clear();
    return rc;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

TEST(accepts_ordinary_layers)
{
    struct entry e[] = {
        {"bin", AE_IFDIR, NULL},
        {"bin/busybox", AE_IFREG, NULL},
        {"bin/sh", AE_IFLNK, "busybox"},
        {"etc/alt", AE_IFLNK, "/bin/sh"},
        {"usr/lib/x", AE_IFLNK, "../../bin/busybox"},
        {"./etc/hard", 0, "bin/busybox"},
        {"etc/.wh.gone", AE_IFREG, NULL},
        {"run/fifo", AE_IFIFO, NULL},
    };
    CHECK_EQ_INT(scan(e, N(e)), 0);
}

TEST(refuses_paths_leaving_the_root)
{
    struct entry dotdot[] = {{"etc/../../evil", AE_IFREG, NULL}};
    CHECK_EQ_INT(scan(dotdot, 1), ERR_INVALID);
    struct entry absolute[] = {{"/etc/evil", AE_IFREG, NULL}};
    CHECK_EQ_INT(scan(absolute, 1), ERR_INVALID);
}

TEST(refuses_links_leaving_the_root)
{
    struct entry up[] = {{"a/b", AE_IFLNK, "../../c"}};
    CHECK_EQ_INT(scan(up, 1), ERR_INVALID);
    struct entry top[] = {{"x", AE_IFLNK, ".."}};
    CHECK_EQ_INT(scan(top, 1), ERR_INVALID);
    struct entry dots[] = {{"./a/./b", AE_IFLNK, "./../../x"}};
    CHECK_EQ_INT(scan(dots, 1), ERR_INVALID);
    struct entry inside[] = {{"a/b/c", AE_IFLNK, "../../x/../y"}};
    CHECK_EQ_INT(scan(inside, 1), 0);
    struct entry hard[] = {{"a", 0, "../x"}};
    CHECK_EQ_INT(scan(hard, 1), ERR_INVALID);
    struct entry hard_abs[] = {{"a", 0, "/etc/passwd"}};
    CHECK_EQ_INT(scan(hard_abs, 1), ERR_INVALID);
}

TEST(refuses_device_files)
{
    struct entry chr[] = {{"dev/null", AE_IFCHR, NULL}};
    CHECK_EQ_INT(scan(chr, 1), ERR_INVALID);
    struct entry blk[] = {{"dev/sda", AE_IFBLK, NULL}};
    CHECK_EQ_INT(scan(blk, 1), ERR_INVALID);
}

TEST(checks_the_diff_id_of_a_gzip_layer)
{
    struct entry e[] = {{"etc/hello", AE_IFREG, NULL}};
    CHECK(write_tar(e, 1, 0) == 0);
    FILE *f = fopen(path, "rb");
    CHECK(f);
    static char data[1 << 16];
    size_t n = fread(data, 1, sizeof data, f);
    fclose(f);
    char want[DIGEST_STRING_SIZE];
    CHECK(digest_buffer(want, data, n) == 0);
    CHECK(write_tar(e, 1, 1) == 0);
    CHECK_EQ_INT(base_image_scan_layer(path, "layer", want), 0);
    want[10] = want[10] == 'a' ? 'b' : 'a';
    CHECK_EQ_INT(base_image_scan_layer(path, "layer", want), ERR_MISMATCH);
    CHECK(strstr(err_message(ERR_MISMATCH), "rootfs.diff_ids"));
    err_clear();
}

TEST(refuses_a_truncated_layer)
{
    struct entry e[] = {{"a", AE_IFREG, NULL}, {"b", AE_IFREG, NULL}, {"c", AE_IFREG, NULL}};
    CHECK(write_tar(e, 3, 1) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK(truncate(path, st.st_size / 2) == 0);
    CHECK(base_image_scan_layer(path, "layer", NULL) != 0);
    err_clear();
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/layer.tar", dir);
    RUN(accepts_ordinary_layers);
    RUN(refuses_paths_leaving_the_root);
    RUN(refuses_links_leaving_the_root);
    RUN(refuses_device_files);
    RUN(checks_the_diff_id_of_a_gzip_layer);
    RUN(refuses_a_truncated_layer);
    unlink(path);
    rmdir(dir);
    return test_failures ? 1 : 0;
}
