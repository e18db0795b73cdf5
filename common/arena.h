/* Bump allocator for objects that all die together.
 *
 * amlserve gives each request one arena and clears it when the response is
 * sent, so parsing a body costs no free() calls and cannot leak. The struct is
 * caller-owned (arena_init/arena_release); memory from arena_alloc is owned by
 * the arena and valid until arena_reset or arena_release. */
#ifndef AMLPKG_ARENA_H
#define AMLPKG_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
    struct arena_block *head;
    struct arena_block *spare; /* blocks kept by arena_reset for the next round */
    size_t block_size;
    size_t limit; /* total bytes allowed, 0 = unlimited */
    size_t used;  /* bytes handed out, for the limit */
    int over_limit; /* an allocation was refused for the limit (until arena_reset) */
};

void arena_init(struct arena *a, size_t block_size, size_t limit);
/* NULL when out of memory or past the limit. Memory is 16-byte aligned. */
void *arena_alloc(struct arena *a, size_t size);
char *arena_strndup(struct arena *a, const char *s, size_t len);
/* Everything handed out is forgotten. The blocks are kept for reuse (the next
 * round of a request loop asks for the same sizes), within a process-wide
 * budget; when they add up to 64 MB or more (an outlier) all but the first are
 * freed and the heap trimmed instead. */
void arena_reset(struct arena *a);
void arena_release(struct arena *a);

#endif
