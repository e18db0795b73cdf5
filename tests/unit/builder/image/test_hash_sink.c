/* The layer writer's hashing sink: what it writes and hashes on its thread
 * equals the stream handed to it, in order; a failed write is reported with
 * the file's name; aborting mid-stream stops the thread. */
#include "builder/sys/digest.h"
#include "builder/image/hash_sink.h"
#include "common/err.h"
#include "test.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[] = "/tmp/amlpkg-test-sink-XXXXXX";

TEST(writes_and_hashes_the_stream_in_order)
{
    enum { TOTAL = 9 * 1024 * 1024 + 123 }; /* several buffers and a partial one */
    unsigned char *data = malloc(TOTAL), *back = malloc(TOTAL);
    CHECK(data && back);
    unsigned seed = 7;
    for (size_t i = 0; i < TOTAL; i++)
        data[i] = (unsigned char)((seed = seed * 1103515245 + 12345) >> 16);
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(lseek(fd, 512, SEEK_SET) == 512); /* written from the current offset */
    struct hash_sink *s;
    CHECK_EQ_INT(hash_sink_start(&s, fd, path), 0);
    for (size_t at = 0, step = 1; at < TOTAL; at += step, step = step * 3 % 1000003 + 1)
        CHECK_EQ_INT(hash_sink_write(s, data + at, at + step > TOTAL ? TOTAL - at : step), 0);
    char got[DIGEST_STRING_SIZE], want[DIGEST_STRING_SIZE];
    int64_t size;
    CHECK_EQ_INT(hash_sink_finish(s, got, &size), 0);
    CHECK_EQ_INT(size, TOTAL);
    CHECK_EQ_INT(digest_buffer(want, data, TOTAL), 0);
    CHECK(!strcmp(got, want));
    CHECK(pread(fd, back, TOTAL, 512) == TOTAL && !memcmp(back, data, TOTAL));
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == 512 + TOTAL);
    close(fd);
    unlink(path);
    free(data);
    free(back);
}

TEST(empty_stream)
{
    int fd = open("/dev/null", O_WRONLY);
    struct hash_sink *s;
    CHECK_EQ_INT(hash_sink_start(&s, fd, "/dev/null"), 0);
    char got[DIGEST_STRING_SIZE];
    int64_t size = -1;
    CHECK_EQ_INT(hash_sink_finish(s, got, &size), 0);
    CHECK_EQ_INT(size, 0);
    CHECK(!strcmp(got, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    close(fd);
}

TEST(a_failed_write_names_the_file)
{
    int fd = open("/dev/null", O_RDONLY); /* writes fail with EBADF */
    struct hash_sink *s;
    CHECK_EQ_INT(hash_sink_start(&s, fd, "layer-file"), 0);
    static unsigned char block[1 << 20];
    int rc = 0;
    for (int i = 0; i < 8 && !rc; i++)
        rc = hash_sink_write(s, block, sizeof block);
    char got[DIGEST_STRING_SIZE];
    int64_t size;
    if (!rc)
        rc = hash_sink_finish(s, got, &size);
    else
        hash_sink_abort(s);
    CHECK_EQ_INT(rc, ERR_IO);
    CHECK(strstr(err_message(rc), "layer-file: write failed") != NULL);
    err_clear();
    close(fd);
}

TEST(abort_mid_stream_stops_the_thread)
{
    int fd = open("/dev/null", O_WRONLY);
    struct hash_sink *s;
    CHECK_EQ_INT(hash_sink_start(&s, fd, "/dev/null"), 0);
    static unsigned char block[3 << 20];
    CHECK_EQ_INT(hash_sink_write(s, block, sizeof block), 0);
    hash_sink_abort(s);
    hash_sink_abort(NULL);
    close(fd);
}

int main(void)
{
    RUN(writes_and_hashes_the_stream_in_order);
    RUN(empty_stream);
    RUN(a_failed_write_names_the_file);
    RUN(abort_mid_stream_stops_the_thread);
    return test_failures ? 1 : 0;
}
