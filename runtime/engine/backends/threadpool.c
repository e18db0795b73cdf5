/* Workers wait for a new generation number; tasks are handed out through an
 * atomic counter so uneven tasks balance themselves.
 *
 * One operator's work is often a fraction of a millisecond (a GEMV, an
 * elementwise op), so a condition-variable round trip per operator (futex
 * wake, the worker scheduled in) costs as much as the work. Workers and the
 * caller therefore spin for a short while (about 50 µs) before sleeping: back
 * to back operators find the workers awake, and an idle pool still sleeps. */
#include "threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define POOL_MAX_THREADS 64
#define SPIN_ROUNDS 2000

static struct {
    pthread_once_t once;
    int threads;          /* including the caller */
    pthread_mutex_t busy; /* held by the one caller using the pool */
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    atomic_ulong generation;
    atomic_int sleepers; /* workers waiting (or about to wait) on wake */
    pool_task_fn fn;
    void *ctx;
    int n_tasks;
    atomic_int next;
    atomic_int running; /* workers still inside the current generation */
} pool = {
    .once = PTHREAD_ONCE_INIT,
    .busy = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};

static void drain(void)
{
    for (;;) {
        int i = atomic_fetch_add(&pool.next, 1);
        if (i >= pool.n_tasks)
            return;
        pool.fn(pool.ctx, i);
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
        drain();
        if (atomic_fetch_sub(&pool.running, 1) == 1) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
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

void pool_run(pool_task_fn fn, void *ctx, int n)
{
    if (n <= 0)
        return;
    if (n == 1 || pool_threads() == 1 || pthread_mutex_trylock(&pool.busy) != 0) {
        for (int i = 0; i < n; i++)
            fn(ctx, i);
        return;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n_tasks = n;
    atomic_store(&pool.next, 0);
    atomic_store(&pool.running, pool.threads - 1);
    atomic_fetch_add(&pool.generation, 1);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    drain();
    for (int i = 0; i < SPIN_ROUNDS && atomic_load(&pool.running) > 0; i++)
        cpu_relax();
    if (atomic_load(&pool.running) > 0) {
        pthread_mutex_lock(&pool.lock);
        while (atomic_load(&pool.running) > 0)
            pthread_cond_wait(&pool.done, &pool.lock);
        pthread_mutex_unlock(&pool.lock);
    }
    pthread_mutex_unlock(&pool.busy);
}
