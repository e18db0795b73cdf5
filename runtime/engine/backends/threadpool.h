/* A fixed pool of worker threads for splitting one operator's work.
 *
 * pool_run(fn, ctx, n) calls fn(ctx, i) for i in [0, n), spread over the
 * pool's threads and the caller, and returns when all have finished. The
 * pool is process-wide, created on first use with pool_set_threads' count
 * and never torn down (its threads spin about 50 µs for the next operator,
 * then idle on a condition variable). When
 * another scoring thread is using the pool, the caller runs its tasks itself:
 * requests never wait for each other's operators. */
#ifndef AMLSERVE_THREADPOOL_H
#define AMLSERVE_THREADPOOL_H

typedef void (*pool_task_fn)(void *ctx, int index);

/* Threads in total including the caller; 0 = one per CPU. Takes effect if
 * called before the first pool_run. */
void pool_set_threads(int threads);
int pool_threads(void);
void pool_run(pool_task_fn fn, void *ctx, int n);

#endif
