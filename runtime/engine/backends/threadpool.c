/* Workers wait for a new generation number; tasks are handed out through an
 * atomic word so uneven tasks balance themselves.
 *
 * One operator's work is often a fraction of a millisecond (a GEMV, an
 * elementwise op), so a condition-variable round trip per operator (futex
 * wake, the worker scheduled in) costs as much as the work. Workers and the
 * caller therefore spin for a short while (about 50 µs) before sleeping: back
 * to back operators find the workers awake, and an idle pool still sleeps.
 * The caller waits for its tasks to finish, never for every worker to check
 * in: a worker the scheduler has not run yet (the machine is busy) costs the
 * caller nothing, as the caller takes that worker's tasks itself.
 *
 * The word `work` holds the generation, the task count and the next task
 * index together, so a worker claims a task of the generation it woke for
 * with one compare-and-swap, or sees that generation is over. */
#include "threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define POOL_MAX_THREADS 64
#define SPIN_ROUNDS 2000
/* work = generation (24 bits) | task count (20) | next task (20) */
#define TASK_BITS 20
#define TASK_MASK ((UINT64_C(1) << TASK_BITS) - 1)
#define MAX_TASKS ((int)TASK_MASK)

static struct {
    pthread_once_t once;
    int threads;          /* including the caller */
    pthread_mutex_t busy; /* held by the one caller using the pool */
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    /* Each word on its own cache line: spinning workers poll generation while the threads at work
     * claim tasks (work) and count them done (completed); sharing a line, each claim or
     * completion would pull the line away from every spinner and back. */
    _Alignas(64) atomic_ulong generation; /* what sleepers wait on */
    atomic_int sleepers;                  /* workers waiting (or about to wait) on wake */
    pool_task_fn fn;                      /* written before generation is raised, read after */
    void *ctx;
    _Alignas(64) atomic_uint_fast64_t work;
    _Alignas(64) atomic_int completed; /* tasks of the current generation finished */
} pool = {
    .once = PTHREAD_ONCE_INIT,
    .busy = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};

/* A task of generation gen (24 bits), or -1 when it has none left to hand out. */
static int claim(uint64_t gen, int *n_tasks)
{
    uint64_t w = atomic_load(&pool.work);
    for (;;) {
        uint64_t n = (w >> TASK_BITS) & TASK_MASK, next = w & TASK_MASK;
        if (w >> (2 * TASK_BITS) != gen || next >= n)
            return -1;
        if (atomic_compare_exchange_weak(&pool.work, &w, w + 1)) {
            *n_tasks = (int)n;
            return (int)next;
        }
    }
}

/* Runs tasks of generation gen until none are left to claim. */
static void drain(uint64_t gen)
{
    int n, i;
    while ((i = claim(gen, &n)) >= 0) {
        pool.fn(pool.ctx, i);
        if (atomic_fetch_add(&pool.completed, 1) + 1 == n) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
    }
}

static unsigned long wait_generation(unsigned long seen)
{
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        unsigned long g = atomic_load(&pool.generation);
        if (g != seen)
            return g;
        cpu_relax();
    }
    pthread_mutex_lock(&pool.lock);
    /* sleepers is raised before generation is read again, and pool_run raises
     * generation before it reads sleepers: one of the two sees the other. */
    atomic_fetch_add(&pool.sleepers, 1);
    while (atomic_load(&pool.generation) == seen)
        pthread_cond_wait(&pool.wake, &pool.lock);
    atomic_fetch_sub(&pool.sleepers, 1);
    unsigned long g = atomic_load(&pool.generation);
    pthread_mutex_unlock(&pool.lock);
    return g;
}

static void *worker(void *arg)
{
    (void)arg;
    unsigned long seen = 0;
    for (;;) {
        seen = wait_generation(seen);
        drain(seen & 0xffffff);
    }
    return NULL;
}

static void start(void)
{
    if (pool.threads <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        pool.threads = cpus > 0 ? (int)cpus : 1;
    }
    if (pool.threads > POOL_MAX_THREADS)
        pool.threads = POOL_MAX_THREADS;
    int started = 1;
    for (int i = 1; i < pool.threads; i++) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, worker, NULL) == 0)
            started++;
        pthread_attr_destroy(&attr);
    }
    pool.threads = started; /* fewer threads is slower, not wrong */
}

void pool_set_threads(int threads)
{
    pool.threads = threads;
}

int pool_threads(void)
{
    pthread_once(&pool.once, start);
    return pool.threads;
}

/* One generation of at most MAX_TASKS tasks, the first at index offset. */
struct window {
    pool_task_fn fn;
    void *ctx;
    int offset;
};

static void windowed(void *ctx, int i)
{
    const struct window *w = ctx;
    w->fn(w->ctx, w->offset + i);
}

void pool_run(pool_task_fn fn, void *ctx, int n)
{
    if (n <= 0)
        return;
    if (n == 1 || pool_threads() == 1 || pthread_mutex_trylock(&pool.busy) != 0) {
        for (int i = 0; i < n; i++)
            fn(ctx, i);
        return;
    }
    for (int offset = 0; offset < n; offset += MAX_TASKS) {
        int count = n - offset < MAX_TASKS ? n - offset : MAX_TASKS;
        struct window win = {.fn = fn, .ctx = ctx, .offset = offset};
        pool.fn = offset || count < n ? windowed : fn;
        pool.ctx = offset || count < n ? (void *)&win : ctx;
        atomic_store(&pool.completed, 0);
        unsigned long g = atomic_load(&pool.generation) + 1;
        uint64_t gen = g & 0xffffff;
        atomic_store(&pool.work, gen << (2 * TASK_BITS) | (uint64_t)count << TASK_BITS);
        atomic_store(&pool.generation, g);
        if (atomic_load(&pool.sleepers) > 0) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_broadcast(&pool.wake);
            pthread_mutex_unlock(&pool.lock);
        }
        drain(gen);
        for (int i = 0; i < SPIN_ROUNDS && atomic_load(&pool.completed) < count; i++)
            cpu_relax();
        if (atomic_load(&pool.completed) < count) {
            pthread_mutex_lock(&pool.lock);
            while (atomic_load(&pool.completed) < count)
                pthread_cond_wait(&pool.done, &pool.lock);
            pthread_mutex_unlock(&pool.lock);
        }
    }
    pthread_mutex_unlock(&pool.busy);
}
