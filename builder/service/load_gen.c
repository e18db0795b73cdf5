#include "builder/service/load_gen.h"

#include "common/err.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct shared {
    const struct load_plan *plan;
    atomic_long issued;
    atomic_long done;
    atomic_long errors;
    atomic_int stop;
    double deadline;      /* monotonic seconds; 0 when counting requests */
    pthread_mutex_t lock; /* guards first_error and status_counts */
    struct load_result *result;
};

struct client {
    pthread_t thread;
    struct shared *sh;
    double *latencies;
    size_t n, cap;
    int failed; /* out of memory or curl setup */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *ptr, size_t size, size_t n, void *ctx)
{
    (void)ptr;
    (void)ctx;
    return size * n;
}

static int record(struct client *c, double ms)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        double *l = realloc(c->latencies, cap * sizeof *l);
        if (!l)
            return -1;
        c->latencies = l;
        c->cap = cap;
    }
    c->latencies[c->n++] = ms;
    return 0;
}

/* Takes the next request slot; 0 when the run is over. */
static int next_request(struct shared *sh, long *index)
{
    if (atomic_load(&sh->stop))
        return 0;
    long i = atomic_fetch_add(&sh->issued, 1);
    if (sh->plan->requests ? i >= sh->plan->requests : now_s() >= sh->deadline)
        return 0;
    *index = i;
    return 1;
}

static void note_error(struct shared *sh, const char *what)
{
    pthread_mutex_lock(&sh->lock);
    if (!sh->result->first_error[0])
        snprintf(sh->result->first_error, sizeof sh->result->first_error, "%s", what);
    pthread_mutex_unlock(&sh->lock);
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    struct shared *sh = c->sh;
    const struct load_plan *p = sh->plan;
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = headers ? curl_slist_append(headers, "Expect:") : NULL;
    char auth[512];
    if (headers && p->authorization) {
        snprintf(auth, sizeof auth, "Authorization: %s", p->authorization);
        headers = curl_slist_append(headers, auth);
    }
    if (!curl || !headers) {
        c->failed = 1;
        goto done;
    }
    curl_easy_setopt(curl, CURLOPT_URL, p->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 600L);
    long index;
    while (next_request(sh, &index)) {
        const struct load_body *b = &p->bodies[(size_t)index % p->n_bodies];
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, b->data);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
        double t0 = now_s();
        CURLcode cc = curl_easy_perform(curl);
        double ms = (now_s() - t0) * 1e3;
        long status = 0;
        if (cc == CURLE_OK)
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        int klass = status >= 100 && status < 600 ? (int)(status / 100) : 0;
        pthread_mutex_lock(&sh->lock);
        sh->result->status_counts[klass]++;
        pthread_mutex_unlock(&sh->lock);
        if (klass == 2) {
            if (record(c, ms)) {
                c->failed = 1;
                atomic_store(&sh->stop, 1);
            }
        } else {
            atomic_fetch_add(&sh->errors, 1);
            char what[256], where[160] = "";
            size_t body = (size_t)index % p->n_bodies;
            if (p->lines && p->source)
                snprintf(where, sizeof where, " (%s:%d)", p->source, p->lines[body]);
            if (cc != CURLE_OK)
                snprintf(what, sizeof what, "request %ld%s: %s", index + 1, where, curl_easy_strerror(cc));
            else
                snprintf(what, sizeof what, "request %ld%s: HTTP %ld", index + 1, where, status);
            note_error(sh, what);
        }
        atomic_fetch_add(&sh->done, 1);
    }
done:
    curl_slist_free_all(headers);
    if (curl)
        curl_easy_cleanup(curl);
    return NULL;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int load_gen_run(struct load_result *out, const struct load_plan *plan)
{
    memset(out, 0, sizeof *out);
    if (plan->concurrency < 1 || plan->n_bodies == 0)
        return err_set(ERR_INVALID, "load generator: nothing to send");
    struct shared sh = {.plan = plan, .result = out};
    pthread_mutex_init(&sh.lock, NULL);
    struct client *clients = calloc((size_t)plan->concurrency, sizeof *clients);
    if (!clients)
        return err_set(ERR_NOMEM, "out of memory");
    double start = now_s();
    sh.deadline = start + plan->duration_s;
    int started = 0, rc = 0;
    for (; started < plan->concurrency; started++) {
        clients[started].sh = &sh;
        if (pthread_create(&clients[started].thread, NULL, client_main, &clients[started])) {
            atomic_store(&sh.stop, 1);
            rc = err_set(ERR_IO, "cannot start client thread %d", started + 1);
            break;
        }
    }
    /* Progress from this thread while the clients run. */
    while (!rc && plan->on_progress) {
        struct timespec tick = {0, 200 * 1000 * 1000};
        nanosleep(&tick, NULL);
        long done = atomic_load(&sh.done);
        plan->on_progress(plan->progress_ctx, done, atomic_load(&sh.errors), now_s() - start);
        if (plan->requests ? done >= plan->requests : now_s() >= sh.deadline)
            break;
    }
    size_t total = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(clients[i].thread, NULL);
        total += clients[i].n;
        if (clients[i].failed && !rc)
            rc = err_set(ERR_NOMEM, "load generator: out of memory or curl setup failed");
    }
    out->elapsed_s = now_s() - start;
    out->requests = atomic_load(&sh.done);
    out->errors = atomic_load(&sh.errors);
    out->latencies_ms = total ? malloc(total * sizeof *out->latencies_ms) : NULL;
    if (total && !out->latencies_ms && !rc)
        rc = err_set(ERR_NOMEM, "out of memory");
    for (int i = 0; i < started; i++) {
        if (out->latencies_ms) {
            memcpy(out->latencies_ms + out->n_latencies, clients[i].latencies, clients[i].n * sizeof(double));
            out->n_latencies += clients[i].n;
        }
        free(clients[i].latencies);
    }
    free(clients);
    pthread_mutex_destroy(&sh.lock);
    if (out->n_latencies)
        qsort(out->latencies_ms, out->n_latencies, sizeof(double), compare_double);
    return rc;
}

double load_result_quantile(const struct load_result *r, double q)
{
    if (!r->n_latencies)
        return 0;
    /* Nearest rank: the smallest value with at least q of the samples at or below it. */
    size_t rank = (size_t)ceil(q * (double)r->n_latencies);
    return r->latencies_ms[rank ? rank - 1 : 0];
}

double load_result_mean(const struct load_result *r)
{
    double sum = 0;
    for (size_t i = 0; i < r->n_latencies; i++)
        sum += r->latencies_ms[i];
    return r->n_latencies ? sum / (double)r->n_latencies : 0;
}

void load_result_release(struct load_result *r)
{
    free(r->latencies_ms);
    r->latencies_ms = NULL;
    r->n_latencies = 0;
}
