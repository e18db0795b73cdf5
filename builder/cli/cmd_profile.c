/* amlpkg profile SPEC --input FILE: Model.profile on one machine. Starts the
 * package's service here, replays the sample requests at a concurrency, and
 * measures throughput, latency, CPU and memory; then sizes the container. */
#include "builder/cli/commands.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/parse_number.h"
#include "builder/service/image_service.h"
#include "builder/service/load_gen.h"
#include "builder/service/local_service.h"
#include "builder/service/proc_usage.h"
#include "builder/sys/runtime_locate.h"
#include "builder/cli/spec_cli.h"
#include "builder/spec/spec.h"

#include <curl/curl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char profile_usage[] =
    "usage: amlpkg profile SPEC --input FILE [options]\n"
    "       amlpkg profile --inference-config F --model N:V=PATH... --input FILE [options]\n"
    "       amlpkg profile --image ARCHIVE --input FILE [--cpus N] [--memory SIZE] [options]\n"
    "\n"
    "Starts the package's service on this host, replays the requests in FILE (one JSON request\n"
    "body per line) at the given concurrency, and reports throughput, latency, CPU and memory of\n"
    "the service's processes; then recommends containerResourceRequirements (cpu, memoryInGB)\n"
    "and a replica count, as Azure ML's Model.profile does.\n"
    "\n"
    "options:\n"
    "  -i, --input FILE          request bodies, one JSON document per line (required)\n"
    "  -c, --concurrency N       requests in flight at once (default 1)\n"
    "  -d, --duration S          seconds to run (default 10)\n"
    "  -n, --requests N          run for N requests instead of a duration\n"
    "      --target-rps R        requests/s the deployment must sustain (default: the measured rate)\n"
    "      --max-concurrent N    maxConcurrentRequestsPerContainer for sizing (default: the spec's\n"
    "                            service.max_concurrent_requests, else 1 as Azure ML)\n"
    "      --target-utilization F  autoscaler target, 0.1 to 1 (default: the deployment config's\n"
    "                            autoScaler.targetUtilization, else 0.7 as Azure ML)\n"
    "      --image ARCHIVE       profile a built image under podman instead ($AMLPKG_PODMAN overrides\n"
    "                            the podman command); with --cpus N and --memory SIZE as its limits\n"
    "      --python PATH         interpreter for the entry script (default: $AZUREML_PYTHON, else python3)\n"
    "      --runtime PATH        amlserve binary (default: beside amlpkg, or $AMLPKG_AMLSERVE)\n"
    "      --json                print the result as one JSON object\n" SPEC_CLI_HELP
    "  -h, --help                show this help\n"
    "\n"
    "Recommendation: cpu = peak cores (busiest second) x 1.25, memoryInGB = peak resident memory\n"
    "x 1.5, both rounded up to 0.1; replicas = ceil(rps x p90 latency / utilization / max concurrent).\n";

#define CPU_HEADROOM 1.25
#define MEMORY_HEADROOM 1.5
#define MAX_INPUT_BYTES (256u << 20)
#define MAX_BODIES 100000

struct profile_options {
    struct spec_cli package;
    const char *spec_path, *input, *python, *runtime, *image, *cpus, *memory;
    long concurrency, requests, max_concurrent;
    double duration, target_rps, utilization;
    int json;
};

static int parse_double(const char *text, const char *what, double min, double max, double *out)
{
    int rc = parse_number_double(out, what, text, min, max);
    if (rc) {
        fprintf(stderr, "amlpkg profile: %s\n", err_message(rc));
        err_clear();
        return -1;
    }
    return 0;
}

/* Counts are read as decimals that must be whole, so "1e3" is a thousand requests. */
static int parse_long(const char *text, const char *what, long min, long max, long *out)
{
    double v;
    if (parse_double(text, what, (double)min, (double)max, &v))
        return -1;
    if (v != floor(v)) {
        fprintf(stderr, "amlpkg profile: %s: expected an integer from %ld to %ld, found '%s'\n", what, min, max, text);
        return -1;
    }
    *out = (long)v;
    return 0;
}

