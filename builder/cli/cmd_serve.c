/* amlpkg serve SPEC: the package's scoring service on this host, no image. */
#include "builder/cli/commands.h"
#include "common/err.h"
#include "common/parse_number.h"
#include "builder/image/entry_script_check.h"
#include "builder/spec/conda.h"
#include "builder/service/file_watch.h"
#include "builder/service/local_service.h"
#include "builder/sys/runtime_locate.h"
#include "builder/cli/spec_cli.h"
#include "builder/spec/spec.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

static const char serve_usage[] =
    "usage: amlpkg serve SPEC [options]\n"
    "       amlpkg serve --inference-config F --model N:V=PATH... [--deployment-config F] [options]\n"
    "\n"
    "Runs the package's scoring service on this host without building an image: the models are\n"
    "linked (not copied) into the layout the image would have, the spec's service settings apply\n"
    "(auth keys, CORS, workers, timeouts), and amlserve answers on the printed scoring URI.\n"
    "An entry script is checked first (syntax, run and init) with the host's python3, never imported;\n"
    "a run() traceback prints as Python prints it. Ctrl-C stops it.\n"
    "\n"
    "options:\n"
    "  -p, --port N       port (default: the spec's service.port, else 5001; 0 picks a free one)\n"
    "      --host ADDR    address to listen on (default 127.0.0.1; 0.0.0.0 or :: for every address)\n"
    "  -w, --watch        reload when the entry script, source directory or a model changes:\n"
    "                     Python workers re-import in place, ONNX models reload; the socket stays\n"
    "      --python PATH  interpreter for the entry script (default: $AZUREML_PYTHON, else python3)\n"
    "      --runtime PATH amlserve binary (default: beside amlpkg, or $AMLPKG_AMLSERVE)\n"
    "  -q, --quiet        no access log\n" SPEC_CLI_HELP "  -h, --help         show this help\n";

struct serve_options {
    const char *spec_path, *host, *python, *runtime;
    int port, watch, quiet;
    struct spec_cli package;
};

static int parse_args(struct serve_options *o, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, 'H'},
        {"watch", no_argument, NULL, 'w'},
        {"python", required_argument, NULL, 'P'},
        {"runtime", required_argument, NULL, 'R'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        SPEC_CLI_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    o->host = "127.0.0.1";
    o->port = -1;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "p:wqh", long_opts, NULL)) != -1) {
        int used = spec_cli_option(&o->package, c, optarg, "serve");
        if (used < 0)
            return EXIT_USAGE;
        if (used)
            continue;
        switch (c) {
        case 'p': {
            long long v;
            int rc = parse_number_int(&v, "--port", optarg, 0, 65535);
            if (rc) {
                fprintf(stderr, "amlpkg serve: %s\n", err_message(rc));
                return EXIT_USAGE;
            }
            o->port = (int)v;
            break;
        }
        case 'H': o->host = optarg; break;
        case 'w': o->watch = 1; break;
        case 'P': o->python = optarg; break;
        case 'R': o->runtime = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'h': fputs(serve_usage, stdout); return -1;
        default: return cmd_usage_error(serve_usage);
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "amlpkg serve: unexpected argument '%s'\n%s", argv[optind + 1], serve_usage);
        return EXIT_USAGE;
    }
    o->spec_path = optind < argc ? argv[optind] : NULL;
    if (spec_cli_check(&o->package, o->spec_path, "serve"))
        return EXIT_USAGE;
    return 0;
}

static void announce(const struct local_service *svc, const struct spec *spec, const char *host)
{
    const char *shown = !strcmp(host, "0.0.0.0") || !strcmp(host, "::") ? "127.0.0.1" : host;
    const char *open = strchr(shown, ':') ? "[" : "", *close = strchr(shown, ':') ? "]" : "";
    printf("Serving %s (%s) from %s\n", spec->image_name,
           spec->inference.entry_script ? spec->inference.entry_script : "no-code ONNX", spec->file);
    const char *scheme = spec->service.tls_cert_file ? "https" : "http";
    printf("  Scoring URI: %s://%s%s%s:%d/score\n", scheme, open, shown, close, svc->port);
    printf("  Swagger URI: %s://%s%s%s:%d/swagger.json\n", scheme, open, shown, close, svc->port);
    if (spec->service.tls_cert_file)
        printf("  TLS: certificate %s, key %s\n", spec->service.tls_cert_file, spec->service.tls_key_file);
    printf("  AZUREML_MODEL_DIR: %s\n", svc->model_dir);
    if (spec->service.token_secret_file)
        printf("  Token auth: send 'Authorization: Bearer <JWT>' signed HS256 with the secret in %s (exp required)\n",
               spec->service.token_secret_file);
    if (svc->keys[0][0]) {
        printf("  Primary key: %s\n", svc->keys[0]);
        if (svc->keys[1][0])
            printf("  Secondary key: %s\n", svc->keys[1]);
        printf("  (send 'Authorization: Bearer <key>')\n");
    }
    printf("  Models loaded in %.1f ms. Press Ctrl-C to stop.\n", svc->model_load_ms);
    fflush(stdout);
}

