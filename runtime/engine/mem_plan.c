/* The learned static memory plan (mem_plan.h). */
#include "mem_plan.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64
#define IDLE_SLABS 4

enum state { EMPTY, RECORDING, READY, DROPPED };

struct out {
    int end;          /* last node reading it; -1: a graph output */
    size_t bytes;     /* record: what ops_alloc_output gave it (0: nothing) */
    const void *data; /* record: where; then the result's data */
    int owner;        /* plan: the output whose buffer this one views, -1: none */
    int64_t offset;   /* plan: in the slab, -1: not planned */
};

struct mem_plan {
    size_t n_nodes;
    size_t *first; /* per node: index of its output 0 in outs */
    struct out *outs;
    size_t n_outs;
    atomic_int state;
    /* the input shapes the plan was made for */
    struct tensor *key;
    size_t n_key;
    size_t slab_bytes, unplanned_bytes;
    pthread_mutex_t lock;
    void *idle[IDLE_SLABS];
    int n_idle;
};

struct mem_plan *mem_plan_new(size_t n_nodes, const int *n_outputs, const int *const *last_use)
{
    struct mem_plan *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n_nodes = n_nodes;
    p->first = calloc(n_nodes + 1, sizeof *p->first);
    for (size_t i = 0; p->first && i < n_nodes; i++)
        p->first[i + 1] = p->first[i] + (size_t)n_outputs[i];
    p->n_outs = p->first ? p->first[n_nodes] : 0;
    p->outs = calloc(p->n_outs + 1, sizeof *p->outs);
    if (!p->first || !p->outs) {
        mem_plan_free(p);
        return NULL;
    }
    for (size_t i = 0; i < n_nodes; i++)
        for (int k = 0; k < n_outputs[i]; k++)
            p->outs[p->first[i] + (size_t)k].end = last_use[i][k];
    pthread_mutex_init(&p->lock, NULL);
    atomic_init(&p->state, EMPTY);
    return p;
}

void mem_plan_free(struct mem_plan *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n_idle; i++)
        free(p->idle[i]);
    if (p->outs)
        pthread_mutex_destroy(&p->lock);
    free(p->first);
    free(p->outs);
    free(p->key);
    free(p);
}

static int same_shapes(const struct mem_plan *p, const struct tensor *inputs, size_t n)
{
    if (n != p->n_key)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const struct tensor *a = &p->key[i], *b = &inputs[i];
        if (a->type != b->type || a->rank != b->rank)
            return 0;
        for (int d = 0; d < a->rank; d++)
            if (a->dims[d] != b->dims[d])
                return 0;
    }
    return 1;
}

void mem_plan_begin(struct mem_plan *p, const struct tensor *inputs, size_t n_inputs, struct mem_run *run)
{
    *run = (struct mem_run){.plan = p, .mode = MEM_OFF};
    if (!p)
        return;
    int state = atomic_load(&p->state);
    if (state == EMPTY) {
        if (!atomic_compare_exchange_strong(&p->state, &state, RECORDING))
            return;
        free(p->key); /* a failed record's */
        p->key = malloc((n_inputs + 1) * sizeof *p->key);
        if (!p->key) {
            atomic_store(&p->state, DROPPED);
            return;
        }
        memcpy(p->key, inputs, n_inputs * sizeof *p->key);
        p->n_key = n_inputs;
        for (size_t i = 0; i < p->n_outs; i++)
            p->outs[i].bytes = 0, p->outs[i].data = NULL;
        run->mode = MEM_RECORD;
        return;
    }
    if (state != READY || !p->slab_bytes || !same_shapes(p, inputs, n_inputs))
        return;
    pthread_mutex_lock(&p->lock);
    run->slab = p->n_idle ? p->idle[--p->n_idle] : NULL;
    pthread_mutex_unlock(&p->lock);
    if (!run->slab)
        run->slab = aligned_alloc(ALIGN, p->slab_bytes);
    if (run->slab)
        run->mode = MEM_PLANNED;
}

void *mem_run_output(struct mem_run *run, size_t node, int k, size_t bytes)
{
    if (run->mode != MEM_PLANNED || node >= run->plan->n_nodes)
        return NULL;
    const struct out *o = &run->plan->outs[run->plan->first[node] + (size_t)k];
    return o->offset >= 0 && o->bytes == bytes ? run->slab + o->offset : NULL;
}

void mem_run_note(struct mem_run *run, size_t node, int k, const void *data, size_t bytes)
{
    if (run->mode != MEM_RECORD || node >= run->plan->n_nodes)
        return;
    struct out *o = &run->plan->outs[run->plan->first[node] + (size_t)k];
    o->bytes = bytes;
    o->data = data;
}

static int in_region(const void *data, const unsigned char *start, size_t bytes)
{
    return (const unsigned char *)data >= start && (const unsigned char *)data < start + bytes;
}