static int parse_args(struct profile_options *o, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"input", required_argument, NULL, 'i'},
        {"concurrency", required_argument, NULL, 'c'},
        {"duration", required_argument, NULL, 'd'},
        {"requests", required_argument, NULL, 'n'},
        {"target-rps", required_argument, NULL, 'r'},
        {"max-concurrent", required_argument, NULL, 'm'},
        {"target-utilization", required_argument, NULL, 'u'},
        {"python", required_argument, NULL, 'P'},
        {"runtime", required_argument, NULL, 'R'},
        {"json", no_argument, NULL, 'j'},
        {"image", required_argument, NULL, 'I'},
        {"cpus", required_argument, NULL, 'C'},
        {"memory", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        SPEC_CLI_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    o->concurrency = 1;
    o->duration = 10;
    optind = 1;
    int c, bad = 0, has_duration = 0;
    while (!bad && (c = getopt_long(argc, argv, "i:c:d:n:h", long_opts, NULL)) != -1) {
        int used = spec_cli_option(&o->package, c, optarg, "profile");
        if (used < 0)
            return EXIT_USAGE;
        if (used)
            continue;
        switch (c) {
        case 'i': o->input = optarg; break;
        case 'c': bad = parse_long(optarg, "--concurrency", 1, 1024, &o->concurrency); break;
        case 'd': bad = parse_double(optarg, "--duration", 0.1, 86400, &o->duration), has_duration = 1; break;
        case 'n': bad = parse_long(optarg, "--requests", 1, 1000000000, &o->requests); break;
        case 'r': bad = parse_double(optarg, "--target-rps", 0.001, 1e9, &o->target_rps); break;
        case 'm': bad = parse_long(optarg, "--max-concurrent", 1, 1000000, &o->max_concurrent); break;
        case 'u': bad = parse_double(optarg, "--target-utilization", 0.1, 1, &o->utilization); break;
        case 'P': o->python = optarg; break;
        case 'R': o->runtime = optarg; break;
        case 'j': o->json = 1; break;
        case 'I': o->image = optarg; break;
        case 'C': o->cpus = optarg; break;
        case 'M': o->memory = optarg; break;
        case 'h': fputs(profile_usage, stdout); return -1;
        default: return cmd_usage_error(profile_usage);
        }
    }
    if (bad)
        return EXIT_USAGE;
    if (optind < argc - 1 || !o->input) {
        fprintf(stderr, "amlpkg profile: expected one SPEC (or --image ARCHIVE) and --input FILE\n");
        return cmd_usage_error(profile_usage);
    }
    o->spec_path = optind < argc ? argv[optind] : NULL;
    if (o->image && (o->spec_path || o->package.inference_config)) {
        fprintf(stderr, "amlpkg profile: --image profiles a built image: give no SPEC or --inference-config\n");
        return EXIT_USAGE;
    }
    if (!o->image && spec_cli_check(&o->package, o->spec_path, "profile"))
        return EXIT_USAGE;
    if ((o->cpus || o->memory) && !o->image) {
        fprintf(stderr, "amlpkg profile: --cpus and --memory limit a container: use them with --image\n");
        return EXIT_USAGE;
    }
    if (has_duration && o->requests) {
        fprintf(stderr, "amlpkg profile: give --duration or --requests, not both\n");
        return EXIT_USAGE;
    }
    return 0;
}

/* One request body per non-blank line; each must be JSON, checked before anything starts.
 * Bodies point into text, which must outlive them. lines[i] is body i's line number. */
