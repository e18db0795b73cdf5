#include "arena.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
    struct arena_block *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

void arena_init(struct arena *a, size_t block_size, size_t limit)
{
    a->head = NULL;
    a->block_size = block_size ? block_size : 64 * 1024;
    a->limit = limit;
    a->used = 0;
    a->over_limit = 0;
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
        b = malloc(sizeof *b + want);
        if (!b)
            return NULL;
        b->size = want;
        b->used = 0;
        /* A big one-off block goes behind the head so the head keeps serving small requests. */
        if (a->head && want > a->block_size) {
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

/* Past this much freed at once, the heap is trimmed: a big request's blocks
 * would otherwise stay resident (freed, but not returned to the system). */
#define TRIM_AFTER_BYTES ((size_t)64 << 20)

void arena_reset(struct arena *a)
{
    struct arena_block *keep = NULL;
    struct arena_block *b = a->head;
    size_t freed = 0;
    while (b) {
        struct arena_block *next = b->next;
        if (!keep && b->size == a->block_size) {
            keep = b;
            keep->used = 0;
        } else {
            freed += b->size;
            free(b);
        }
        b = next;
    }
    if (freed >= TRIM_AFTER_BYTES)
        malloc_trim(0);
    if (keep)
        keep->next = NULL;
    a->head = keep;
    a->used = 0;
    a->over_limit = 0;
}

void arena_release(struct arena *a)
{
    struct arena_block *b = a->head;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used = 0;
}
