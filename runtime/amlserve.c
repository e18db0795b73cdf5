/* amlserve: the scoring server inside every amlpkg image. */
#include "common/err.h"
#include "common/json.h"
#include "common/parse_number.h"
#include "common/path.h"
#include "build_info.h" /* generated: $(BUILD)/gen */
#include "runtime/contract.h"
#include "runtime/engine/backends/backend.h"
#include "runtime/scorer_onnx.h"
#include "runtime/scorer_python.h"
#include "runtime/rotation_watch.h"
#include "runtime/server.h"
#include "runtime/tls.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Azure ML's inference server exits with 3 when init() fails; so do we when
 * the model cannot be loaded, so orchestrators see the same signal. */
#define EXIT_INIT_FAILED 3

/* The libraries linked into this static binary, with their Debian versions: amlpkg finds this
 * marker in the binary and lists them in the image's SBOM. */
/* In a section of its own so the SBOM finds it from the section headers (builder/image/elf_section.h). */
__attribute__((used, section(".amlserve_build_info"))) static const char amlserve_build_info[] =
    "AMLSERVE-BUILD-INFO:" AMLSERVE_BUILD_INFO;

static const char usage[] =
    "usage: amlserve [options]\n"
    "\n"
    "Serves the Azure ML scoring contract: GET / (health), POST /score. With an\n"
    "entry script, run() in Python workers answers; without, the ONNX model does.\n"
    "On the same port, the Open Inference Protocol (KServe v2): GET /v2, /v2/health/live,\n"
    "/v2/health/ready, /v2/models/NAME[/versions/V][/ready], POST .../infer (JSON or\n"
    "binary tensors) for every ONNX model under the model dir (NAME/VERSION/*.onnx).\n"
    "\n"
    "options:\n"
    "  --port N          port to listen on (default: $SERVER_PORT, else 5001)\n"
    "  --host ADDR       numeric address to listen on (default: every IPv6 and IPv4 address)\n"
    "  --model-dir DIR   models (default: $AZUREML_MODEL_DIR)\n"
    "  --max-body-mb N   largest request body (default 100)\n"
    "  --timeout-ms N    idle time allowed between reads, and between requests (default 30000)\n"
    "  --header-timeout-ms N  a request's headers must arrive within this of its first byte\n"
    "                    (default 30000; 0: none)\n"
    "  --body-timeout-ms N    its body within this of its headers (default 300000; 0: none)\n"
    "  --max-connections N    open connections (default 4096); at the cap the longest-idle\n"
    "                    keep-alive connection, else the oldest still sending headers, makes room\n"
    "  --max-connections-per-client N  per client address, IPv6 per /64 (default 512; 0: no cap);\n"
    "                    at it the address's own longest-idle (else slowest) connection makes room;\n"
    "                    raise it behind a proxy that funnels every client through one address\n"
    "  --max-buffered-body-mb N  request bodies held at once over all connections, past it 503\n"
    "                    (default: twice --max-body-mb, at least 256)\n"
    "  --max-request-memory-mb N  memory one request's parsed input (JSON tree, tensors) may take,\n"
    "                    past it 413 (default: 3 x --max-body-mb, at least 64)\n"
    "  --public-metrics  GET /metrics answers without auth (default: behind auth when auth is on)\n"
    "  --entry-script F  score.py (default: $AZUREML_ENTRY_SCRIPT, relative to $AML_APP_ROOT)\n"
    "  --source-dir DIR  added to sys.path (default: $AZUREML_SOURCE_DIRECTORY, else the script's folder)\n"
    "  --python PATH     interpreter for workers (default: $AZUREML_PYTHON, else python3)\n"
    "  --scoring-timeout-ms N  time run() may take (default: $SCORING_TIMEOUT_MS, else 60000)\n"
    "  --auth-key-file F keys for /score, one per line (default: $AMLSERVE_AUTH_KEY_FILE;\n"
    "                    or $AMLSERVE_AUTH_KEYS=\"primary,secondary\"); re-read when it changes\n"
    "                    (a rotated Kubernetes Secret) and on SIGHUP\n"
    "  --token-secret-file F  token auth instead of keys: HS256 JWTs signed with this secret (one line;\n"
    "                    default: $AMLSERVE_TOKEN_SECRET_FILE, or $AMLSERVE_TOKEN_SECRET); exp is enforced;\n"
    "                    re-read when it changes and on SIGHUP\n"
    "  --cors-origins L  allowed CORS origins, comma-separated or * (default: $AML_CORS_ORIGINS)\n"
    "  --tls-cert F, --tls-key F  serve HTTPS (TLS 1.2+) with this PEM certificate chain and\n"
    "                    unencrypted PEM key (default: $AMLSERVE_TLS_CERT, $AMLSERVE_TLS_KEY);\n"
    "                    re-read when they change and on SIGHUP\n"
    "  --input-sample F, --output-sample F  sample bodies (JSON) for /swagger.json\n"
    "  --max-queue N     requests waiting for a scoring thread before 503 (default 1024)\n"
    "  --max-queue-wait-ms N  longest wait for a scoring thread before 503 (default: none)\n"
    "  --threads N       scoring threads = Python workers (default: $WORKER_COUNT, else\n"
    "                    one per CPU for ONNX and 1 for Python, as Azure ML)\n"
    "  --backend B       ONNX engine backend: auto (default: $AMLSERVE_BACKEND, else auto = the optimized\n"
    "                    backends where usable), cpu (SIMD kernels, multithreaded), cpu-ref (reference\n"
    "                    kernels only) or cuda (only in CUDA builds)\n"
    "  --engine-threads N  threads one ONNX operator may use (default: $AMLSERVE_ENGINE_THREADS, else\n"
    "                    CPUs / scoring threads, at least 1)\n"
    "  --quiet           no access log\n"
    "Environment also read: AMLSERVE_MAX_BODY_MB, AMLSERVE_MAX_QUEUE, AMLSERVE_MAX_QUEUE_WAIT_MS,\n"
    "AMLSERVE_HEADER_TIMEOUT_MS, AMLSERVE_BODY_TIMEOUT_MS, AMLSERVE_MAX_CONNECTIONS,\n"
    "AMLSERVE_MAX_CONNECTIONS_PER_CLIENT, AMLSERVE_MAX_BUFFERED_BODY_MB, AMLSERVE_MAX_REQUEST_MEMORY_MB,\n"
    "AMLSERVE_PUBLIC_METRICS=1,\n"
    "AMLSERVE_INPUT_SAMPLE, AMLSERVE_OUTPUT_SAMPLE (defaults for the options above),\n"
    "AMLSERVE_AUTH_REQUIRED=1 (refuse to start without keys), and AMLSERVE_TRACEBACKS=text\n"
    "(a run() traceback printed as Python prints it after its JSON event line; amlpkg serve sets it).\n"
    "  --version, --help\n";