static int read_bodies(struct buf *text, struct load_body **out, int **lines, size_t *n, const char *path)
{
    int rc = buf_read_file(text, path);
    if (rc)
        return rc;
    struct load_body *bodies = NULL;
    int *numbers = NULL;
    size_t count = 0, cap = 0;
    struct arena arena;
    arena_init(&arena, 1 << 16, 1u << 30);
    int line = 0;
    for (char *p = text->data; !rc && p < text->data + text->len;) {
        char *eol = memchr(p, '\n', (size_t)(text->data + text->len - p));
        char *end = eol ? eol : text->data + text->len;
        line++;
        size_t len = (size_t)(end - p);
        if (len && p[len - 1] == '\r')
            len--;
        int blank = 1;
        for (size_t i = 0; i < len && blank; i++)
            blank = p[i] == ' ' || p[i] == '\t';
        if (!blank) {
            struct json_value *v;
            arena_reset(&arena);
            if ((rc = json_parse(&v, &arena, p, len, "@")) != 0) {
                /* The body is one line of the file: "@:1:COL: what" becomes "FILE:LINE:COL: what". */
                char what[512];
                const char *msg = err_message(rc);
                snprintf(what, sizeof what, "%s", strncmp(msg, "@:1:", 4) ? msg : msg + 4);
                err_clear();
                rc = err_set(rc, "%s:%d:%s", path, line, what);
                break;
            }
            if (count == MAX_BODIES) {
                rc = err_set(ERR_LIMIT, "%s:%d: more than %d request bodies", path, line, MAX_BODIES);
                break;
            }
            if (count == cap) {
                cap = cap ? cap * 2 : 64;
                struct load_body *b = realloc(bodies, cap * sizeof *b);
                int *l = b ? realloc(numbers, cap * sizeof *l) : NULL;
                if (b)
                    bodies = b;
                if (l)
                    numbers = l;
                if (!b || !l) {
                    rc = err_set(ERR_NOMEM, "out of memory");
                    break;
                }
            }
            bodies[count] = (struct load_body){.data = p, .len = len};
            numbers[count++] = line;
        }
        p = eol ? eol + 1 : end;
    }
    arena_release(&arena);
    if (!rc && count == 0)
        rc = err_set(ERR_INVALID, "%s: no request bodies (one JSON document per line)", path);
    if (rc) {
        free(bodies);
        free(numbers);
        return rc;
    }
    *out = bodies;
    *lines = numbers;
    *n = count;
    return 0;
}

static size_t collect(char *ptr, size_t size, size_t n, void *ctx)
{
    struct buf *b = ctx;
    buf_append(b, ptr, size * n); /* past the cap the answer is only cut short in the message */
    return size * n;
}

/* Sends every distinct body once before measuring: warms the service up and
 * names the input lines the service rejects. Returns how many were rejected. */
static int warm_up(const char *url, const char *authorization, const struct load_body *bodies, const int *lines,
                   size_t n, const char *input)
{
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    char auth[512];
    if (authorization) {
        snprintf(auth, sizeof auth, "Authorization: %s", authorization);
        headers = curl_slist_append(headers, auth);
    }
    int rejected = 0;
    struct buf answer;
    buf_init(&answer, 4096);
    if (!curl || !headers)
        rejected = -1;
    for (size_t i = 0; rejected >= 0 && i < n && i < 1000; i++) {
        buf_reset(&answer);
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, bodies[i].data);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bodies[i].len);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 600L);
        long status = 0;
        CURLcode cc = curl_easy_perform(curl);
        if (cc == CURLE_OK)
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (status / 100 == 2)
            continue;
        rejected++;
        if (rejected <= 10) {
            if (cc != CURLE_OK)
                fprintf(stderr, "amlpkg profile: %s:%d: %s\n", input, lines[i], curl_easy_strerror(cc));
            else
                fprintf(stderr, "amlpkg profile: %s:%d: the service answered HTTP %ld: %.200s\n", input, lines[i],
                        status, answer.data ? answer.data : "");
        }
    }
    buf_release(&answer);
    curl_slist_free_all(headers);
    if (curl)
        curl_easy_cleanup(curl);
    return rejected;
}

static void show_progress(void *ctx, long done, long errors, double elapsed)
{
    (void)ctx;
    fprintf(stderr, "\r  %6.1f s  %9ld requests  %6ld errors  %9.1f requests/s ", elapsed, done, errors,
            elapsed > 0 ? (double)done / elapsed : 0);
}

static double round_up_tenth(double v)
{
    double r = ceil(v * 10 - 1e-9) / 10;
    return r < 0.1 ? 0.1 : r;
}

struct report {
    const char *name, *serving;
    struct load_result load;
    struct proc_usage usage;
    double model_load_ms, throughput, rps, p50, p90, p95, p99, p999, max, mean;
    double cpu, memory_gb;
    long replicas, max_concurrent, concurrency, warmup_rejected;
    double utilization;
};

