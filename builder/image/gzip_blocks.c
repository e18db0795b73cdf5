#include "builder/image/gzip_blocks.h"

#include "common/err.h"

#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 4 /* past four, the tar producer and the hash sink are the limit */
#define MAX_LEVEL 12

enum slot_state {
    SLOT_FREE,   /* empty, or being filled by the caller */
    SLOT_QUEUED, /* full, waiting for a worker */
    SLOT_BUSY,   /* a worker compresses it */
    SLOT_DONE,   /* compressed, waiting to be emitted in order */
};

struct block_slot {
    unsigned char *in, *out;
    size_t in_len, out_len;
    int level;
    int failed; /* the worker could not compress it (out of memory) */
    enum slot_state state;
};

/* Slots form a ring in stream order: the caller fills `filling`, workers take
 * `next_job`, the caller emits `oldest`. Only the caller moves filling and
 * oldest; only workers move next_job; every state change is under lock. */
struct gzip_blocks {
    gzip_emit_fn emit;
    void *ctx;
    int level;
    size_t out_cap;
    struct block_slot *slots;
    size_t n_slots;
    size_t filling, oldest, next_job;
    size_t pending; /* blocks submitted and not yet emitted (the caller's count) */
    int members; /* emitted so far: an empty stream still gets one */
    int stopping;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    pthread_t threads[MAX_THREADS];
    int n_threads;
};

static void compress_slot(struct block_slot *s, struct libdeflate_compressor **compressors, size_t out_cap)
{
    if (!compressors[s->level])
        compressors[s->level] = libdeflate_alloc_compressor(s->level);
    s->out_len = compressors[s->level] ? libdeflate_gzip_compress(compressors[s->level], s->in, s->in_len, s->out, out_cap)
                                       : 0;
    s->failed = s->out_len == 0;
}

static void *work(void *arg)
{
    struct gzip_blocks *g = arg;
    struct libdeflate_compressor *compressors[MAX_LEVEL + 1] = {0};
    pthread_mutex_lock(&g->lock);
    for (;;) {
        struct block_slot *s = &g->slots[g->next_job];
        while (s->state != SLOT_QUEUED && !g->stopping) {
            pthread_cond_wait(&g->changed, &g->lock);
            s = &g->slots[g->next_job];
        }
        if (s->state != SLOT_QUEUED)
            break;
        s->state = SLOT_BUSY;
        g->next_job = (g->next_job + 1) % g->n_slots;
        pthread_mutex_unlock(&g->lock);
        compress_slot(s, compressors, g->out_cap);
        pthread_mutex_lock(&g->lock);
        s->state = SLOT_DONE;
        pthread_cond_broadcast(&g->changed);
    }
    pthread_mutex_unlock(&g->lock);
    for (int i = 0; i <= MAX_LEVEL; i++)
        libdeflate_free_compressor(compressors[i]);
    return NULL;
}

static int cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/* Emits the oldest block, waiting for it when `wait`; 1 when there was none to emit. */
static int emit_oldest(struct gzip_blocks *g, int wait, int *rc)
{
    struct block_slot *s = &g->slots[g->oldest];
    pthread_mutex_lock(&g->lock);
    while (wait && (s->state == SLOT_QUEUED || s->state == SLOT_BUSY))
        pthread_cond_wait(&g->changed, &g->lock);
    enum slot_state state = s->state;
    pthread_mutex_unlock(&g->lock);
    if (state != SLOT_DONE)
        return 1;
    *rc = s->failed ? err_set(ERR_NOMEM, "gzip compression failed: out of memory")
                    : g->emit(g->ctx, s->out, s->out_len);
    g->members++;
    s->in_len = 0;
    pthread_mutex_lock(&g->lock);
    s->state = SLOT_FREE;
    pthread_mutex_unlock(&g->lock);
    g->oldest = (g->oldest + 1) % g->n_slots;
    g->pending--;
    return 0;
}

/* Hands the filling block to the workers and makes the next slot free to fill,
 * emitting every finished block in order on the way. */
