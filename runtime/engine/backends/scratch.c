#include "scratch.h"

#include <pthread.h>
#include <stdlib.h>

struct scratch {
    float *buf[SCRATCH_SLOTS];
    size_t cap[SCRATCH_SLOTS];
};

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void release(void *p)
{
    struct scratch *s = p;
    for (int i = 0; i < SCRATCH_SLOTS; i++)
        free(s->buf[i]);
    free(s);
}

static void make_key(void)
{
    pthread_key_create(&key, release);
}

float *scratch_floats(enum scratch_slot slot, size_t n)
{
    pthread_once(&once, make_key);
    struct scratch *s = pthread_getspecific(key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (s->cap[slot] < n) {
        free(s->buf[slot]);
        size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
        s->buf[slot] = bytes / sizeof(float) >= n ? aligned_alloc(64, bytes) : NULL;
        s->cap[slot] = s->buf[slot] ? n : 0;
    }
    return s->buf[slot];
}
