/* Re-writing an engine's layer: the same entries in any order, with any
 * times and names, give the same bytes; the engine's own files go; owners,
 * modes, links and the xattrs a step set stay; a hard link that sorts before
 * its target takes the data. layer_gzip keeps a plain layer's diff_id. */
#include "builder/image/layer_normalise.h"
#include "builder/sys/digest.h"
#include "builder/sys/fsutil.h"
#include "common/err.h"
#include "test.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[] = "/tmp/amlpkg-test-normalise-XXXXXX";

struct spec_entry {
    const char *path;
    unsigned type, perm;
    int uid;
    const char *body, *link; /* link: a symlink's target, or a hard link's with type 0 */
};

/* Writes entries (in the order given) into a tar at path, with the time and names given. */
static int write_tar(const char *path, const struct spec_entry *v, size_t n, time_t mtime, const char *uname)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (archive_write_open_filename(a, path) != ARCHIVE_OK)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, v[i].path);
        archive_entry_set_filetype(e, v[i].type ? v[i].type : AE_IFREG);
        archive_entry_set_perm(e, v[i].perm);
        archive_entry_set_uid(e, v[i].uid);
        archive_entry_set_gid(e, v[i].uid);
        archive_entry_set_uname(e, uname);
        archive_entry_set_mtime(e, mtime, 123);
        archive_entry_set_atime(e, mtime + 5, 0);
        if (v[i].type == AE_IFLNK)
            archive_entry_set_symlink(e, v[i].link);
        else if (v[i].link)
            archive_entry_set_hardlink(e, v[i].link);
        if (!strcmp(v[i].path, "opt/tool"))
            archive_entry_xattr_add_entry(e, "security.capability", "cap", 3);
        if (!strcmp(v[i].path, "var/cache"))
            archive_entry_xattr_add_entry(e, "trusted.overlay.opaque", "y", 1);
        archive_entry_xattr_add_entry(e, "security.selinux", "label", 5);
        size_t len = v[i].body && !v[i].link ? strlen(v[i].body) : 0;
        archive_entry_set_size(e, (la_int64_t)len);
        archive_write_header(a, e);
        if (len)
            archive_write_data(a, v[i].body, len);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return 0;
}

static const struct spec_entry entries[] = {
    {"opt", AE_IFDIR, 0755, 0, NULL, NULL},
    {"opt/zz-data", 0, 0600, 0, "hello", NULL},
    {"opt/aa-link", 0, 0600, 0, NULL, "opt/zz-data"}, /* sorts before its target */
    {"opt/owned", AE_IFDIR, 01777, 1000, NULL, NULL},
    {"opt/tool", 0, 04755, 0, "#!/bin/sh\n", NULL},
    {"opt/sym", AE_IFLNK, 0777, 0, NULL, "tool"},
    {"opt/dup", 0, 0644, 0, "first", NULL},
    {"opt/dup", 0, 0644, 0, "second", NULL}, /* the later one wins */
    {"etc", AE_IFDIR, 0755, 0, NULL, NULL},
    {"etc/hosts", 0, 0755, 0, "", NULL}, /* the engine's mount point */
    {"etc/.wh.motd", 0, 0, 0, "", NULL},
    {"run", AE_IFDIR, 0755, 0, NULL, NULL},
    {"run/.containerenv", 0, 0644, 0, "engine=podman", NULL},
    {"var", AE_IFDIR, 0755, 0, NULL, NULL},
    {"var/cache", AE_IFDIR, 0755, 0, NULL, NULL}, /* overlay's opaque mark, as an xattr */
};
#define N_ENTRIES (sizeof entries / sizeof entries[0])

static int normalise(struct oci_blob *out, const char *in)
{
    size_t dropped = 0;
    int rc = layer_normalise(out, in, root, 0, 6, "test layer", &dropped);
    return rc ? rc : (int)dropped;
}

TEST(order_times_and_names_do_not_matter)
{
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/a.tar", root);
    snprintf(b, sizeof b, "%s/b.tar", root);
    struct spec_entry reversed[N_ENTRIES];
    for (size_t i = 0; i < N_ENTRIES; i++)
        reversed[i] = entries[N_ENTRIES - 1 - i];
    /* Reversed, the hard link comes first: keep it after its target, and the duplicates in order. */
    for (size_t i = 0; i < N_ENTRIES; i++) {
        if (!strcmp(reversed[i].path, "opt/aa-link")) {
            struct spec_entry t = reversed[i];
            reversed[i] = reversed[i - 1];
            reversed[i - 1] = t;
        }
    }
    for (size_t i = 0; i + 1 < N_ENTRIES; i++)
        if (!strcmp(reversed[i].path, "opt/dup") && !strcmp(reversed[i + 1].path, "opt/dup")) {
            struct spec_entry t = reversed[i];
            reversed[i] = reversed[i + 1];
            reversed[i + 1] = t;
        }
    CHECK_EQ_INT(write_tar(a, entries, N_ENTRIES, 1700000000, "root"), 0);
    CHECK_EQ_INT(write_tar(b, reversed, N_ENTRIES, 1800000000, "builder"), 0);
    struct oci_blob x, y;
    CHECK_EQ_INT(normalise(&x, a), 2); /* etc/hosts and run/.containerenv */
    CHECK_EQ_INT(normalise(&y, b), 2);
    CHECK_STR(x.digest, y.digest);
    CHECK_STR(x.diff_id, y.diff_id);
    CHECK_STR(x.media_type, OCI_MEDIA_TYPE_LAYER_GZIP);
    unlink(x.path);
    unlink(y.path);
    oci_blob_release(&x);
    oci_blob_release(&y);
}

