/* The image-archive tar writer, read back by libarchive: every kind of entry,
 * bodies copied from a file range or already in place, and sizes of 8 GiB and
 * more in the base-256 field. */
#include "builder/image/tar_writer.h"
#include "common/err.h"
#include "test.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

static char path[] = "/tmp/amlpkg-test-tar-XXXXXX";

/* Reads the next entry of a and its body (up to cap bytes) into body. */
static int next(struct archive *a, struct archive_entry **e, char *body, size_t cap, la_ssize_t *got)
{
    if (archive_read_next_header(a, e) != ARCHIVE_OK)
        return -1;
    *got = archive_read_data(a, body, cap);
    return 0;
}

TEST(entries_read_back_by_libarchive)
{
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    /* The body of the in-place entry goes in first, leaving room for its header. */
    static const char in_place[] = "already here";
    CHECK(pwrite(fd, in_place, sizeof in_place - 1, TAR_BLOCK) == (ssize_t)sizeof in_place - 1);
    struct tar_writer t = {.fd = fd, .mtime = 1700000000, .target = path};
    CHECK_EQ_INT(tar_put_in_place(&t, "blobs/sha256/first", sizeof in_place - 1), 0);
    CHECK_EQ_INT(t.offset, 2 * TAR_BLOCK);
    CHECK_EQ_INT(tar_put_bytes(&t, "oci-layout", "{}", 2), 0);
    CHECK_EQ_INT(tar_put_dir(&t, "blobs"), 0);
    /* A range of another file: bytes 3..8 of "0123456789". */
    char src[] = "/tmp/amlpkg-test-tar-src-XXXXXX";
    int sfd = mkstemp(src);
    CHECK(sfd >= 0 && write(sfd, "0123456789", 10) == 10);
    CHECK_EQ_INT(tar_put_file_range(&t, "blobs/sha256/range", sfd, 3, 6), 0);
    close(sfd);
    unlink(src);
    CHECK_EQ_INT(tar_finish(&t), 0);
    CHECK_EQ_INT(t.offset % TAR_BLOCK, 0);
    close(fd);

    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    CHECK(archive_read_open_filename(a, path, 4096) == ARCHIVE_OK);
    struct archive_entry *e;
    char body[64];
    la_ssize_t got;
    CHECK_EQ_INT(next(a, &e, body, sizeof body, &got), 0);
    CHECK(!strcmp(archive_entry_pathname(e), "blobs/sha256/first") && got == 12 && !memcmp(body, in_place, 12));
    CHECK_EQ_INT(archive_entry_mtime(e), 1700000000);
    CHECK_EQ_INT(archive_entry_uid(e), 0);
    CHECK_EQ_INT(archive_entry_perm(e), 0644);
    CHECK_EQ_INT(next(a, &e, body, sizeof body, &got), 0);
    CHECK(!strcmp(archive_entry_pathname(e), "oci-layout") && got == 2 && !memcmp(body, "{}", 2));
    CHECK_EQ_INT(next(a, &e, body, sizeof body, &got), 0);
    CHECK(!strcmp(archive_entry_pathname(e), "blobs") && archive_entry_filetype(e) == AE_IFDIR);
    CHECK_EQ_INT(archive_entry_perm(e), 0755);
    CHECK_EQ_INT(next(a, &e, body, sizeof body, &got), 0);
    CHECK(!strcmp(archive_entry_pathname(e), "blobs/sha256/range") && got == 6 && !memcmp(body, "345678", 6));
    CHECK_EQ_INT(archive_read_next_header(a, &e), ARCHIVE_EOF);
    archive_read_free(a);
    unlink(path);
}

/* Sizes past the 11 octal digits of ustar (8 GiB) use base-256; libarchive
 * reads the header back with the same size. */
TEST(large_sizes_use_base_256)
{
    const int64_t sizes[] = {077777777777LL, 077777777777LL + 1, 9LL << 30, 3LL << 40};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char block[3 * TAR_BLOCK] = {0}; /* the header, then two zero blocks */
        CHECK_EQ_INT(tar_header(block, "big", '0', sizes[i], 0), 0);
        CHECK_EQ_INT(block[124] == 0x80, sizes[i] > 077777777777LL);
        struct archive *a = archive_read_new();
        archive_read_support_format_tar(a);
        CHECK(archive_read_open_memory(a, block, sizeof block) == ARCHIVE_OK);
        struct archive_entry *e;
        CHECK(archive_read_next_header(a, &e) == ARCHIVE_OK);
        CHECK_EQ_INT(archive_entry_size(e), sizes[i]);
        archive_read_free(a);
    }
}

TEST(bad_names_and_values_are_refused)
{
    unsigned char block[TAR_BLOCK];
    char long_name[120];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK_EQ_INT(tar_header(block, long_name, '0', 1, 0), ERR_LIMIT);
    err_clear();
    CHECK_EQ_INT(tar_header(block, "", '0', 1, 0), ERR_LIMIT);
    err_clear();
    CHECK_EQ_INT(tar_header(block, "x", '0', -1, 0), ERR_INVALID);
    err_clear();
}

int main(void)
{
    RUN(entries_read_back_by_libarchive);
    RUN(large_sizes_use_base_256);
    RUN(bad_names_and_values_are_refused);
    return test_failures ? 1 : 0;
}