static int submit(struct gzip_blocks *g)
{
    struct block_slot *s = &g->slots[g->filling];
    pthread_mutex_lock(&g->lock);
    s->level = g->level;
    s->state = SLOT_QUEUED;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
    g->filling = (g->filling + 1) % g->n_slots;
    g->pending++;
    int rc = 0;
    /* When the ring is full, the next slot to fill holds the oldest block: emit it first. */
    while (!rc && g->pending == g->n_slots)
        emit_oldest(g, 1, &rc);
    while (!rc && g->pending > 0 && emit_oldest(g, 0, &rc) == 0) {
    }
    return rc;
}

int gzip_blocks_start(struct gzip_blocks **out, int level, int threads, gzip_emit_fn emit, void *ctx)
{
    *out = NULL;
    if (level < 0 || level > MAX_LEVEL)
        return err_set(ERR_INVALID, "gzip level %d is outside 0-%d", level, MAX_LEVEL);
    struct gzip_blocks *g = calloc(1, sizeof *g);
    if (!g)
        return err_set(ERR_NOMEM, "out of memory");
    g->emit = emit;
    g->ctx = ctx;
    g->level = level;
    int n_threads = threads > 0 ? (threads > MAX_THREADS ? MAX_THREADS : threads) : cpu_count();
    g->n_slots = (size_t)n_threads + 2;
    /* Incompressible data is stored: the block, 5 bytes per deflate block, the gzip frame. */
    g->out_cap = GZIP_BLOCK_BYTES + GZIP_BLOCK_BYTES / 256 + 1024;
    g->slots = calloc(g->n_slots, sizeof *g->slots);
    if (!g->slots) {
        free(g);
        return err_set(ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->changed, NULL);
    for (size_t i = 0; i < g->n_slots; i++)
        if (!(g->slots[i].in = malloc(GZIP_BLOCK_BYTES)) || !(g->slots[i].out = malloc(g->out_cap))) {
            gzip_blocks_abort(g);
            return err_set(ERR_NOMEM, "out of memory");
        }
    for (; g->n_threads < n_threads; g->n_threads++)
        if (pthread_create(&g->threads[g->n_threads], NULL, work, g) != 0) {
            gzip_blocks_abort(g);
            return err_set(ERR_NOMEM, "cannot start a gzip thread");
        }
    *out = g;
    return 0;
}

int gzip_blocks_write(struct gzip_blocks *g, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        struct block_slot *s = &g->slots[g->filling];
        size_t take = GZIP_BLOCK_BYTES - s->in_len;
        if (take > len)
            take = len;
        memcpy(s->in + s->in_len, p, take);
        s->in_len += take;
        p += take;
        len -= take;
        int rc = s->in_len == GZIP_BLOCK_BYTES ? submit(g) : 0;
        if (rc)
            return rc;
    }
    return 0;
}

int gzip_blocks_set_level(struct gzip_blocks *g, int level)
{
    if (level < 0 || level > MAX_LEVEL)
        return err_set(ERR_INVALID, "gzip level %d is outside 0-%d", level, MAX_LEVEL);
    if (level == g->level)
        return 0;
    int rc = g->slots[g->filling].in_len ? submit(g) : 0;
    g->level = level;
    return rc;
}

int gzip_blocks_finish(struct gzip_blocks *g)
{
    int rc = 0;
    /* An empty stream is still one (empty) member: zero bytes are not a gzip file. */
    if (g->slots[g->filling].in_len || (g->members == 0 && g->pending == 0))
        rc = submit(g);
    while (!rc && g->pending > 0)
        emit_oldest(g, 1, &rc);
    gzip_blocks_abort(g);
    return rc;
}

void gzip_blocks_abort(struct gzip_blocks *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stopping = 1;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
    for (int i = 0; i < g->n_threads; i++)
        pthread_join(g->threads[i], NULL);
    for (size_t i = 0; i < g->n_slots; i++) {
        free(g->slots[i].in);
        free(g->slots[i].out);
    }
    free(g->slots);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->changed);
    free(g);
}
