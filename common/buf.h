/* Growable byte buffer with a hard size cap.
 *
 * Every buffer that holds outside input (request bodies, YAML, registry
 * replies) carries a limit so a hostile or broken peer cannot make us grow
 * without bound. The struct is caller-owned: buf_init() / buf_release(). The
 * data is always NUL-terminated (the terminator is not counted in len). */
#ifndef AMLPKG_BUF_H
#define AMLPKG_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t limit; /* 0 = unlimited */
};

void buf_init(struct buf *b, size_t limit);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
/* Make room for at least extra more bytes; ERR_LIMIT past the cap. */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes (used to consume parsed input). */
void buf_consume(struct buf *b, size_t n);
/* Read a whole file (at most limit bytes) into b. */
int buf_read_file(struct buf *b, const char *path);

#endif
