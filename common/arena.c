#include "arena.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
    struct arena_block *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

/* A request whose blocks reached this much is an outlier: its blocks are
 * freed and the heap trimmed, or they would stay resident (freed, but not
 * returned to the system). Below it, the blocks are kept for the next request
 * (the same model asks for the same sizes again), within a process-wide
 * budget so thousands of idle connections cannot each hold their last
 * request's memory. */
#define TRIM_AFTER_BYTES ((size_t)64 << 20)
#define KEEP_BUDGET_BYTES ((size_t)256 << 20)

static atomic_size_t kept_total; /* bytes in every arena's spare list */

void arena_init(struct arena *a, size_t block_size, size_t limit)
{
    a->head = NULL;
    a->spare = NULL;
    a->block_size = block_size ? block_size : 64 * 1024;
    a->limit = limit;
    a->used = 0;
    a->over_limit = 0;
}

static int reserve_keep(size_t bytes)
{
    size_t now = atomic_load(&kept_total);
    do {
        if (bytes > KEEP_BUDGET_BYTES || now > KEEP_BUDGET_BYTES - bytes)
            return 0;
    } while (!atomic_compare_exchange_weak(&kept_total, &now, now + bytes));
    return 1;
}

/* The spare block that serves want bytes best: the smallest that fits, and
 * not one far bigger than asked (it is kept for the request that needs it). */
static struct arena_block *take_spare(struct arena *a, size_t want)
{
    struct arena_block **best = NULL;
    for (struct arena_block **p = &a->spare; *p; p = &(*p)->next) {
        size_t s = (*p)->size;
        if (s >= want && (want == a->block_size ? s == want : s / 2 <= want) && (!best || s < (*best)->size))
            best = p;
    }
    if (!best)
        return NULL;
    struct arena_block *b = *best;
    *best = b->next;
    atomic_fetch_sub(&kept_total, b->size);
    b->used = 0;
    return b;
}

void *arena_alloc(struct arena *a, size_t size)
{
    size_t rounded = (size + 15) & ~(size_t)15;
    if (rounded < size)
        return NULL;
    if (a->limit && (rounded > a->limit || a->used > a->limit - rounded)) {
        a->over_limit = 1;
        return NULL;
    }
    struct arena_block *b = a->head;
    if (!b || b->size - b->used < rounded) {
        size_t want = rounded > a->block_size ? rounded : a->block_size;
        if (want > SIZE_MAX - sizeof *b)
            return NULL;
        b = take_spare(a, want);
        if (!b) {
            b = malloc(sizeof *b + want);
            if (!b)
                return NULL;
            b->size = want;
            b->used = 0;
        }
        /* A big one-off block goes behind the head so the head keeps serving small requests. */
        if (a->head && b->size > a->block_size) {
            b->next = a->head->next;
            a->head->next = b;
        } else {
            b->next = a->head;
            a->head = b;
        }
    }
    void *p = b->data + b->used;
    b->used += rounded;
    a->used += rounded;
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
    char *p = arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static void free_list(struct arena_block *b)
{
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
}

static void free_spare(struct arena *a)
{
    size_t bytes = 0;
    for (struct arena_block *b = a->spare; b; b = b->next)
        bytes += b->size;
    atomic_fetch_sub(&kept_total, bytes);
    free_list(a->spare);
    a->spare = NULL;
}

void arena_reset(struct arena *a)
{
    size_t total = 0;
    for (struct arena_block *b = a->head; b; b = b->next)
        total += b->size;
    for (struct arena_block *b = a->spare; b; b = b->next)
        total += b->size;
    struct arena_block *keep = NULL, *b = a->head;
    if (total >= TRIM_AFTER_BYTES) {
        /* An outlier: back to one block, and the memory back to the system. */
        free_spare(a);
        while (b) {
            struct arena_block *next = b->next;
            if (!keep && b->size == a->block_size)
                keep = b;
            else
                free(b);
            b = next;
        }
        malloc_trim(0);
    } else {
        while (b) {
            struct arena_block *next = b->next;
            if (!keep && b->size == a->block_size)
                keep = b;
            else if (reserve_keep(b->size)) {
                b->next = a->spare;
                a->spare = b;
            } else
                free(b);
            b = next;
        }
    }
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
    a->head = keep;
    a->used = 0;
    a->over_limit = 0;
}

void arena_release(struct arena *a)
{
    free_spare(a);
    free_list(a->head);
    a->head = NULL;
    a->used = 0;
}
