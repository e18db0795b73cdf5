/* The engine's thread pool: every task runs exactly once, generation after
 * generation back to back (workers spinning, or asleep and woken), with more
 * tasks than one generation holds, and a second caller while the pool is busy
 * runs its tasks itself. */
#include "test.h"

#include "runtime/engine/backends/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

static atomic_int hits[4096];

static void count_task(void *ctx, int i)
{
    (void)ctx;
    atomic_fetch_add(&hits[i], 1);
    for (volatile int k = 0; k < (i * 37) % 300; k++) /* uneven tasks */
        ;
}

TEST(every_task_runs_once_per_generation)
{
    for (int round = 0; round < 20000; round++) {
        int n = 1 + round % 67;
        for (int i = 0; i < n; i++)
            atomic_store(&hits[i], 0);
        pool_run(count_task, NULL, n);
        for (int i = 0; i < n; i++)
            CHECK_EQ_INT(atomic_load(&hits[i]), 1);
        if (round % 5000 == 4999)
            usleep(20000); /* long enough for the workers to fall asleep */
    }
}

static unsigned char *many;

static void mark_task(void *ctx, int i)
{
    (void)ctx;
    many[i]++;
}

TEST(more_tasks_than_one_generation_holds)
{
    int n = 2500000;
    many = calloc((size_t)n, 1);
    CHECK(many != NULL);
    pool_run(mark_task, NULL, n);
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += many[i] != 1;
    free(many);
    CHECK_EQ_INT(bad, 0);
}

static atomic_int inner_done;

static void inner_task(void *ctx, int i)
{
    (void)ctx;
    (void)i;
    atomic_fetch_add(&inner_done, 1);
}

static void *second_caller(void *arg)
{
    (void)arg;
    for (int r = 0; r < 2000; r++)
        pool_run(inner_task, NULL, 3);
    return NULL;
}

TEST(a_second_caller_is_never_blocked)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, second_caller, NULL) == 0);
    for (int r = 0; r < 2000; r++) {
        for (int i = 0; i < 16; i++)
            atomic_store(&hits[i], 0);
        pool_run(count_task, NULL, 16);
        for (int i = 0; i < 16; i++)
            CHECK_EQ_INT(atomic_load(&hits[i]), 1);
    }
    pthread_join(t, NULL);
    CHECK_EQ_INT(atomic_load(&inner_done), 6000);
}

int main(void)
{
    pool_set_threads(3); /* workers even on one CPU */
    RUN(every_task_runs_once_per_generation);
    RUN(more_tasks_than_one_generation_holds);
    RUN(a_second_caller_is_never_blocked);
    return test_failures ? 1 : 0;
}
