#include "builder/image/hash_sink.h"

#include "common/err.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SINK_BUFFER (2 << 20)

/* Two buffers: the caller fills one while the worker hashes and writes the other. */
struct sink_buffer {
    unsigned char *data;
    size_t len;
    int full; /* handed to the worker, not yet done */
};

struct hash_sink {
    int fd;
    const char *path;
    struct digest digest;
    int64_t size;
    struct sink_buffer buf[2];
    int filling;     /* the buffer the caller appends to */
    int next;        /* the buffer the worker takes next */
    int stopping;    /* no more buffers will come */
    int write_errno; /* the worker's failed write, reported by the caller */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    pthread_t thread;
};

static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 && errno ? errno : ENOSPC; /* a short write: the disk is full */
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void *work(void *arg)
{
    struct hash_sink *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        struct sink_buffer *b = &s->buf[s->next];
        while (!b->full && !s->stopping)
            pthread_cond_wait(&s->changed, &s->lock);
        if (!b->full)
            break;                      /* stopping, and everything handed over is done */
        int skip = s->write_errno != 0; /* after a failure only the count goes on */
        pthread_mutex_unlock(&s->lock);
        digest_update(&s->digest, b->data, b->len);
        int failed = skip ? 0 : write_all(s->fd, b->data, b->len);
        pthread_mutex_lock(&s->lock);
        if (failed)
            s->write_errno = failed;
        b->full = 0;
        b->len = 0;
        s->next ^= 1;
        pthread_cond_broadcast(&s->changed);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static int worker_error(struct hash_sink *s)
{
    pthread_mutex_lock(&s->lock);
    int e = s->write_errno;
    pthread_mutex_unlock(&s->lock);
    if (!e)
        return 0;
    errno = e;
    return err_set_write(ERR_IO, "%s: write failed", s->path);
}

/* Hands the filling buffer to the worker and waits until the other one is free. */
static int hand_over(struct hash_sink *s)
{
    pthread_mutex_lock(&s->lock);
    s->buf[s->filling].full = 1;
    s->filling ^= 1;
    pthread_cond_broadcast(&s->changed);
    while (s->buf[s->filling].full)
        pthread_cond_wait(&s->changed, &s->lock);
    pthread_mutex_unlock(&s->lock);
    return worker_error(s);
}

int hash_sink_start(struct hash_sink **out, int fd, const char *path)
{
    *out = NULL;
    struct hash_sink *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(ERR_NOMEM, "out of memory");
    s->fd = fd;
    s->path = path;
    digest_init(&s->digest);
    s->buf[0].data = malloc(SINK_BUFFER);
    s->buf[1].data = malloc(SINK_BUFFER);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->changed, NULL);
    if (!s->buf[0].data || !s->buf[1].data || pthread_create(&s->thread, NULL, work, s) != 0) {
        free(s->buf[0].data);
        free(s->buf[1].data);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->changed);
        free(s);
        return err_set(ERR_NOMEM, "cannot start the layer writer thread");
    }
    *out = s;
    return 0;
}

int hash_sink_write(struct hash_sink *s, const void *data, size_t len)
{
    const unsigned char *p = data;
    s->size += (int64_t)len;
    while (len > 0) {
        struct sink_buffer *b = &s->buf[s->filling];
        size_t n = SINK_BUFFER - b->len < len ? SINK_BUFFER - b->len : len;
        memcpy(b->data + b->len, p, n);
        b->len += n;
        p += n;
        len -= n;
        int rc = b->len == SINK_BUFFER ? hand_over(s) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

static void stop(struct hash_sink *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->buf[s->filling].len)
        s->buf[s->filling].full = 1;
    s->stopping = 1;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
}

static void release(struct hash_sink *s)
{
    free(s->buf[0].data);
    free(s->buf[1].data);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->changed);
    free(s);
}

int hash_sink_finish(struct hash_sink *s, char digest[DIGEST_STRING_SIZE], int64_t *size)
{
    stop(s);
    int rc = worker_error(s);
    if (!rc)
        rc = digest_final(&s->digest, digest);
    *size = s->size;
    release(s);
    return rc;
}

void hash_sink_abort(struct hash_sink *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    if (!s->write_errno)
        s->write_errno = ECANCELED; /* the worker skips the writes left */
    pthread_mutex_unlock(&s->lock);
    stop(s);
    release(s);
}
