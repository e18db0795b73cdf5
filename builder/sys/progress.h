/* Transfer progress on stderr. On a TTY a block redrawn five times a second:
 * one bar per blob that has started (bytes, rate, ETA; "exists" or "mounted"
 * when nothing had to move) and a total bar under them (bytes, rate, ETA,
 * blobs done). Otherwise nothing: the caller prints its one summary line.
 *
 * The transfer threads bump atomics: the total through the registry's byte
 * counter, each blob through its struct progress_blob (registry_conn's
 * blob_bytes points at it while the blob moves). struct progress is
 * caller-owned: progress_init, progress_start, progress_stop. */
#ifndef AMLPKG_PROGRESS_H
#define AMLPKG_PROGRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum progress_state { PROGRESS_WAITING, PROGRESS_MOVING, PROGRESS_DONE, PROGRESS_EXISTED, PROGRESS_MOUNTED };

struct progress_blob {
    char name[20]; /* "sha256:" + 12 hex */
    long long size;
    atomic_llong done;
    atomic_int state;
    double started, finished; /* written before state, read after it */
};

struct progress {
    const char *label;
    atomic_llong *bytes; /* borrowed: bytes moved so far */
    long long bytes_base;
    atomic_llong bytes_total;
    atomic_int blobs_done, blobs_total;
    int stop; /* under lock; signalled on wake so stopping never waits a frame out */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int tty;
    pthread_t thread;
    int running;
    double started;
    struct progress_blob *blobs; /* owned; n_blobs of them */
    size_t n_blobs;
    int lines; /* blob lines the last frame drew */
};

/* Prepares n blobs (named by digest, of the given sizes) for start; 0 or ERR_NOMEM. */
int progress_init(struct progress *p, size_t n, const char *const *digests, const int64_t *sizes);
void progress_start(struct progress *p, const char *label, atomic_llong *bytes, int tty);
/* Draws the last frame (on a TTY), stops the drawing thread, frees the blobs. */
void progress_stop(struct progress *p);
/* Blob i starts moving / ends in state. Safe with p->blobs NULL. */
struct progress_blob *progress_blob_begin(struct progress *p, size_t i);
void progress_blob_end(struct progress_blob *b, enum progress_state state);
double progress_now(void);

#endif
