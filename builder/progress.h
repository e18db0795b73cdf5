/* Transfer progress on stderr: on a TTY a line redrawn a few times a second
 * (bytes, rate, ETA, blobs done), otherwise nothing until the caller prints
 * its summary. The counters are atomics the transfer threads bump; struct
 * progress is caller-owned (progress_start / progress_stop). */
#ifndef AMLPKG_PROGRESS_H
#define AMLPKG_PROGRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct progress {
    const char *label;
    atomic_llong *bytes; /* borrowed: bytes moved so far */
    long long bytes_base;
    atomic_llong bytes_total;
    atomic_int blobs_done, blobs_total;
    atomic_int stop;
    int tty;
    pthread_t thread;
    int running;
    double started;
};

void progress_start(struct progress *p, const char *label, atomic_llong *bytes, int tty);
void progress_stop(struct progress *p);
double progress_now(void);

#endif
