/* The layers' parallel gzip: the same bytes whatever the number of threads;
 * a series of members that gzip itself reads back as the input; a level change
 * ends a block there; an empty stream is still a gzip file; a failing writer
 * stops the stream with its error. */
#include "builder/image/gzip_blocks.h"
#include "common/err.h"
#include "test.h"

#include <libdeflate.h>
#include <unistd.h>

struct sink {
    unsigned char *data;
    size_t len, cap;
    int members;
    int fail_at; /* emit fails on this member (1-based); 0: never */
};

static int to_sink(void *ctx, const void *data, size_t len)
{
    struct sink *s = ctx;
    if (++s->members == s->fail_at)
        return err_set(ERR_IO, "disk full");
    if (s->len + len > s->cap) {
        size_t cap = (s->len + len) * 2;
        unsigned char *grown = realloc(s->data, cap);
        if (!grown)
            return err_set(ERR_NOMEM, "out of memory");
        s->data = grown;
        s->cap = cap;
    }
    memcpy(s->data + s->len, data, len);
    s->len += len;
    return 0;
}

enum { INPUT = 5 * GZIP_BLOCK_BYTES + 321, SWITCH_AT = 2 * GZIP_BLOCK_BYTES + 1000, BACK_AT = 3 * GZIP_BLOCK_BYTES };

/* Text-like bytes with a random stretch in the middle, as a layer of files and weights has. */
static unsigned char *make_input(void)
{
    unsigned char *in = malloc(INPUT);
    unsigned seed = 11;
    for (size_t i = 0; in && i < INPUT; i++) {
        seed = seed * 1103515245 + 12345;
        in[i] = i >= SWITCH_AT && i < BACK_AT ? (unsigned char)(seed >> 16) : (unsigned char)("layer tar "[i % 10] + (seed >> 29));
    }
    return in;
}

/* Writes in[from, to) in uneven pieces. */
static int write_range(struct gzip_blocks *g, const unsigned char *in, size_t from, size_t to)
{
    int rc = 0;
    for (size_t at = from, step = 1; !rc && at < to; at += step, step = step * 7 % 300007 + 1) {
        if (at + step > to)
            step = to - at;
        rc = gzip_blocks_write(g, in + at, step);
    }
    return rc;
}

/* Compresses the input with `threads` threads, level 1 but level 0 over the random stretch. */
static int compress(struct sink *out, const unsigned char *in, int threads)
{
    struct gzip_blocks *g;
    int rc = gzip_blocks_start(&g, 1, threads, to_sink, out);
    if (rc)
        return rc;
    if ((rc = write_range(g, in, 0, SWITCH_AT)) || (rc = gzip_blocks_set_level(g, 0)) ||
        (rc = write_range(g, in, SWITCH_AT, BACK_AT)) || (rc = gzip_blocks_set_level(g, 1)) ||
        (rc = write_range(g, in, BACK_AT, INPUT))) {
        gzip_blocks_abort(g);
        return rc;
    }
    return gzip_blocks_finish(g);
}

/* Decodes member after member with libdeflate; the count of members, or -1. */
static int decode_members(const struct sink *s, unsigned char *out, size_t cap, size_t *out_len)
{
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    int members = 0;
    size_t in_at = 0;
    *out_len = 0;
    while (d && in_at < s->len) {
        size_t used = 0, made = 0;
        if (libdeflate_gzip_decompress_ex(d, s->data + in_at, s->len - in_at, out + *out_len, cap - *out_len, &used,
                                          &made) != LIBDEFLATE_SUCCESS) {
            members = -1;
            break;
        }
        in_at += used;
        *out_len += made;
        members++;
    }
    libdeflate_free_decompressor(d);
    return members;
}

/* gzip(1) reads the file as one stream and gives back exactly `want`. */
static int gzip_reads_back(const struct sink *s, const unsigned char *want, size_t want_len)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[512], cmd[600];
    snprintf(path, sizeof path, "%s/amlpkg-gzblocks-XXXXXX", tmp);
    int fd = mkstemp(path);
    if (fd < 0)
        return 0;
    int ok = write(fd, s->data, s->len) == (ssize_t)s->len;
    close(fd);
    snprintf(cmd, sizeof cmd, "gzip -dc < '%s'", path);
    FILE *p = ok ? popen(cmd, "r") : NULL;
    unsigned char *back = malloc(want_len + 1);
    size_t got = p && back ? fread(back, 1, want_len + 1, p) : 0;
    ok = p && pclose(p) == 0 && got == want_len && !memcmp(back, want, want_len);
    free(back);
    unlink(path);
    return ok;
}