TEST(what_the_steps_made_stays)
{
    char in[300];
    snprintf(in, sizeof in, "%s/c.tar", root);
    CHECK_EQ_INT(write_tar(in, entries, N_ENTRIES, 1700000000, "root"), 0);
    struct oci_blob out;
    CHECK_EQ_INT(normalise(&out, in), 2);
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    CHECK(archive_read_open_filename(a, out.path, 1 << 16) == ARCHIVE_OK);
    static const char *const want[] = {"etc",     "etc/.wh.motd", "opt",     "opt/aa-link", "opt/dup",
                                       "opt/owned", "opt/sym",    "opt/tool", "opt/zz-data", "run",
                                       "var",       "var/cache",  "var/cache/.wh..wh..opq"};
    struct archive_entry *e;
    size_t i = 0;
    char body[32];
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        char name[64];
        snprintf(name, sizeof name, "%s", archive_entry_pathname(e));
        if (name[0] && name[strlen(name) - 1] == '/')
            name[strlen(name) - 1] = '\0'; /* directories are written "etc/" */
        CHECK(i < sizeof want / sizeof want[0]);
        CHECK_STR(name, want[i]);
        CHECK_EQ_INT(archive_entry_mtime(e), 0);
        CHECK(!archive_entry_atime_is_set(e));
        CHECK(!archive_entry_uname(e) || !archive_entry_uname(e)[0]);
        la_ssize_t got = archive_read_data(a, body, sizeof body - 1);
        body[got > 0 ? got : 0] = '\0';
        if (!strcmp(name, "opt/aa-link")) { /* first of its group in order: it holds the data */
            CHECK(!archive_entry_hardlink(e));
            CHECK_STR(body, "hello");
            CHECK_EQ_INT(archive_entry_perm(e), 0600);
        } else if (!strcmp(name, "opt/zz-data")) {
            CHECK(archive_entry_hardlink(e) && !strcmp(archive_entry_hardlink(e), "opt/aa-link"));
        } else if (!strcmp(name, "opt/dup")) {
            CHECK_STR(body, "second");
        } else if (!strcmp(name, "opt/owned")) {
            CHECK_EQ_INT(archive_entry_uid(e), 1000);
            CHECK_EQ_INT(archive_entry_perm(e), 01777);
        } else if (!strcmp(name, "opt/tool")) {
            CHECK_EQ_INT(archive_entry_perm(e), 04755);
            const char *xname;
            const void *value;
            size_t size;
            /* The capability (read back once per pax form); the SELinux label is gone. */
            CHECK(archive_entry_xattr_reset(e) >= 1);
            while (archive_entry_xattr_next(e, &xname, &value, &size) == ARCHIVE_OK)
                CHECK_STR(xname, "security.capability");
        } else if (!strcmp(name, "var/cache")) {
            CHECK_EQ_INT(archive_entry_xattr_reset(e), 0); /* the mark is the .wh..wh..opq entry now */
        } else if (!strcmp(name, "opt/sym")) {
            CHECK_STR(archive_entry_symlink(e), "tool");
        }
        i++;
    }
    CHECK_EQ_INT(i, sizeof want / sizeof want[0]);
    archive_read_free(a);
    unlink(out.path);
    oci_blob_release(&out);
}

TEST(a_hard_link_to_nothing_is_refused)
{
    char in[300];
    snprintf(in, sizeof in, "%s/d.tar", root);
    static const struct spec_entry bad[] = {{"a", 0, 0644, 0, NULL, "missing"}};
    CHECK_EQ_INT(write_tar(in, bad, 1, 0, ""), 0);
    struct oci_blob out;
    CHECK(layer_normalise(&out, in, root, 0, 6, "test layer", NULL) == ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "hard link 'a' names 'missing'") != NULL);
    err_clear();
}

TEST(gzip_keeps_the_diff_id)
{
    char in[300], diff_id[DIGEST_STRING_SIZE];
    snprintf(in, sizeof in, "%s/e.tar", root);
    CHECK_EQ_INT(write_tar(in, entries, N_ENTRIES, 0, ""), 0);
    int64_t size;
    CHECK_EQ_INT(digest_file(in, diff_id, &size), 0);
    struct oci_blob x, y;
    CHECK_EQ_INT(layer_gzip(&x, in, diff_id, root, 6), 0);
    CHECK_EQ_INT(layer_gzip(&y, in, diff_id, root, 6), 0);
    CHECK_STR(x.diff_id, diff_id);
    CHECK_STR(x.digest, y.digest);
    char check[DIGEST_STRING_SIZE];
    CHECK_EQ_INT(digest_file(x.path, check, &size), 0);
    CHECK_STR(check, x.digest);
    CHECK_EQ_INT(size, x.size);
    unlink(x.path);
    unlink(y.path);
    oci_blob_release(&x);
    oci_blob_release(&y);
}

TEST(engine_noise_is_named)
{
    CHECK(layer_normalise_is_engine_noise("run/.containerenv", 1, 20));
    CHECK(layer_normalise_is_engine_noise("etc/resolv.conf", 1, 0));
    CHECK(!layer_normalise_is_engine_noise("etc/resolv.conf", 1, 40)); /* a step wrote it */
    CHECK(!layer_normalise_is_engine_noise("etc/hosts", 0, 0));       /* a directory is no mount point */
    CHECK(!layer_normalise_is_engine_noise("opt/hosts", 1, 0));
}

int main(void)
{
    if (!mkdtemp(root))
        return 1;
    RUN(order_times_and_names_do_not_matter);
    RUN(what_the_steps_made_stays);
    RUN(a_hard_link_to_nothing_is_refused);
    RUN(gzip_keeps_the_diff_id);
    RUN(engine_noise_is_named);
    fs_remove_tree(root);
    TEST_EXIT();
}
