/* amlserve: the scoring server inside every amlpkg image. */
#include "common/err.h"
#include "runtime/contract.h"
#include "runtime/scorer_onnx.h"
#include "runtime/scorer_python.h"
#include "runtime/server.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Azure ML's inference server exits with 3 when init() fails; so do we when
 * the model cannot be loaded, so orchestrators see the same signal. */
#define EXIT_INIT_FAILED 3

static const char usage[] =
    "usage: amlserve [options]\n"
    "\n"
    "Serves the Azure ML scoring contract: GET / (health), POST /score. With an\n"
    "entry script, run() in Python workers answers; without, the ONNX model does.\n"
    "\n"
    "options:\n"
    "  --port N          port to listen on (default: $SERVER_PORT, else 5001)\n"
    "  --host ADDR       numeric address to listen on (default: every IPv6 and IPv4 address)\n"
    "  --model-dir DIR   models (default: $AZUREML_MODEL_DIR)\n"
    "  --max-body-mb N   largest request body (default 100)\n"
    "  --timeout-ms N    time allowed to receive a request (default 30000)\n"
    "  --entry-script F  score.py (default: $AZUREML_ENTRY_SCRIPT, relative to $AML_APP_ROOT)\n"
    "  --source-dir DIR  added to sys.path (default: $AZUREML_SOURCE_DIRECTORY, else the script's folder)\n"
    "  --python PATH     interpreter for workers (default: $AZUREML_PYTHON, else python3)\n"
    "  --scoring-timeout-ms N  time run() may take (default: $SCORING_TIMEOUT_MS, else 60000)\n"
    "  --threads N       scoring threads = Python workers (default: $WORKER_COUNT, else\n"
    "                    one per CPU for ONNX and 1 for Python, as Azure ML)\n"
    "  --quiet           no access log\n"
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
    long scoring_timeout_ms;
};

static int parse_number(const char *text, const char *what, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!text[0] || *end || errno || v < min || v > max) {
        fprintf(stderr, "amlserve: %s: '%s' is not a number from %ld to %ld\n", what, text, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_options(struct options *o, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"port", required_argument, NULL, 'p'},        {"host", required_argument, NULL, 'H'},
        {"model-dir", required_argument, NULL, 'm'},   {"max-body-mb", required_argument, NULL, 'b'},
        {"timeout-ms", required_argument, NULL, 't'},  {"quiet", no_argument, NULL, 'q'},
        {"threads", required_argument, NULL, 'T'},     {"entry-script", required_argument, NULL, 'e'},
        {"source-dir", required_argument, NULL, 's'},  {"python", required_argument, NULL, 'P'},
        {"scoring-timeout-ms", required_argument, NULL, 'S'},     {"version", no_argument, NULL, 'v'},           {"help", no_argument, NULL, 'h'},
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
    o->source_dir = getenv("AZUREML_SOURCE_DIRECTORY");
    o->scoring_timeout_ms = 60000;
    const char *env_timeout = getenv("SCORING_TIMEOUT_MS");
    if (env_timeout && env_timeout[0] &&
        parse_number(env_timeout, "SCORING_TIMEOUT_MS", 1, 86400000, &o->scoring_timeout_ms))
        return 2;
    int c;
    while ((c = getopt_long(argc, argv, "p:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'p': if (parse_number(optarg, "--port", 0, 65535, &port)) return 2; break;
        case 'H': o->host = optarg; break;
        case 'm': o->model_dir = optarg; break;
        case 'b': if (parse_number(optarg, "--max-body-mb", 1, 4096, &o->max_body_mb)) return 2; break;
        case 't': if (parse_number(optarg, "--timeout-ms", 100, 3600000, &o->timeout_ms)) return 2; break;
        case 'q': o->quiet = 1; break;
        case 'T': if (parse_number(optarg, "--threads", 1, 256, &o->threads)) return 2; o->threads_given = 1; break;
        case 'e': o->entry_script = optarg; break;
        case 's': o->source_dir = optarg; break;
        case 'P': o->python = optarg; break;
        case 'S': if (parse_number(optarg, "--scoring-timeout-ms", 1, 86400000, &o->scoring_timeout_ms)) return 2; break;
        case 'v': printf("amlserve %s\n", AMLSERVE_VERSION); return -1;
        case 'h': fputs(usage, stdout); return -1;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "amlserve: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }
    o->port = (int)port;
    return 0;
}

struct start_info {
    struct contract *contract;
    double load_ms;
    const char *model;
};

static void announce(void *ctx, int port)
{
    struct start_info *info = ctx;
    fprintf(stdout, "{\"event\":\"listening\",\"port\":%d,\"model\":\"%s\",\"model_load_ms\":%.3f,\"version\":\"%s\"}\n",
            port, info->model, info->load_ms, AMLSERVE_VERSION);
    fflush(stdout);
}

static void flush_log(void *ctx)
{
    contract_flush_log(((struct start_info *)ctx)->contract);
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
    char script_path[4096];
    const char *what;
    if (o.entry_script && o.entry_script[0]) {
        /* Azure ML gives AZUREML_ENTRY_SCRIPT relative to the app root. */
        const char *app_root = getenv("AML_APP_ROOT");
        if (o.entry_script[0] != '/' && app_root && app_root[0])
            snprintf(script_path, sizeof script_path, "%s/%s", app_root, o.entry_script);
        else
            snprintf(script_path, sizeof script_path, "%s", o.entry_script);
        if (!o.threads_given)
            o.threads = 1; /* Azure ML's WORKER_COUNT default */
        struct python_options py = {
            .entry_script = script_path,
            .source_directory = o.source_dir && o.source_dir[0] ? o.source_dir : NULL,
            .interpreter = o.python,
            .workers = (int)o.threads,
            .timeout_ms = (int)o.scoring_timeout_ms,
        };
        rc = scorer_python_new(&scorer, &py);
        what = script_path;
    } else {
        if (!o.model_dir || !o.model_dir[0]) {
            fprintf(stderr, "amlserve: no models: set AZUREML_MODEL_DIR or pass --model-dir (or give an entry script)\n");
            return EXIT_INIT_FAILED;
        }
        rc = scorer_onnx_new(&scorer, o.model_dir);
        what = rc ? NULL : scorer_onnx_model_path(scorer);
    }
    if (rc) {
        fprintf(stderr, "amlserve: %s\n", err_message(rc));
        return EXIT_INIT_FAILED;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);

    /* The access log is block-buffered and flushed once per event-loop batch. */
    static char log_buffer[1 << 16];
    setvbuf(stdout, log_buffer, _IOFBF, sizeof log_buffer);
    struct contract contract;
    contract_init(&contract, scorer, o.quiet ? NULL : stdout);
    struct start_info info = {
        .contract = &contract,
        .load_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
        .model = what,
    };
    struct server_config cfg;
    server_config_defaults(&cfg);
    cfg.host = o.host;
    cfg.port = o.port;
    cfg.max_body_bytes = (size_t)o.max_body_mb << 20;
    cfg.read_timeout_ms = (int)o.timeout_ms;
    cfg.handle_signals = 1;
    cfg.scoring_threads = o.threads;
    cfg.is_inline = contract_is_inline;
    cfg.on_idle = flush_log;
    cfg.on_listening = announce;
    cfg.hook_ctx = &info;
    rc = server_run(&cfg, contract_handle, &contract);
    fflush(stdout);
    if (rc)
        fprintf(stderr, "amlserve: %s\n", err_message(rc));
    scorer_free(scorer);
    return rc ? 1 : 0;
}