int mem_run_node_done(struct mem_run *run, size_t node, const struct tensor *results, int n)
{
    struct mem_plan *p = run->plan;
    if (run->mode == MEM_OFF || node >= p->n_nodes)
        return 0;
    for (int k = 0; k < n; k++) {
        struct out *o = &p->outs[p->first[node] + (size_t)k];
        const void *data = results[k].data;
        if (run->mode == MEM_RECORD) {
            if (o->data != data)
                o->bytes = 0; /* not (or no longer) its own allocation */
            o->data = data;
            continue;
        }
        if (!data || !in_region(data, run->slab, p->slab_bytes))
            continue;
        if (o->offset >= 0 && data == run->slab + o->offset)
            continue;
        /* a view of slab bytes: only as the record saw it, into the same buffer */
        const struct out *b = o->owner >= 0 ? &p->outs[o->owner] : NULL;
        if (!b || b->offset < 0 || !in_region(data, run->slab + b->offset, b->bytes))
            return -1;
    }
    return 0;
}

static int cmp_size_desc(const void *a, const void *b, void *outs)
{
    const struct out *o = outs;
    size_t x = o[*(const size_t *)a].bytes, y = o[*(const size_t *)b].bytes;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Sorting with a context: a plain insertion sort keeps this portable and the
 * counts (one entry per node output) are small. */
static void sort_by_size(size_t *idx, size_t n, struct out *outs)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && cmp_size_desc(&idx[j - 1], &idx[j], outs) > 0; j--) {
            size_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
}

/* The node that defines output index i. */
static size_t node_of(const struct mem_plan *p, size_t i)
{
    size_t lo = 0, hi = p->n_nodes;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (p->first[mid] <= i)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static int make_plan(struct mem_plan *p)
{
    size_t n = p->n_outs;
    size_t *idx = malloc((n + 1) * sizeof *idx);
    int *end = malloc((n + 1) * sizeof *end);
    if (!idx || !end) {
        free(idx);
        free(end);
        return -1;
    }
    /* Views: the buffer they point into lives as long as they do. Outputs in
     * node order, so a view of a view finds the first buffer. */
    for (size_t i = 0; i < n; i++) {
        struct out *o = &p->outs[i];
        o->owner = -1;
        o->offset = -1;
        end[i] = o->end;
        if (o->bytes || !o->data)
            continue;
        for (size_t j = 0; j < i; j++) {
            struct out *b = &p->outs[j];
            if (b->bytes && in_region(o->data, b->data, b->bytes)) {
                o->owner = (int)j;
                end[j] = end[j] < 0 || o->end < 0 ? -1 : end[j] > o->end ? end[j] : o->end;
                break;
            }
        }
    }
    size_t m = 0;
    p->unplanned_bytes = 0;
    for (size_t i = 0; i < n; i++)
        if (p->outs[i].bytes && end[i] >= 0) {
            idx[m++] = i;
            p->unplanned_bytes += (p->outs[i].bytes + ALIGN - 1) / ALIGN * ALIGN;
        }
    sort_by_size(idx, m, p->outs);
    /* Greedy: biggest first, each at the lowest offset clear of every placed
     * buffer whose lifetime [defining node, last use] overlaps its own. */
    size_t slab = 0;
    for (size_t a = 0; a < m; a++) {
        struct out *o = &p->outs[idx[a]];
        size_t size = (o->bytes + ALIGN - 1) / ALIGN * ALIGN, born = node_of(p, idx[a]);
        size_t offset = 0;
        for (int moved = 1; moved;) {
            moved = 0;
            for (size_t b = 0; b < a; b++) {
                const struct out *q = &p->outs[idx[b]];
                size_t q_born = node_of(p, idx[b]), q_size = (q->bytes + ALIGN - 1) / ALIGN * ALIGN;
                int time = born <= (size_t)end[idx[b]] && q_born <= (size_t)end[idx[a]];
                if (time && offset < (size_t)q->offset + q_size && (size_t)q->offset < offset + size) {
                    offset = (size_t)q->offset + q_size;
                    moved = 1;
                }
            }
        }
        o->offset = (int64_t)offset;
        if (offset + size > slab)
            slab = offset + size;
    }
    p->slab_bytes = slab;
    free(idx);
    free(end);
    return 0;
}

void mem_plan_end(struct mem_run *run, int ok, int failed)
{
    struct mem_plan *p = run->plan;
    if (!p || run->mode == MEM_OFF) {
        if (p && failed)
            atomic_store(&p->state, DROPPED);
        return;
    }
    if (run->mode == MEM_RECORD) {
        /* a failed record (bad input) is no plan; the next run records again */
        atomic_store(&p->state, !ok ? EMPTY : make_plan(p) ? DROPPED : READY);
        return;
    }
    pthread_mutex_lock(&p->lock);
    if (p->n_idle < IDLE_SLABS && !failed)
        p->idle[p->n_idle++] = run->slab;
    else
        free(run->slab);
    pthread_mutex_unlock(&p->lock);
    if (failed)
        atomic_store(&p->state, DROPPED);
}

void mem_plan_sizes(const struct mem_plan *p, size_t *slab, size_t *unplanned)
{
    int ready = p && atomic_load(&((struct mem_plan *)p)->state) == READY;
    *slab = ready ? p->slab_bytes : 0;
    *unplanned = ready ? p->unplanned_bytes : 0;
}
