#include "metrics.h"

#include "engine/backends/backend.h"

#include <string.h>

/* Upper bounds in seconds, Prometheus style; the last bucket is +Inf. */
static const double bucket_le[METRICS_BUCKETS - 1] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

void metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof *m);
}

void metrics_request_started(struct metrics *m)
{
    atomic_fetch_add(&m->in_flight, 1);
}

void metrics_request_done(struct metrics *m, int status, double total_ms, double queue_ms)
{
    atomic_fetch_sub(&m->in_flight, 1);
    if (status >= 100 && status < 600)
        atomic_fetch_add(&m->by_status[status], 1);
    double seconds = total_ms / 1e3;
    int b = 0;
    while (b < METRICS_BUCKETS - 1 && seconds > bucket_le[b])
        b++;
    atomic_fetch_add(&m->latency_buckets[b], 1);
    atomic_fetch_add(&m->latency_sum_us, (unsigned long)(total_ms * 1e3));
    if (queue_ms > 0) {
        atomic_fetch_add(&m->queue_wait_sum_us, (unsigned long)(queue_ms * 1e3));
        atomic_fetch_add(&m->queued_requests, 1);
    }
}

/* Which backend runs the ONNX models' nodes (cpu-ref: the reference kernels,
 * including calls a backend declined). */
static void render_backends(struct buf *out)
{
    buf_appendf(out,
                "# HELP amlserve_engine_backend_info The engine's backend choice and thread pool size.\n"
                "# TYPE amlserve_engine_backend_info gauge\n"
                "amlserve_engine_backend_info{backend=\"%s\",threads=\"%d\"} 1\n",
                backend_choice(), backend_threads());
    buf_append_str(out,
                   "# HELP amlserve_engine_nodes Nodes of the loaded ONNX models, by the backend planned to run them.\n"
                   "# TYPE amlserve_engine_nodes gauge\n");
    for (int i = -1; i < backend_count(); i++)
        buf_appendf(out, "amlserve_engine_nodes{backend=\"%s\"} %lu\n", backend_name(i), backend_planned(i));
    buf_append_str(out, "# HELP amlserve_engine_node_runs_total Node executions, by the backend that ran them.\n"
                        "# TYPE amlserve_engine_node_runs_total counter\n");
    for (int i = -1; i < backend_count(); i++)
        buf_appendf(out, "amlserve_engine_node_runs_total{backend=\"%s\"} %lu\n", backend_name(i), backend_runs(i));
}

void metrics_render(struct metrics *m, struct buf *out, long worker_restarts)
{
    buf_append_str(out, "# HELP amlserve_requests_total Requests answered, by HTTP status.\n"
                        "# TYPE amlserve_requests_total counter\n");
    for (int s = 100; s < 600; s++) {
        unsigned long n = atomic_load(&m->by_status[s]);
        if (n)
            buf_appendf(out, "amlserve_requests_total{code=\"%d\"} %lu\n", s, n);
    }
    buf_append_str(out, "# HELP amlserve_request_duration_seconds Time from a complete request to its answer.\n"
                        "# TYPE amlserve_request_duration_seconds histogram\n");
    unsigned long cumulative = 0;
    for (int b = 0; b < METRICS_BUCKETS; b++) {
        cumulative += atomic_load(&m->latency_buckets[b]);
        if (b < METRICS_BUCKETS - 1)
            buf_appendf(out, "amlserve_request_duration_seconds_bucket{le=\"%g\"} %lu\n", bucket_le[b], cumulative);
        else
            buf_appendf(out, "amlserve_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n", cumulative);
    }
    buf_appendf(out, "amlserve_request_duration_seconds_sum %.6f\n", (double)atomic_load(&m->latency_sum_us) / 1e6);
    buf_appendf(out, "amlserve_request_duration_seconds_count %lu\n", cumulative);
    buf_appendf(out,
                "# HELP amlserve_requests_in_flight Requests being answered now.\n"
                "# TYPE amlserve_requests_in_flight gauge\namlserve_requests_in_flight %ld\n",
                atomic_load(&m->in_flight));
    /* What an autoscaler divides by the maximum: the scrape asking is in flight too, so it is left out. */
    long busy = atomic_load(&m->in_flight) - 1;
    buf_appendf(out,
                "# HELP amlserve_requests_busy Requests being answered now, not counting this scrape.\n"
                "# TYPE amlserve_requests_busy gauge\namlserve_requests_busy %ld\n"
                "# HELP amlserve_max_concurrent_requests Requests a replica is configured to take at once.\n"
                "# TYPE amlserve_max_concurrent_requests gauge\namlserve_max_concurrent_requests %ld\n",
                busy > 0 ? busy : 0, m->max_concurrent);
    buf_appendf(out,
                "# HELP amlserve_queue_wait_seconds Time requests waited for a scoring thread.\n"
                "# TYPE amlserve_queue_wait_seconds summary\n"
                "amlserve_queue_wait_seconds_sum %.6f\namlserve_queue_wait_seconds_count %lu\n",
                (double)atomic_load(&m->queue_wait_sum_us) / 1e6, atomic_load(&m->queued_requests));
    buf_appendf(out,
                "# HELP amlserve_model_load_seconds Time to load the models and run init().\n"
                "# TYPE amlserve_model_load_seconds gauge\namlserve_model_load_seconds %.6f\n",
                m->model_load_ms / 1e3);
    buf_appendf(out,
                "# HELP amlserve_worker_restarts_total Python workers replaced after a crash or a timeout.\n"
                "# TYPE amlserve_worker_restarts_total counter\namlserve_worker_restarts_total %ld\n",
                worker_restarts);
    render_backends(out);
}
