#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void draw(struct progress *p, int final)
{
    double moved = (double)(atomic_load(p->bytes) - p->bytes_base);
    double total = (double)atomic_load(&p->bytes_total);
    double secs = progress_now() - p->started;
    double rate = secs > 0 ? moved / secs : 0;
    char eta[32] = "";
    if (!final && rate > 0 && total > moved)
        snprintf(eta, sizeof eta, "  ETA %.0fs", (total - moved) / rate);
    fprintf(stderr, "\r\033[K%s  %.1f/%.1f MB  %.1f MB/s%s  blobs %d/%d%s", p->label, moved / 1e6, total / 1e6,
            rate / 1e6, eta, atomic_load(&p->blobs_done), atomic_load(&p->blobs_total), final ? "\n" : "");
    fflush(stderr);
}

static void *run(void *arg)
{
    struct progress *p = arg;
    while (!atomic_load(&p->stop)) {
        draw(p, 0);
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

void progress_start(struct progress *p, const char *label, atomic_llong *bytes, int tty)
{
    p->label = label;
    p->bytes = bytes;
    p->bytes_base = atomic_load(bytes);
    p->tty = tty;
    p->started = progress_now();
    atomic_store(&p->stop, 0);
    p->running = tty && pthread_create(&p->thread, NULL, run, p) == 0;
}

void progress_stop(struct progress *p)
{
    if (!p->running)
        return;
    atomic_store(&p->stop, 1);
    pthread_join(p->thread, NULL);
    p->running = 0;
    draw(p, 1);
}
