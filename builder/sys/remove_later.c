#include "builder/sys/remove_later.h"

#include "builder/sys/fsutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PENDING 16

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t pending[MAX_PENDING];
static size_t n_pending;
static int wait_at_exit;

static void *remove_tree(void *arg)
{
    fs_remove_tree(arg);
    free(arg);
    return NULL;
}

void fs_removals_wait(void)
{
    pthread_mutex_lock(&lock);
    size_t n = n_pending;
    pthread_t threads[MAX_PENDING];
    memcpy(threads, pending, n * sizeof *threads);
    n_pending = 0;
    pthread_mutex_unlock(&lock);
    for (size_t i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
}

void fs_remove_tree_later(const char *path)
{
    if (!path)
        return;
    char *copy = strdup(path);
    pthread_mutex_lock(&lock);
    int started = copy && n_pending < MAX_PENDING && pthread_create(&pending[n_pending], NULL, remove_tree, copy) == 0;
    if (started) {
        n_pending++;
        if (!wait_at_exit)
            wait_at_exit = atexit(fs_removals_wait) == 0;
    }
    pthread_mutex_unlock(&lock);
    if (!started) {
        fs_remove_tree(path);
        free(copy);
    }
}
