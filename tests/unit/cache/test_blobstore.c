/* Blob files: staged, hashed, committed atomically, checked. */
#include "test.h"

#include "cache/blobstore.h"
#include "common/err.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/amlpkg-test-blobstore-XXXXXX";

/* sha256("hello\n") */
#define HELLO "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

static int count(void *ctx, const char *digest, int64_t size, time_t mtime)
{
    (void)digest;
    (void)size;
    (void)mtime;
    (*(int *)ctx)++;
    return 0;
}

TEST(stage_and_commit_a_buffer)
{
    struct blobstore bs;
    CHECK_EQ_INT(blobstore_init(&bs, dir), 0);
    struct blob_staged st;
    CHECK_EQ_INT(blobstore_stage_buffer(&bs, "hello\n", 6, &st), 0);
    CHECK_STR(st.digest, HELLO);
    CHECK_EQ_INT(st.size, 6);
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", st.tmp);
    CHECK_EQ_INT(access(tmp, F_OK), 0);
    CHECK_EQ_INT(blobstore_commit(&bs, &st), 0);
    CHECK(st.tmp == NULL && st.fd == -1);
    CHECK(access(tmp, F_OK) != 0);
    CHECK_EQ_INT(blobstore_check(&bs, HELLO), 0);
    /* Committing the same content again keeps one file and no temp. */
    CHECK_EQ_INT(blobstore_stage_buffer(&bs, "hello\n", 6, &st), 0);
    snprintf(tmp, sizeof tmp, "%s", st.tmp);
    CHECK_EQ_INT(blobstore_commit(&bs, &st), 0);
    CHECK(access(tmp, F_OK) != 0);
    int n = 0;
    CHECK_EQ_INT(blobstore_each(&bs, count, &n), 0);
    CHECK_EQ_INT(n, 1);
    blobstore_release(&bs);
}

TEST(stage_from_an_fd_and_detect_corruption)
{
    struct blobstore bs;
    CHECK_EQ_INT(blobstore_init(&bs, dir), 0);
    char src[300];
    snprintf(src, sizeof src, "%s/src", dir);
    FILE *f = fopen(src, "w");
    for (int i = 0; i < 100000; i++)
        fputs("0123456789", f);
    fclose(f);
    int fd = open(src, O_RDONLY);
    struct blob_staged st;
    char again[BLOB_DIGEST_SIZE], digest[BLOB_DIGEST_SIZE];
    CHECK_EQ_INT(blobstore_stage_fd(&bs, fd, &st), 0);
    close(fd);
    CHECK_EQ_INT(st.size, 1000000);
    CHECK_EQ_INT(blobstore_hash_file(src, again, NULL), 0);
    CHECK_STR(st.digest, again);
    snprintf(digest, sizeof digest, "%s", st.digest);
    CHECK_EQ_INT(blobstore_commit(&bs, &st), 0);
    char *path = blobstore_path(&bs, digest);
    CHECK(path != NULL);
    f = fopen(path, "r+");
    fputc('X', f);
    fclose(f);
    free(path);
    CHECK_EQ_INT(blobstore_check(&bs, digest), ERR_MISMATCH);
    CHECK_EQ_INT(blobstore_remove(&bs, digest), 0);
    CHECK_EQ_INT(blobstore_check(&bs, digest), ERR_NOTFOUND);
    CHECK_EQ_INT(blobstore_remove(&bs, digest), 0);
    blobstore_release(&bs);
}

TEST(digests_are_validated)
{
    struct blobstore bs;
    CHECK_EQ_INT(blobstore_init(&bs, dir), 0);
    CHECK(blobstore_valid_digest(HELLO));
    CHECK(!blobstore_valid_digest("sha256:../../etc/passwd"));
    CHECK(!blobstore_valid_digest("sha512:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"));
    CHECK(!blobstore_valid_digest("sha256:5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03"));
    CHECK(blobstore_path(&bs, "sha256:abc") == NULL);
    struct blob_staged bogus = {.fd = -1, .digest = "nope"};
    err_clear();
    CHECK_EQ_INT(blobstore_commit(&bs, &bogus), ERR_INVALID);
    err_clear();
    blobstore_release(&bs);
}

TEST(stale_temp_files_are_cleaned_live_ones_kept)
{
    struct blobstore bs;
    CHECK_EQ_INT(blobstore_init(&bs, dir), 0);
    struct blob_staged live;
    CHECK_EQ_INT(blobstore_stage_buffer(&bs, "x", 1, &live), 0);
    /* A dead writer's file: staged, then its lock dropped without commit. */
    struct blob_staged dead;
    CHECK_EQ_INT(blobstore_stage_buffer(&bs, "y", 1, &dead), 0);
    close(dead.fd);
    size_t removed = 0;
    CHECK_EQ_INT(blobstore_clean_temp(&bs, time(NULL) - 3600, &removed), 0);
    CHECK_EQ_INT(removed, 0); /* both too young */
    CHECK_EQ_INT(blobstore_clean_temp(&bs, time(NULL) + 10, &removed), 0);
    CHECK_EQ_INT(removed, 1); /* only the unlocked one */
    CHECK(access(dead.tmp, F_OK) != 0);
    CHECK_EQ_INT(access(live.tmp, F_OK), 0);
    free(dead.tmp);
    CHECK_EQ_INT(blobstore_commit(&bs, &live), 0);
    blobstore_release(&bs);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    RUN(stage_and_commit_a_buffer);
    RUN(stage_from_an_fd_and_detect_corruption);
    RUN(digests_are_validated);
    RUN(stale_temp_files_are_cleaned_live_ones_kept);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    TEST_EXIT();
}
