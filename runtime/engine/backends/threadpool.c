/* Workers wait for a new generation number; tasks are handed out through an
 * atomic counter so uneven tasks balance themselves. */
#include "threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define POOL_MAX_THREADS 64

static struct {
    pthread_once_t once;
    int threads;          /* including the caller */
    pthread_mutex_t busy; /* held by the one caller using the pool */
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    unsigned long generation;
    pool_task_fn fn;
    void *ctx;
    int n_tasks;
    atomic_int next;
    int running; /* workers still inside the current generation */
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

static void *worker(void *arg)
{
    (void)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (pool.generation == seen)
            pthread_cond_wait(&pool.wake, &pool.lock);
        seen = pool.generation;
        pthread_mutex_unlock(&pool.lock);
        drain();
        pthread_mutex_lock(&pool.lock);
        if (--pool.running == 0)
            pthread_cond_signal(&pool.done);
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
    pthread_mutex_lock(&pool.lock);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n_tasks = n;
    atomic_store(&pool.next, 0);
    pool.running = pool.threads - 1;
    pool.generation++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    drain();
    pthread_mutex_lock(&pool.lock);
    while (pool.running > 0)
        pthread_cond_wait(&pool.done, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.busy);
}
