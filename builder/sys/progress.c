#include "builder/sys/progress.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BAR_WIDTH 24
#define MAX_BLOB_LINES 12

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int progress_init(struct progress *p, size_t n, const char *const *digests, const int64_t *sizes)
{
    p->blobs = n ? calloc(n, sizeof *p->blobs) : NULL;
    if (n && !p->blobs)
        return err_set(ERR_NOMEM, "out of memory");
    p->n_blobs = n;
    long long total = 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(p->blobs[i].name, sizeof p->blobs[i].name, "%.19s", digests[i]);
        p->blobs[i].size = sizes[i];
        total += sizes[i];
    }
    atomic_store(&p->bytes_total, total);
    atomic_store(&p->blobs_total, (int)n);
    return 0;
}

struct progress_blob *progress_blob_begin(struct progress *p, size_t i)
{
    if (!p->blobs || i >= p->n_blobs)
        return NULL;
    struct progress_blob *b = &p->blobs[i];
    b->started = progress_now();
    atomic_store(&b->state, PROGRESS_MOVING);
    return b;
}

void progress_blob_end(struct progress_blob *b, enum progress_state state)
{
    if (!b)
        return;
    b->finished = progress_now();
    atomic_store(&b->state, state);
}

/* "[#########.......]  12.3/45.6 MB  8.1 MB/s  ETA 3s" into out; the rate
 * is of moved bytes over secs (done may include bytes that needed no move). */
static void bar(char *out, size_t size, double done, double total, double moved, double secs, int final)
{
    char fill[BAR_WIDTH + 1];
    int n = total > 0 ? (int)(BAR_WIDTH * (done < total ? done : total) / total) : BAR_WIDTH;
    for (int i = 0; i < BAR_WIDTH; i++)
        fill[i] = i < n ? '#' : '.';
    fill[BAR_WIDTH] = '\0';
    double rate = secs > 0 ? moved / secs : 0;
    char eta[32] = "";
    if (!final && rate > 0 && total > done)
        snprintf(eta, sizeof eta, "  ETA %.0fs", (total - done) / rate);
    snprintf(out, size, "[%s] %7.1f/%.1f MB  %6.1f MB/s%s", fill, done / 1e6, total / 1e6, rate / 1e6, eta);
}

/* One frame: a line per started blob (in image order, so lines stay put),
 * then the total line, redrawn in place over the previous frame. */
static void draw(struct progress *p, int final)
{
    char frame[8192], line[256];
    size_t len = 0;
#define EMIT(...) (len += (size_t)snprintf(frame + len, len < sizeof frame ? sizeof frame - len : 0, __VA_ARGS__))
    EMIT("\r");
    if (p->lines)
        EMIT("\033[%dA", p->lines);
    int shown = 0;
    double now = progress_now(), skipped = 0;
    for (size_t i = 0; i < p->n_blobs; i++) {
        struct progress_blob *b = &p->blobs[i];
        int st = atomic_load(&b->state);
        if (st == PROGRESS_EXISTED || st == PROGRESS_MOUNTED)
            skipped += (double)b->size; /* nothing to move: counts as done */
        if (st == PROGRESS_WAITING || shown >= MAX_BLOB_LINES)
            continue;
        if (st == PROGRESS_EXISTED || st == PROGRESS_MOUNTED) {
            snprintf(line, sizeof line, "%-26s %7.1f MB", st == PROGRESS_EXISTED ? "exists" : "mounted",
                     (double)b->size / 1e6);
        } else {
            double secs = (st == PROGRESS_MOVING ? now : b->finished) - b->started;
            double done = (double)atomic_load(&b->done);
            bar(line, sizeof line, done, (double)b->size, done, secs, st != PROGRESS_MOVING);
        }
        EMIT("\033[K  %-19s %s\n", b->name, line);
        shown++;
    }
    /* The block never shrinks: blank what the last frame drew below. */
    for (; shown < p->lines; shown++)
        EMIT("\033[K\n");
    p->lines = shown;
    double moved = (double)(atomic_load(p->bytes) - p->bytes_base);
    bar(line, sizeof line, moved + skipped, (double)atomic_load(&p->bytes_total), moved, now - p->started, final);
    EMIT("\033[K%-21s %s  blobs %d/%d%s", p->label, line, atomic_load(&p->blobs_done), atomic_load(&p->blobs_total),
         final ? "\n" : "");
#undef EMIT
    fwrite(frame, 1, len < sizeof frame ? len : sizeof frame - 1, stderr);
    fflush(stderr);
}

static void *run(void *arg)
{
    struct progress *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        pthread_mutex_unlock(&p->lock);
        draw(p, 0);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&p->lock);
        if (!p->stop)
            pthread_cond_timedwait(&p->wake, &p->lock, &until);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

void progress_start(struct progress *p, const char *label, atomic_llong *bytes, int tty)
{
    p->label = label;
    p->bytes = bytes;
    p->bytes_base = atomic_load(bytes);
    p->tty = tty;
    p->started = progress_now();
    p->lines = 0;
    p->stop = 0;
    p->running = 0;
    if (!tty)
        return;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->running = pthread_create(&p->thread, NULL, run, p) == 0;
    if (!p->running) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
    }
}

void progress_stop(struct progress *p)
{
    if (p->running) {
        pthread_mutex_lock(&p->lock);
        p->stop = 1;
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        p->running = 0;
        draw(p, 1);
    }
    free(p->blobs);
    p->blobs = NULL;
    p->n_blobs = 0;
}