static int watch_sources(struct file_watch *w, const struct spec *spec)
{
    int rc = file_watch_init(w);
    if (!rc && spec->inference.source_directory)
        rc = file_watch_add(w, spec->inference.source_directory);
    if (!rc && spec->inference.entry_script)
        rc = file_watch_add(w, spec->inference.entry_script);
    for (size_t i = 0; !rc && i < spec->n_models; i++)
        rc = file_watch_add(w, spec->models[i].path);
    return rc;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copies amlserve's access log through; returns 0 at end of file. */
static int relay_log(int fd)
{
    char chunk[65536];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n > 0)
        fwrite(chunk, 1, (size_t)n, stdout), fflush(stdout);
    return n > 0 || (n < 0 && errno == EINTR);
}

static int run_loop(struct local_service *svc, const struct spec *spec, struct file_watch *w, int sig_fd)
{
    long long reload_at = 0; /* changes settle for a moment: editors write in several steps */
    for (;;) {
        struct pollfd fds[3] = {{.fd = sig_fd, .events = POLLIN},
                                {.fd = svc->out_fd, .events = POLLIN},
                                {.fd = w ? w->fd : -1, .events = POLLIN}};
        int timeout = reload_at ? (int)(reload_at > now_ms() ? reload_at - now_ms() : 0) : 500;
        int n = poll(fds, 3, timeout);
        if (n < 0 && errno != EINTR)
            return err_set_errno(ERR_IO, "poll");
        if (n > 0 && (fds[0].revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
                fprintf(stderr, "\namlpkg serve: stopping\n");
                return 0;
            }
        }
        if (n > 0 && (fds[1].revents & (POLLIN | POLLHUP)) && !relay_log(svc->out_fd)) {
            int status = 0;
            for (int i = 0; i < 100 && !local_service_exited(svc, &status); i++)
                usleep(10000);
            return err_set(ERR_IO, "amlserve stopped unexpectedly (status %d)", status);
        }
        const char *changed = NULL;
        if (n > 0 && w && (fds[2].revents & POLLIN)) {
            int rc = file_watch_read(w, &changed);
            if (rc)
                return rc;
            if (changed) {
                if (!reload_at) /* one line per burst of events */
                    fprintf(stderr, "amlpkg serve: changed: %s\n", changed);
                reload_at = now_ms() + 300;
            }
        }
        if (reload_at && now_ms() >= reload_at) {
            reload_at = 0;
            int rc = local_service_reload(svc);
            if (rc)
                return rc;
            fprintf(stderr, "amlpkg serve: %s\n",
                    spec->inference.entry_script
                        ? "workers will re-import the entry script and rerun init()"
                        : "amlserve reloads the models (the old ones serve until the new load)");
        }
    }
}

int cmd_serve(int argc, char **argv)
{
    struct serve_options o = {0};
    int r = parse_args(&o, argc, argv);
    if (r)
        return r < 0 ? EXIT_OK : r;
    struct spec *spec = NULL;
    char *amlserve = NULL;
    struct local_service svc = {.out_fd = -1};
    struct file_watch watch = {.fd = -1};
    int started = 0, sig_fd = -1;
    o.package.python = o.python; /* serve's --python also converts scikit-learn models */
    int rc = spec_cli_load(&spec, &o.package, o.spec_path);
    if (!rc)
        rc = entry_script_check_spec(spec);
    if (!rc)
        rc = runtime_locate(&amlserve, o.runtime);
    if (rc)
        goto done;
    struct local_service_options lo = {
        .amlserve = amlserve,
        .host = o.host,
        .port = o.port >= 0          ? o.port
                : spec->service.port ? spec->service.port
                                     : 5001,
        .python = o.python,
        .quiet = o.quiet,
    };
    if (o.watch && (rc = watch_sources(&watch, spec)))
        goto done;
    /* Signals are read through a descriptor so Ctrl-C stops amlserve in order. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    sigprocmask(SIG_BLOCK, &stop_signals, NULL);
    if ((sig_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC)) < 0) {
        rc = err_set_errno(ERR_IO, "signalfd");
        goto done;
    }
    const struct conda_env *conda = spec->environment.conda;
    if (conda && !spec->environment.python_user_managed && (conda->n_deps || conda->n_pip))
        fprintf(stderr,
                "amlpkg serve: note: the environment's %zu conda and %zu pip dependencies are not installed "
                "by serve; it runs with this host's Python\n",
                conda->n_deps, conda->n_pip);
    if ((rc = local_service_start(&svc, spec, &lo)))
        goto done;
    started = 1;
    announce(&svc, spec, o.host);
    rc = run_loop(&svc, spec, o.watch ? &watch : NULL, sig_fd);
done:
    if (started)
        local_service_stop(&svc);
    file_watch_release(&watch);
    if (sig_fd >= 0)
        close(sig_fd);
    free(amlserve);
    spec_free(spec);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