static void print_text(const struct report *r)
{
    printf("Profiled %s (%s): %ld requests in %.1f s at concurrency %ld, %ld errors\n", r->name, r->serving,
           r->load.requests, r->load.elapsed_s, r->concurrency, r->load.errors);
    if (r->load.first_error[0])
        printf("  first error       %s\n", r->load.first_error);
    printf("  throughput        %.1f requests/s\n", r->throughput);
    printf("  latency (ms)      p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  mean %.3f\n", r->p50, r->p90, r->p99, r->max,
           r->mean);
    printf("  CPU               %.2f cores on average, %.2f in the busiest second\n", r->usage.avg_cores,
           r->usage.peak_cores);
    printf("  memory            %.1f MB peak resident (%d processes), %.1f MB idle\n", r->usage.peak_rss_mb,
           r->usage.peak_processes, r->usage.start_rss_mb);
    printf("  model load        %.1f ms\n", r->model_load_ms);
    printf("Recommendation (containerResourceRequirements):\n");
    printf("  cpu: %.1f           busiest-second cores x %.2f, rounded up to 0.1\n", r->cpu, CPU_HEADROOM);
    printf("  memoryInGB: %.1f    peak resident memory x %.1f, rounded up to 0.1 GB\n", r->memory_gb, MEMORY_HEADROOM);
    printf("  replicas: %ld        for %.1f requests/s: ceil(rps x p90 latency / %.2f utilization / %ld max "
           "concurrent requests)\n",
           r->replicas, r->rps, r->utilization, r->max_concurrent);
}

static int print_json(const struct report *r)
{
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "{\"name\":");
    json_write_string(&b, r->name, strlen(r->name));
    buf_appendf(&b,
                ",\"state\":\"%s\",\"requestedCpu\":%.1f,\"requestedMemoryInGb\":%.1f,"
                "\"requestedQueriesPerSecond\":%.3f,\"recommendedReplicas\":%ld,",
                r->load.errors ? "CompletedWithErrors" : "Succeeded", r->cpu, r->memory_gb, r->rps, r->replicas);
    buf_appendf(&b,
                "\"maxUtilizedCpu\":%.3f,\"averageUtilizedCpu\":%.3f,\"maxUtilizedMemoryInGb\":%.4f,"
                "\"idleMemoryInGb\":%.4f,",
                r->usage.peak_cores, r->usage.avg_cores, r->usage.peak_rss_mb / 1024, r->usage.start_rss_mb / 1024);
    buf_appendf(&b,
                "\"measuredQueriesPerSecond\":%.3f,\"totalQueries\":%ld,\"successQueries\":%ld,"
                "\"errorQueries\":%ld,\"successRate\":%.4f,",
                r->throughput, r->load.requests, r->load.requests - r->load.errors, r->load.errors,
                r->load.requests ? (double)(r->load.requests - r->load.errors) / (double)r->load.requests : 0);
    buf_appendf(&b,
                "\"averageLatencyInMs\":%.6f,\"latencyPercentile50InMs\":%.6f,\"latencyPercentile90InMs\":%.6f,"
                "\"latencyPercentile95InMs\":%.6f,\"latencyPercentile99InMs\":%.6f,"
                "\"latencyPercentile999InMs\":%.6f,\"maxLatencyInMs\":%.6f,",
                r->mean, r->p50, r->p90, r->p95, r->p99, r->p999, r->max);
    buf_appendf(&b,
                "\"modelLoadMs\":%.3f,\"concurrency\":%ld,\"durationSeconds\":%.3f,\"warmupRejected\":%ld,"
                "\"cpuHeadroom\":%.2f,\"memoryHeadroom\":%.2f,\"targetUtilization\":%.2f,"
                "\"maxConcurrentRequestsPerContainer\":%ld,\"firstError\":",
                r->model_load_ms, r->concurrency, r->load.elapsed_s, r->warmup_rejected, CPU_HEADROOM, MEMORY_HEADROOM,
                r->utilization, r->max_concurrent);
    if (r->load.first_error[0])
        json_write_string(&b, r->load.first_error, strlen(r->load.first_error));
    else
        buf_append_str(&b, "null");
    int rc = buf_append_str(&b, "}\n");
    if (!rc)
        fwrite(b.data, 1, b.len, stdout);
    buf_release(&b);
    return rc;
}

static void summarize(struct report *r, const struct profile_options *o)
{
    struct load_result *l = &r->load;
    r->throughput = l->elapsed_s > 0 ? (double)(l->requests - l->errors) / l->elapsed_s : 0;
    r->p50 = load_result_quantile(l, 0.50);
    r->p90 = load_result_quantile(l, 0.90);
    r->p95 = load_result_quantile(l, 0.95);
    r->p99 = load_result_quantile(l, 0.99);
    r->p999 = load_result_quantile(l, 0.999);
    r->max = load_result_quantile(l, 1.0);
    r->mean = load_result_mean(l);
    r->cpu = round_up_tenth(r->usage.peak_cores * CPU_HEADROOM);
    r->memory_gb = round_up_tenth(r->usage.peak_rss_mb * MEMORY_HEADROOM / 1024);
    r->rps = o->target_rps > 0 ? o->target_rps : r->throughput;
    r->utilization = o->utilization;
    double replicas = ceil(r->rps * (r->p90 / 1000) / r->utilization / (double)r->max_concurrent - 1e-9);
    r->replicas = replicas < 1 ? 1 : (long)replicas;
    r->concurrency = o->concurrency;
}

