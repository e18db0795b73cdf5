/* Prometheus metrics for /metrics: requests by status, a latency histogram,
 * requests in flight (and busy, the scrape left out, beside the configured
 * maximum per replica: what autoscalers divide), time spent queued for a
 * scoring thread, model load time and worker restarts. Counters are atomics: handlers on every thread update
 * them without locks. */
#ifndef AMLSERVE_METRICS_H
#define AMLSERVE_METRICS_H

#include "common/buf.h"

#include <stdatomic.h>

#define METRICS_BUCKETS 15

struct metrics {
    atomic_ulong by_status[600];
    atomic_ulong latency_buckets[METRICS_BUCKETS]; /* cumulative at render time */
    atomic_ulong latency_sum_us, queue_wait_sum_us, queued_requests;
    atomic_long in_flight;
    double model_load_ms;
    long max_concurrent; /* the configured maximum per replica (--max-queue), for autoscalers */
};

void metrics_init(struct metrics *m);
void metrics_request_started(struct metrics *m);
/* total_ms: handler time; queue_ms: time waited for a scoring thread. */
void metrics_request_done(struct metrics *m, int status, double total_ms, double queue_ms);
/* Appends the text exposition format; restarts: Python workers replaced. */
void metrics_render(struct metrics *m, struct buf *out, long worker_restarts);

#endif