struct options {
    int port;
    const char *host;
    const char *model_dir;
    long max_body_mb;
    long timeout_ms;
    int quiet;
    long threads;
    int threads_given;
    const char *entry_script, *source_dir, *python;
    const char *key_file, *cors_origins, *input_sample, *output_sample, *token_secret_file;
    const char *tls_cert, *tls_key;
    int tls_given; /* on the command line, not from the image's environment */
    long max_queue, max_queue_wait_ms;
    long scoring_timeout_ms;
    long header_timeout_ms, body_timeout_ms, max_connections, max_per_client;
    long max_buffered_body_mb, max_request_memory_mb; /* -1: derived from max_body_mb */
    int public_metrics;
    const char *backend;
    long engine_threads; /* 0 = CPUs / scoring threads */
};

/* An option or environment number (common/parse_number.h); on error says which and returns -1. */
static int parse_number(const char *text, const char *what, long min, long max, long *out)
{
    long long v;
    int rc = parse_number_int(&v, what, text, min, max);
    if (rc) {
        fprintf(stderr, "amlserve: %s\n", err_message(rc));
        err_clear();
        return -1;
    }
    *out = (long)v;
    return 0;
}

static int parse_options(struct options *o, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, 'H'},
        {"model-dir", required_argument, NULL, 'm'},
        {"max-body-mb", required_argument, NULL, 'b'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},
        {"threads", required_argument, NULL, 'T'},
        {"entry-script", required_argument, NULL, 'e'},
        {"source-dir", required_argument, NULL, 's'},
        {"python", required_argument, NULL, 'P'},
        {"scoring-timeout-ms", required_argument, NULL, 'S'},
        {"auth-key-file", required_argument, NULL, 'K'},
        {"cors-origins", required_argument, NULL, 'C'},
        {"input-sample", required_argument, NULL, 'I'},
        {"output-sample", required_argument, NULL, 'O'},
        {"max-queue", required_argument, NULL, 'Q'},
        {"max-queue-wait-ms", required_argument, NULL, 'W'},
        {"token-secret-file", required_argument, NULL, 'J'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"backend", required_argument, NULL, 'B'},
        {"engine-threads", required_argument, NULL, 'E'},
        {"header-timeout-ms", required_argument, NULL, 1001},
        {"body-timeout-ms", required_argument, NULL, 1002},
        {"max-connections", required_argument, NULL, 1003},
        {"max-connections-per-client", required_argument, NULL, 1004},
        {"max-buffered-body-mb", required_argument, NULL, 1005},
        {"max-request-memory-mb", required_argument, NULL, 1006},
        {"public-metrics", no_argument, NULL, 1007},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long port = 5001;
    const char *env_port = getenv("SERVER_PORT");
    if (env_port && env_port[0] && parse_number(env_port, "SERVER_PORT", 0, 65535, &port))
        return 2;
    o->model_dir = getenv("AZUREML_MODEL_DIR");
    o->max_body_mb = 100;
    o->timeout_ms = 30000;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cpus > 0 ? (cpus < 64 ? cpus : 64) : 1;
    const char *env_workers = getenv("WORKER_COUNT");
    if (env_workers && env_workers[0]) {
        if (parse_number(env_workers, "WORKER_COUNT", 1, 256, &o->threads))
            return 2;
        o->threads_given = 1;
    }
    o->entry_script = getenv("AZUREML_ENTRY_SCRIPT");
    o->key_file = getenv("AMLSERVE_AUTH_KEY_FILE");
    o->token_secret_file = getenv("AMLSERVE_TOKEN_SECRET_FILE");
    o->cors_origins = getenv("AML_CORS_ORIGINS");
    o->tls_cert = getenv("AMLSERVE_TLS_CERT");
    o->tls_key = getenv("AMLSERVE_TLS_KEY");
    o->max_queue = 1024;
    o->header_timeout_ms = 30000;
    o->body_timeout_ms = 300000;
    o->max_connections = 4096;
    o->max_per_client = 512;
    o->max_buffered_body_mb = -1;
    o->max_request_memory_mb = -1;
    const char *env_public = getenv("AMLSERVE_PUBLIC_METRICS");
    o->public_metrics = env_public && strcmp(env_public, "1") == 0;
    o->source_dir = getenv("AZUREML_SOURCE_DIRECTORY");
    o->scoring_timeout_ms = 60000;
    const char *env_timeout = getenv("SCORING_TIMEOUT_MS");
    if (env_timeout && env_timeout[0] &&
        parse_number(env_timeout, "SCORING_TIMEOUT_MS", 1, 86400000, &o->scoring_timeout_ms))
        return 2;
    /* Settings an image bakes in (amlpkg build writes them from the spec's service section). */
    static const struct {
        const char *name;
        long min, max;
    } numeric_env[] = {{"AMLSERVE_MAX_BODY_MB", 1, 4096},
                       {"AMLSERVE_MAX_QUEUE", 1, 1000000},
                       {"AMLSERVE_MAX_QUEUE_WAIT_MS", 1, 86400000},
                       {"AMLSERVE_HEADER_TIMEOUT_MS", 0, 3600000},
                       {"AMLSERVE_BODY_TIMEOUT_MS", 0, 86400000},
                       {"AMLSERVE_MAX_CONNECTIONS", 1, 1000000},
                       {"AMLSERVE_MAX_CONNECTIONS_PER_CLIENT", 0, 1000000},
                       {"AMLSERVE_MAX_BUFFERED_BODY_MB", 1, 1048576},
                       {"AMLSERVE_MAX_REQUEST_MEMORY_MB", 1, 1048576}};
    long *numeric_fields[] = {&o->max_body_mb,           &o->max_queue,           &o->max_queue_wait_ms,
                              &o->header_timeout_ms,     &o->body_timeout_ms,     &o->max_connections,
                              &o->max_per_client,        &o->max_buffered_body_mb, &o->max_request_memory_mb};
    for (size_t i = 0; i < sizeof numeric_env / sizeof numeric_env[0]; i++) {
        const char *v = getenv(numeric_env[i].name);
        if (v && v[0] &&
            parse_number(v, numeric_env[i].name, numeric_env[i].min, numeric_env[i].max, numeric_fields[i]))
            return 2;
    }
    o->backend = getenv("AMLSERVE_BACKEND");
    const char *env_engine_threads = getenv("AMLSERVE_ENGINE_THREADS");
    if (env_engine_threads && env_engine_threads[0] &&
        parse_number(env_engine_threads, "AMLSERVE_ENGINE_THREADS", 1, 256, &o->engine_threads))
        return 2;
    o->input_sample = getenv("AMLSERVE_INPUT_SAMPLE");
    o->output_sample = getenv("AMLSERVE_OUTPUT_SAMPLE");
    int c;
    while ((c = getopt_long(argc, argv, "p:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (parse_number(optarg, "--port", 0, 65535, &port))
                return 2;
            break;
        case 'H': o->host = optarg; break;
        case 'm': o->model_dir = optarg; break;
        case 'b':
            if (parse_number(optarg, "--max-body-mb", 1, 4096, &o->max_body_mb))
                return 2;
            break;
        case 't':
            if (parse_number(optarg, "--timeout-ms", 100, 3600000, &o->timeout_ms))
                return 2;
            break;
        case 'q': o->quiet = 1; break;
        case 'T':
            if (parse_number(optarg, "--threads", 1, 256, &o->threads))
                return 2;
            o->threads_given = 1;
            break;
        case 'e': o->entry_script = optarg; break;
        case 'K': o->key_file = optarg; break;
        case 'J': o->token_secret_file = optarg; break;
        case 'C': o->cors_origins = optarg; break;
        case 'c':
            o->tls_cert = optarg;
            o->tls_given = 1;
            break;
        case 'k':
            o->tls_key = optarg;
            o->tls_given = 1;
            break;
        case 'I': o->input_sample = optarg; break;
        case 'O': o->output_sample = optarg; break;
        case 'Q':
            if (parse_number(optarg, "--max-queue", 1, 1000000, &o->max_queue))
                return 2;
            break;
        case 'W':
            if (parse_number(optarg, "--max-queue-wait-ms", 1, 86400000, &o->max_queue_wait_ms))
                return 2;
            break;
        case 's': o->source_dir = optarg; break;
        case 'B': o->backend = optarg; break;
        case 'E':
            if (parse_number(optarg, "--engine-threads", 1, 256, &o->engine_threads))
                return 2;
            break;
        case 'P': o->python = optarg; break;
        case 1001:
            if (parse_number(optarg, "--header-timeout-ms", 0, 3600000, &o->header_timeout_ms))
                return 2;
            break;
        case 1002:
            if (parse_number(optarg, "--body-timeout-ms", 0, 86400000, &o->body_timeout_ms))
                return 2;
            break;
        case 1003:
            if (parse_number(optarg, "--max-connections", 1, 1000000, &o->max_connections))
                return 2;
            break;
        case 1004:
            if (parse_number(optarg, "--max-connections-per-client", 0, 1000000, &o->max_per_client))
                return 2;
            break;
        case 1005:
            if (parse_number(optarg, "--max-buffered-body-mb", 1, 1048576, &o->max_buffered_body_mb))
                return 2;
            break;
        case 1006:
            if (parse_number(optarg, "--max-request-memory-mb", 1, 1048576, &o->max_request_memory_mb))
                return 2;
            break;
        case 1007: o->public_metrics = 1; break;
        case 'S':
            if (parse_number(optarg, "--scoring-timeout-ms", 1, 86400000, &o->scoring_timeout_ms))
                return 2;
            break;
        case 'v': printf("amlserve %s\n%s\n", AMLPKG_VERSION, amlserve_build_info); return -1;
        case 'h': fputs(usage, stdout); return -1;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "amlserve: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }
    o->port = (int)port;
    /* Budgets that follow the body limit unless given. */
    if (o->max_buffered_body_mb < 0)
        o->max_buffered_body_mb = 2 * o->max_body_mb < 256 ? 256 : 2 * o->max_body_mb;
    if (o->max_request_memory_mb < 0)
        o->max_request_memory_mb = 3 * o->max_body_mb < 64 ? 64 : 3 * o->max_body_mb;
    if (o->max_buffered_body_mb < o->max_body_mb) {
        fprintf(stderr, "amlserve: --max-buffered-body-mb (%ld) is below --max-body-mb (%ld): no body could be read\n",
                o->max_buffered_body_mb, o->max_body_mb);
        return 2;
    }
    if (o->tls_cert && !o->tls_cert[0])
        o->tls_cert = NULL;
    if (o->tls_key && !o->tls_key[0])
        o->tls_key = NULL;
    if (!o->tls_cert != !o->tls_key) {
        fprintf(stderr, "amlserve: TLS needs both a certificate and a key: %s is set, %s is not\n",
                o->tls_cert ? "--tls-cert (or AMLSERVE_TLS_CERT)" : "--tls-key (or AMLSERVE_TLS_KEY)",
                o->tls_cert ? "--tls-key (or AMLSERVE_TLS_KEY)" : "--tls-cert (or AMLSERVE_TLS_CERT)");
        return 2;
    }
    /* One operator's threads times the scoring threads should not oversubscribe the CPUs. */
    long engine_threads = o->engine_threads;
    if (!engine_threads) {
        engine_threads = cpus > 0 ? cpus / (o->threads > 0 ? o->threads : 1) : 1;
        if (engine_threads < 1)
            engine_threads = 1;
    }
    int brc = backend_configure(o->backend && o->backend[0] ? o->backend : "auto", (int)engine_threads);
    if (brc) {
        fprintf(stderr, "amlserve: %s\n", err_message(brc));
        return 2;
    }
    /* Entry scripts read the models' folder from the environment, as in Azure ML. */
    if (o->model_dir && o->model_dir[0] && setenv("AZUREML_MODEL_DIR", o->model_dir, 1) != 0) {
        fprintf(stderr, "amlserve: cannot set AZUREML_MODEL_DIR: %s\n", strerror(errno));
        return 2;
    }
    return 0;
}

/* SIGHUP reloads the scorer on a thread of its own: reading models can take
 * long (or meet a hostile file), and the event loop must keep serving; the
 * scorer swaps its models in when they are ready. A SIGHUP during a reload
 * asks for one more after it. */
struct reloader {
    struct scorer *scorer;
    pthread_t thread;
    int started;        /* thread needs a join (event loop only) */
    atomic_int busy;    /* a reload is running */
    atomic_int again;   /* another SIGHUP came meanwhile */
};

static void *reload_thread(void *arg)
{
    struct reloader *r = arg;
    do {
        atomic_store(&r->again, 0);
        r->scorer->reload(r->scorer);
    } while (atomic_load(&r->again));
    atomic_store(&r->busy, 0);
    return NULL;
}

static void reloader_kick(struct reloader *r)
{
    if (atomic_exchange(&r->busy, 1)) {
        atomic_store(&r->again, 1);
        return;
    }
    if (r->started)
        pthread_join(r->thread, NULL); /* finished: busy was 0 */
    r->started = pthread_create(&r->thread, NULL, reload_thread, r) == 0;
    if (!r->started) {
        atomic_store(&r->busy, 0);
        fprintf(stderr, "amlserve: SIGHUP: cannot start the reload thread; models not reloaded\n");
    }
}

static void reloader_finish(struct reloader *r)
{
    if (r->started)
        pthread_join(r->thread, NULL);
    r->started = 0;
}

struct start_info {
    struct contract *contract;
    struct tls_server *tls; /* NULL: plain HTTP */
    double load_ms;
    const char *serving;
    struct reloader reloader;
    struct rotation_watch watch;
    unsigned watch_keys, watch_tls; /* bit masks of watch slots */
};

static void announce(void *ctx, int port)
{
    struct start_info *info = ctx;
    struct buf line;
    buf_init(&line, 0);
    buf_appendf(&line, "{\"event\":\"listening\",\"port\":%d,\"tls\":%s,\"serving\":", port,
                info->tls ? "true" : "false");
    json_write_string(&line, info->serving, strlen(info->serving));
    buf_appendf(&line, ",\"model_load_ms\":%.3f,\"version\":\"%s\"}\n", info->load_ms, AMLPKG_VERSION);
    fwrite(line.data, 1, line.len, stdout);
    fflush(stdout);
    buf_release(&line);
}

static void flush_log(void *ctx)
{
    contract_flush_log(((struct start_info *)ctx)->contract);
}

/* New connections get the certificate now in the files; a bad one is
 * reported and the old one keeps serving. why: "SIGHUP" or what changed. */
static void reload_tls(struct tls_server *tls, const char *why)
{
    int rc = tls_server_reload(tls);
    char serial[128];
    tls_server_serial(tls, serial, sizeof serial);
    if (rc)
        fprintf(stderr, "amlserve: %s: keeping the old TLS certificate (serial %s): %s\n", why, serial,
                err_message(rc));
    else
        fprintf(stderr, "amlserve: %s: TLS certificate reloaded (serial %s)\n", why, serial);
    err_clear();
}

/* Re-reads the key file or token secret; bad content keeps the old ones. */
static void reload_keys(struct auth *auth, const char *why)
{
    if (!auth->key_file && !auth->secret_file)
        return;
    int rc = auth_reload(auth);
    if (rc)
        fprintf(stderr, "amlserve: %s: keeping the old keys: %s\n", why, err_message(rc));
    else
        fprintf(stderr, "amlserve: %s: keys reloaded\n", why);
    err_clear();
}

/* SIGHUP: re-read the key file and the TLS certificate, and let the scorer
 * reload (Python workers re-import the entry script before their next request). */
static void reload(void *ctx)
{
    struct start_info *info = ctx;
    if (info->tls)
        reload_tls(info->tls, "SIGHUP");
    struct contract *c = info->contract;
    if (c->scorer->reload) {
        reloader_kick(&info->reloader);
        if (strcmp(c->scorer->kind, "python") == 0)
            fprintf(stderr, "amlserve: SIGHUP: workers will reload before their next request\n");
    }
    reload_keys(c->auth, "SIGHUP");
}

/* Once a second: a rotated Secret (keys, token secret, TLS pair) is taken
 * in without a restart or a signal. Models reload on SIGHUP only. */
static void watch_files(void *ctx)
{
    struct start_info *info = ctx;
    unsigned changed = rotation_watch_tick(&info->watch);
    if (!changed)
        return;
    if (changed & info->watch_keys)
        reload_keys(info->contract->auth, "key file changed");
    if (info->tls && (changed & info->watch_tls))
        reload_tls(info->tls, "TLS files changed");
}

static void watch_add(struct start_info *info, const char *path, unsigned *mask)
{
    int slot = rotation_watch_add(&info->watch, path);
    if (slot >= 0)
        *mask |= 1u << slot;
}

/* Loads the scorer: Python workers for an entry script, else the ONNX model.
 * script_path receives the script's resolved path. */
static int load_scorer(struct scorer **out, struct options *o, char *script_path, size_t size, const char **serving)
{
    if (o->entry_script && o->entry_script[0]) {
        /* Azure ML gives AZUREML_ENTRY_SCRIPT relative to the app root. */
        const char *app_root = getenv("AML_APP_ROOT");
        if (o->entry_script[0] != '/' && app_root && app_root[0])
            path_join_into(script_path, size, app_root, o->entry_script);
        else
            snprintf(script_path, size, "%s", o->entry_script);
        if (!o->threads_given)
            o->threads = 1; /* Azure ML's WORKER_COUNT default */
        struct python_options py = {
            .entry_script = script_path,
            .source_directory = o->source_dir && o->source_dir[0] ? o->source_dir : NULL,
            .interpreter = o->python,
            .workers = (int)o->threads,
            .timeout_ms = (int)o->scoring_timeout_ms,
        };
        *serving = script_path;
        return scorer_python_new(out, &py);
    }
    if (!o->model_dir || !o->model_dir[0])
        return err_set(ERR_NOTFOUND, "no models: set AZUREML_MODEL_DIR or pass --model-dir (or give an entry script)");
    int rc = scorer_onnx_new(out, o->model_dir);
    *serving = rc ? "" : scorer_onnx_model_path(*out);
    return rc;
}

/* Reads an optional sample file for swagger into b; returns its text or NULL. */
static const char *read_sample(struct buf *b, const char *path, int *rc)
{
    if (!path || *rc)
        return NULL;
    buf_init(b, 16u << 20);
    if ((*rc = buf_read_file(b, path)) != 0 || (*rc = buf_append(b, "", 1)) != 0)
        return NULL;
    return b->data;
}

/* Swagger documents: samples, else the scorer's schemas; user files from the app folder. */
static int build_swagger(struct swagger *sw, struct scorer *scorer, const struct options *o, const char *script_path)
{
    struct buf in_schema, out_schema, in_sample, out_sample;
    buf_init(&in_schema, 0);
    buf_init(&out_schema, 0);
    buf_init(&in_sample, 0);
    buf_init(&out_sample, 0);
    int rc = 0;
    if (scorer->describe)
        rc = scorer->describe(scorer, &in_schema, &out_schema);
    char user_dir[4096] = "";
    if (o->source_dir && o->source_dir[0])
        snprintf(user_dir, sizeof user_dir, "%s", o->source_dir);
    else if (script_path[0]) { /* the script's folder */
        snprintf(user_dir, sizeof user_dir, "%s", script_path);
        char *slash = strrchr(user_dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(user_dir, sizeof user_dir, ".");
    }
    struct swagger_source src = {
        .title = "amlserve scoring service",
        .input_schema = in_schema.len ? (buf_append(&in_schema, "", 1), in_schema.data) : NULL,
        .output_schema = out_schema.len ? (buf_append(&out_schema, "", 1), out_schema.data) : NULL,
        .input_sample = read_sample(&in_sample, o->input_sample, &rc),
        .output_sample = read_sample(&out_sample, o->output_sample, &rc),
        .user_dir = user_dir[0] ? user_dir : getenv("AML_APP_ROOT"),
        .no_v2 = strcmp(scorer->kind, "python") == 0 && scorer_python_swagger2_unsupported(scorer),
    };
    if (!rc)
        rc = swagger_init(sw, &src);
    buf_release(&in_schema);
    buf_release(&out_schema);
    buf_release(&in_sample);
    buf_release(&out_sample);
    return rc;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    int rc = parse_options(&o, argc, argv);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct scorer *scorer = NULL;
    char script_path[4096] = "";
    const char *serving = "";
    struct auth auth;
    struct cors cors;
    struct metrics metrics;
    struct swagger swagger = {0};
    struct tls_server *tls = NULL;
    metrics_init(&metrics);
    metrics.max_concurrent = o.max_queue;
    cors_init(&cors, o.cors_origins);
    rc = auth_init(&auth, getenv("AMLSERVE_AUTH_KEYS"), o.key_file);
    if (!rc)
        rc = auth_init_token(&auth, getenv("AMLSERVE_TOKEN_SECRET"), o.token_secret_file);
    /* Certificate problems surface before the model loads, which can take long. */
    if (!rc && o.tls_cert && (rc = tls_server_new(&tls, o.tls_cert, o.tls_key)) == ERR_NOTFOUND && !o.tls_given) {
        /* An image built with service.tls expects the pair mounted at run time. */
        char detail[1024];
        snprintf(detail, sizeof detail, "%s", err_message(rc));
        err_clear();
        rc = err_set(rc, "%s (AMLSERVE_TLS_CERT and AMLSERVE_TLS_KEY name it: mount the certificate and key there)",
                     detail);
    }
    /* A package built with auth on must never answer without it: keys come at run time, not in the image. */
    const char *required = getenv("AMLSERVE_AUTH_REQUIRED");
    if (!rc && required && !strcmp(required, "1") && !auth_enabled(&auth))
        rc =
            err_set(ERR_INVALID, "this package requires authentication: set AMLSERVE_AUTH_KEYS=\"primary[,secondary]\" "
                                 "or AMLSERVE_AUTH_KEY_FILE (or --auth-key-file), or a token secret");
    if (!rc)
        rc = load_scorer(&scorer, &o, script_path, sizeof script_path, &serving);
    if (!rc)
        rc = build_swagger(&swagger, scorer, &o, script_path);
    if (rc) {
        fprintf(stderr, "amlserve: %s\n", err_message(rc));
        scorer_free(scorer);
        swagger_release(&swagger);
        auth_release(&auth);
        cors_release(&cors);
        tls_server_free(tls);
        return EXIT_INIT_FAILED;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    metrics.model_load_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;

    /* The access log is block-buffered and flushed once per event-loop batch. */
    static char log_buffer[1 << 16];
    setvbuf(stdout, log_buffer, _IOFBF, sizeof log_buffer);
    struct contract contract;
    contract_init(&contract, scorer, o.quiet ? NULL : stdout);
    contract.auth = &auth;
    contract.cors = &cors;
    contract.metrics = &metrics;
    contract.swagger = &swagger;
    contract.metrics_public = o.public_metrics;
    if (strcmp(scorer->kind, "python") == 0)
        contract.worker_restarts = scorer_python_restarts;
    struct start_info info = {.contract = &contract, .tls = tls, .load_ms = metrics.model_load_ms, .serving = serving};
    struct server_config cfg;
    server_config_defaults(&cfg);
    cfg.host = o.host;
    cfg.port = o.port;
    cfg.max_body_bytes = (size_t)o.max_body_mb << 20;
    cfg.read_timeout_ms = (int)o.timeout_ms;
    cfg.header_timeout_ms = (int)o.header_timeout_ms;
    cfg.body_timeout_ms = (int)o.body_timeout_ms;
    cfg.max_connections = (int)o.max_connections;
    cfg.max_connections_per_client = (int)o.max_per_client;
    cfg.max_buffered_body_bytes = (size_t)o.max_buffered_body_mb << 20;
    cfg.max_request_memory_bytes = (size_t)o.max_request_memory_mb << 20;
    cfg.check_headers = contract_check_headers;
    cfg.handle_signals = 1;
    cfg.tls = tls;
    cfg.scoring_threads = (int)o.threads;
    cfg.max_queue = (int)o.max_queue;
    cfg.max_queue_wait_ms = (int)o.max_queue_wait_ms;
    cfg.is_inline = contract_is_inline;
    cfg.on_idle = flush_log;
    cfg.on_reload = reload;
    cfg.on_tick = watch_files;
    watch_add(&info, auth.key_file ? auth.key_file : auth.secret_file, &info.watch_keys);
    if (tls) {
        watch_add(&info, o.tls_cert, &info.watch_tls);
        watch_add(&info, o.tls_key, &info.watch_tls);
    }
    cfg.on_listening = announce;
    cfg.hook_ctx = &info;
    info.reloader.scorer = scorer;
    rc = server_run(&cfg, contract_handle, &contract);
    reloader_finish(&info.reloader);
    fflush(stdout);
    if (rc)
        fprintf(stderr, "amlserve: %s\n", err_message(rc));
    scorer_free(scorer);
    swagger_release(&swagger);
    auth_release(&auth);
    cors_release(&cors);
    tls_server_free(tls);
    return rc ? 1 : 0;
}