int cmd_profile(int argc, char **argv)
{
    struct profile_options o = {0};
    int r = parse_args(&o, argc, argv);
    if (r)
        return r < 0 ? EXIT_OK : r;
    struct spec *spec = NULL;
    char *amlserve = NULL;
    struct buf text;
    buf_init(&text, MAX_INPUT_BYTES);
    struct load_body *bodies = NULL;
    int *lines = NULL;
    size_t n_bodies = 0;
    struct local_service svc = {.out_fd = -1};
    struct report rep = {0};
    int started = 0;
    o.package.python = o.python; /* profile's --python also converts scikit-learn models */
    int rc = o.image ? 0 : spec_cli_load(&spec, &o.package, o.spec_path);
    if (!rc)
        rc = read_bodies(&text, &bodies, &lines, &n_bodies, o.input);
    if (!rc && !o.image)
        rc = runtime_locate(&amlserve, o.runtime);
    if (rc)
        goto done;
    struct local_service_options lo = {.amlserve = amlserve,
                                       .host = "127.0.0.1",
                                       .port = 0,
                                       .python = o.python,
                                       .quiet = 1,
                                       .capture_stderr = 1,
                                       .plain_http = 1};
    struct image_service_options io = {.archive = o.image, .cpus = o.cpus, .memory = o.memory};
    if ((rc = o.image ? image_service_start(&svc, &io) : local_service_start(&svc, spec, &lo)))
        goto done;
    started = 1;
    char url[128], authorization[128] = "";
    snprintf(url, sizeof url, "http://127.0.0.1:%d/score", svc.port);
    if (svc.keys[0][0])
        snprintf(authorization, sizeof authorization, "Bearer %s", svc.keys[0]);
    const char *auth = authorization[0] ? authorization : NULL;
    rep.warmup_rejected = warm_up(url, auth, bodies, lines, n_bodies, o.input);
    if (rep.warmup_rejected < 0) {
        rc = err_set(ERR_IO, "cannot set up an HTTP client");
        goto done;
    }
    if ((rc = proc_usage_start(&rep.usage, svc.pid)))
        goto done;
    int tty = isatty(STDERR_FILENO) && !o.json;
    struct load_plan plan = {
        .url = url,
        .authorization = auth,
        .bodies = bodies,
        .n_bodies = n_bodies,
        .lines = lines,
        .source = o.input,
        .concurrency = (int)o.concurrency,
        .duration_s = o.duration,
        .requests = o.requests,
        .on_progress = tty ? show_progress : NULL,
    };
    rc = load_gen_run(&rep.load, &plan);
    proc_usage_stop(&rep.usage);
    if (tty)
        fputs("\r\033[K", stderr);
    if (rc)
        goto done;
    rep.name = o.image ? o.image : spec->image_name;
    rep.serving = o.image                        ? "image under podman"
                  : spec->inference.entry_script ? spec->inference.entry_script
                                                 : "no-code ONNX";
    rep.model_load_ms = svc.model_load_ms;
    rep.max_concurrent = o.max_concurrent                                ? o.max_concurrent
                         : spec && spec->service.max_concurrent_requests ? spec->service.max_concurrent_requests
                                                                         : 1;
    if (!o.utilization) /* the deployment config's autoScaler target, else Azure's default 70% */
        o.utilization =
            spec && spec->service.target_utilization_pct ? spec->service.target_utilization_pct / 100.0 : 0.7;
    summarize(&rep, &o);
    if (o.json)
        rc = print_json(&rep);
    else
        print_text(&rep);
    if (!rc && rep.load.requests > 0 && rep.load.errors == rep.load.requests)
        rc = err_set(ERR_INVALID, "every request failed (%s); the figures above measure errors, not scoring",
                     rep.load.first_error);
done:
    if (started)
        local_service_stop(&svc);
    load_result_release(&rep.load);
    free(bodies);
    free(lines);
    buf_release(&text);
    free(amlserve);
    spec_free(spec);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