TEST(same_bytes_whatever_the_thread_count)
{
    unsigned char *in = make_input();
    CHECK(in);
    struct sink one = {0}, two = {0}, four = {0};
    CHECK_EQ_INT(compress(&one, in, 1), 0);
    CHECK_EQ_INT(compress(&two, in, 2), 0);
    CHECK_EQ_INT(compress(&four, in, 4), 0);
    CHECK(one.len == two.len && !memcmp(one.data, two.data, one.len));
    CHECK(one.len == four.len && !memcmp(one.data, four.data, one.len));
    CHECK(one.len < INPUT); /* the text compresses */
    free(one.data);
    free(two.data);
    free(four.data);
    free(in);
}

TEST(members_read_back_as_the_input)
{
    unsigned char *in = make_input(), *out = malloc(INPUT + 1);
    CHECK(in && out);
    struct sink s = {0};
    CHECK_EQ_INT(compress(&s, in, 2), 0);
    size_t len = 0;
    /* Blocks: [0,1M) [1M,2M) [2M,SWITCH) | [SWITCH,3M) level 0 | [3M,4M) [4M,5M) [5M,end) */
    CHECK_EQ_INT(decode_members(&s, out, INPUT + 1, &len), 7);
    CHECK_EQ_INT(s.members, 7);
    CHECK(len == INPUT && !memcmp(out, in, INPUT));
    CHECK(gzip_reads_back(&s, in, INPUT));
    free(s.data);
    free(out);
    free(in);
}

TEST(an_empty_stream_is_one_empty_member)
{
    struct gzip_blocks *g;
    struct sink s = {0};
    CHECK_EQ_INT(gzip_blocks_start(&g, 6, 2, to_sink, &s), 0);
    CHECK_EQ_INT(gzip_blocks_finish(g), 0);
    CHECK_EQ_INT(s.members, 1);
    CHECK(gzip_reads_back(&s, (const unsigned char *)"", 0));
    free(s.data);
}

/* A stream of whole blocks ends with its last block: no empty member after it, however fast the workers. */
TEST(whole_blocks_end_without_an_empty_member)
{
    unsigned char *in = make_input();
    CHECK(in);
    for (int round = 0; round < 20; round++) {
        struct gzip_blocks *g;
        struct sink s = {0};
        CHECK_EQ_INT(gzip_blocks_start(&g, 1, 2, to_sink, &s), 0);
        CHECK_EQ_INT(gzip_blocks_write(g, in, GZIP_BLOCK_BYTES), 0);
        CHECK_EQ_INT(gzip_blocks_finish(g), 0);
        CHECK_EQ_INT(s.members, 1);
        free(s.data);
    }
    free(in);
}

TEST(a_failing_writer_stops_the_stream)
{
    unsigned char *in = make_input();
    CHECK(in);
    struct sink s = {.fail_at = 3};
    CHECK_EQ_INT(compress(&s, in, 2), ERR_IO);
    CHECK(strstr(err_message(ERR_IO), "disk full"));
    err_clear();
    free(s.data);
    free(in);
}

TEST(levels_outside_the_range_are_refused)
{
    struct gzip_blocks *g = NULL;
    struct sink s = {0};
    CHECK_EQ_INT(gzip_blocks_start(&g, 13, 1, to_sink, &s), ERR_INVALID);
    CHECK(g == NULL);
    err_clear();
    CHECK_EQ_INT(gzip_blocks_start(&g, 1, 1, to_sink, &s), 0);
    CHECK_EQ_INT(gzip_blocks_set_level(g, -1), ERR_INVALID);
    err_clear();
    gzip_blocks_abort(g);
}

int main(void)
{
    RUN(same_bytes_whatever_the_thread_count);
    RUN(members_read_back_as_the_input);
    RUN(an_empty_stream_is_one_empty_member);
    RUN(whole_blocks_end_without_an_empty_member);
    RUN(a_failing_writer_stops_the_stream);
    RUN(levels_outside_the_range_are_refused);
    return test_failures ? 1 : 0;
}
