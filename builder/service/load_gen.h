/* A closed-loop HTTP load generator for `profile`: N client threads, each
 * with its own keep-alive connection, POST request bodies in turn to one URL
 * until a deadline or a request count, and record every latency.
 *
 * load_gen_run fills a caller-owned struct load_result; its latencies array
 * is malloc'd and released with load_result_release. */
#ifndef AMLPKG_LOAD_GEN_H
#define AMLPKG_LOAD_GEN_H

#include <stddef.h>

struct load_body {
    const char *data;
    size_t len;
};

struct load_plan {
    const char *url;
    const char *authorization; /* "Bearer <key>" or NULL */
    const struct load_body *bodies;
    size_t n_bodies;
    const int *lines;   /* bodies[i]'s line in source, for errors; may be NULL */
    const char *source; /* where the bodies came from */
    int concurrency;
    double duration_s; /* used when requests is 0 */
    long requests;     /* total, across threads; 0: run for duration_s */
    void (*on_progress)(void *ctx, long done, long errors, double elapsed_s);
    void *progress_ctx; /* on_progress is called about every 200 ms from the calling thread */
};

struct load_result {
    long requests;         /* completed, including errors */
    long errors;           /* non-2xx answers and transport failures */
    long status_counts[6]; /* by first digit: [0] transport failure, [2] 2xx ... [5] 5xx */
    char first_error[256];
    double elapsed_s;
    double *latencies_ms; /* sorted, one per successful request */
    size_t n_latencies;
};

int load_gen_run(struct load_result *out, const struct load_plan *plan);
/* The q-quantile (0..1) of the sorted latencies, or 0 when there are none. */
double load_result_quantile(const struct load_result *r, double q);
double load_result_mean(const struct load_result *r);
void load_result_release(struct load_result *r);

#endif
