#include "builder/service/local_service.h"

#include "common/err.h"
#include "builder/sys/fs_copy.h"
#include "builder/sys/fsutil.h"
#include "common/path.h"
#include "builder/service/image_service.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long init() may take before we give up waiting for "listening". */
#define START_TIMEOUT_MS 300000
#define MAX_ARGS 48

struct arg_list {
    char *items[MAX_ARGS + 1];
    int n;
};

static int arg_add(struct arg_list *a, const char *text)
{
    if (a->n >= MAX_ARGS)
        return err_set(ERR_LIMIT, "too many amlserve options");
    if (!(a->items[a->n] = strdup(text)))
        return err_set(ERR_NOMEM, "out of memory");
    a->n++;
    return 0;
}

static int arg_add2(struct arg_list *a, const char *flag, const char *value)
{
    int rc = arg_add(a, flag);
    return rc ? rc : arg_add(a, value);
}

static int arg_add_num(struct arg_list *a, const char *flag, long value)
{
    char text[32];
    snprintf(text, sizeof text, "%ld", value);
    return arg_add2(a, flag, text);
}

static void arg_free(struct arg_list *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->items[i]);
    a->n = 0;
}

/* <root>/azureml-models/<name>/<version>/<basename> -> the model's real path. */
static int link_model(const char *root, const struct spec_model *m)
{
    char real[PATH_MAX], dir[PATH_MAX], link[PATH_MAX * 2 + 2];
    if (!realpath(m->path, real))
        return err_set_errno(ERR_NOTFOUND, "model '%s': cannot resolve '%s'", m->name, m->path);
    if (snprintf(dir, sizeof dir, "%s/azureml-models/%s/%lld", root, m->name, m->version) >= (int)sizeof dir)
        return err_set(ERR_LIMIT, "model '%s': path too long", m->name);
    int rc = fs_make_dirs(dir);
    if (rc)
        return rc;
    const char *base = strrchr(real, '/');
    path_join_into(link, sizeof link, dir, base ? base + 1 : real);
    if (symlink(real, link) != 0)
        return err_set_errno(ERR_IO, "cannot link '%s'", link);
    return 0;
}

int local_service_random_key(char out[80])
{
    unsigned char raw[32];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(raw, 1, sizeof raw, f) : 0;
    if (f)
        fclose(f);
    if (got != sizeof raw)
        return err_set(ERR_IO, "cannot read /dev/urandom to generate a key");
    for (int i = 0; i < 32; i++)
        snprintf(&out[i * 2], 3, "%02x", raw[i]);
    return 0;
}

/* Keys go to amlserve in a 0600 file rather than the environment, which other
 * users can read through /proc on some systems. */
static int write_key_file(struct local_service *svc)
{
    if (!(svc->key_file = path_join(svc->root, "auth-keys")))
        return err_set(ERR_NOMEM, "out of memory");
    int fd = open(svc->key_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return err_set_errno(ERR_IO, "cannot create '%s'", svc->key_file);
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return err_set_write(ERR_IO, "cannot write '%s'", svc->key_file);
    }
    for (int k = 0; k < 2; k++)
        if (svc->keys[k][0])
            fprintf(f, "%s\n", svc->keys[k]);
    if (fclose(f) != 0)
        return err_set_write(ERR_IO, "cannot write '%s'", svc->key_file);
    return 0;
}

/* Reads the first keys of a user's key file, to show them. */
static void read_key_file(struct local_service *svc, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int k = 0;
    while (f && k < 2 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] && line[0] != '#')
            snprintf(svc->keys[k++], sizeof svc->keys[0], "%.79s", line);
    }
    if (f)
        fclose(f);
}

static int setup_auth(struct local_service *svc, const struct spec_service *s)
{
    if (!s->auth_enabled || s->token_secret_file)
        return 0;
    if (s->auth_key_file) {
        read_key_file(svc, s->auth_key_file);
        return (svc->key_file = strdup(s->auth_key_file)) ? 0 : err_set(ERR_NOMEM, "out of memory");
    }
    int rc = 0;
    if (s->auth_keys[0]) {
        for (int k = 0; k < 2; k++)
            snprintf(svc->keys[k], sizeof svc->keys[0], "%s", s->auth_keys[k] ? s->auth_keys[k] : "");
    } else if ((rc = local_service_random_key(svc->keys[0])) || (rc = local_service_random_key(svc->keys[1]))) {
        return rc;
    }
    return write_key_file(svc);
}

static int build_args(struct arg_list *a, const struct local_service *svc, const struct spec *spec,
                      const struct local_service_options *o)
{
    const struct spec_service *s = &spec->service;
    int rc = arg_add(a, o->amlserve);
    if (!rc && o->host)
        rc = arg_add2(a, "--host", o->host);
    if (!rc)
        rc = arg_add_num(a, "--port", o->port);
    if (!rc)
        rc = arg_add2(a, "--model-dir", svc->model_dir);
    if (!rc && spec->inference.entry_script)
        rc = arg_add2(a, "--entry-script", spec->inference.entry_script);
    if (!rc && spec->inference.source_directory)
        rc = arg_add2(a, "--source-dir", spec->inference.source_directory);
    /* The environment's interpreter unless the caller names one; Azure's default "python" means python3 here. */
    const char *python = o->python ? o->python : spec->environment.python_interpreter;
    if (python && strcmp(python, "python") == 0)
        python = NULL;
    if (!rc && python)
        rc = arg_add2(a, "--python", python);
    if (!rc && s->workers)
        rc = arg_add_num(a, "--threads", s->workers);
    if (!rc && s->timeout_ms)
        rc = arg_add_num(a, "--scoring-timeout-ms", s->timeout_ms);
    if (!rc && s->max_request_mb)
        rc = arg_add_num(a, "--max-body-mb", s->max_request_mb);
    if (!rc && s->max_concurrent_requests)
        rc = arg_add_num(a, "--max-queue", s->max_concurrent_requests);
    if (!rc && s->max_queue_wait_ms)
        rc = arg_add_num(a, "--max-queue-wait-ms", s->max_queue_wait_ms);
    if (!rc && svc->key_file)
        rc = arg_add2(a, "--auth-key-file", svc->key_file);
    if (!rc && s->token_secret_file)
        rc = arg_add2(a, "--token-secret-file", s->token_secret_file);
    if (!rc && s->cors_origins)
        rc = arg_add2(a, "--cors-origins", s->cors_origins);
    if (!rc && s->input_sample)
        rc = arg_add2(a, "--input-sample", s->input_sample);
    if (!rc && s->output_sample)
        rc = arg_add2(a, "--output-sample", s->output_sample);
    if (!rc && s->tls_cert_file && !o->plain_http)
        rc = arg_add2(a, "--tls-cert", s->tls_cert_file);
    if (!rc && s->tls_key_file && !o->plain_http)
        rc = arg_add2(a, "--tls-key", s->tls_key_file);
    if (!rc && o->quiet)
        rc = arg_add(a, "--quiet");
    return rc;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double number_after(const char *line, const char *key)
{
    const char *p = strstr(line, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

/* Reads amlserve's stdout up to its first line, {"event":"listening",...}. */
static int await_listening(struct local_service *svc)
{
    char line[4096];
    size_t len = 0;
    long long deadline = now_ms() + START_TIMEOUT_MS;
    for (;;) {
        struct pollfd p = {.fd = svc->out_fd, .events = POLLIN};
        long long left = deadline - now_ms();
        if (left <= 0)
            return err_set(ERR_IO, "amlserve did not start listening within %d s", START_TIMEOUT_MS / 1000);
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        /* One byte at a time so nothing after the first line is taken from the access log. */
        char c;
        ssize_t got = read(svc->out_fd, &c, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            int status = 0;
            waitpid(svc->pid, &status, 0);
            svc->pid = 0;
            if (WIFEXITED(status))
                return err_set(ERR_IO, "amlserve exited with status %d before it was ready (its messages are above)",
                               WEXITSTATUS(status));
            return err_set(ERR_IO, "amlserve was killed by signal %d before it was ready",
                           WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        }
        if (c != '\n') {
            if (len < sizeof line - 1)
                line[len++] = c;
            continue;
        }
        line[len] = 0;
        if (!strstr(line, "\"event\":\"listening\""))
            return err_set(ERR_IO, "unexpected first line from amlserve: %s", line);
        svc->port = (int)number_after(line, "\"port\":");
        svc->model_load_ms = number_after(line, "\"model_load_ms\":");
        return 0;
    }
}

/* Shows the end of a captured log: why amlserve did not start. */
static void show_log_tail(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char tail[4096];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > (long)sizeof tail - 1 ? size - (long)sizeof tail + 1 : 0, SEEK_SET);
    size_t n = fread(tail, 1, sizeof tail - 1, f);
    fclose(f);
    tail[n] = 0;
    fprintf(stderr, "%s%s", tail, n && tail[n - 1] != '\n' ? "\n" : "");
}

static int spawn(struct local_service *svc, struct arg_list *args, const char *log_path,
                 const struct spec_environment *env)
{
    int log_fd = -1;
    if (log_path && (log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        return err_set_errno(ERR_IO, "cannot create '%s'", log_path);
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        if (log_fd >= 0)
            close(log_fd);
        return err_set_errno(ERR_IO, "pipe");
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        if (log_fd >= 0)
            close(log_fd);
        return err_set_errno(ERR_IO, "fork");
    }
    if (pid == 0) {
        dup2(pipe_fds[1], STDOUT_FILENO);
        if (log_fd >= 0)
            dup2(log_fd, STDERR_FILENO);
        /* The environment's variables, as the image would set them. */
        for (size_t i = 0; i < env->n_env; i++)
            setenv(env->env[i].name, env->env[i].value, 1);
        /* On serve's terminal a run() traceback reads as Python prints it (the image's log keeps one JSON line). */
        if (log_fd < 0)
            setenv("AMLSERVE_TRACEBACKS", "text", 1);
        sigset_t none; /* the caller may block signals it reads through signalfd */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* Its own process group, so a terminal's Ctrl-C reaches only us and we stop it in order. */
        setpgid(0, 0);
        execv(args->items[0], args->items);
        fprintf(stderr, "amlpkg: cannot run '%s': %s\n", args->items[0], strerror(errno));
        _exit(127);
    }
    close(pipe_fds[1]);
    if (log_fd >= 0)
        close(log_fd);
    svc->pid = pid;
    svc->out_fd = pipe_fds[0];
    return 0;
}

int local_service_start(struct local_service *svc, const struct spec *spec, const struct local_service_options *opts)
{
    memset(svc, 0, sizeof *svc);
    svc->out_fd = -1;
    struct arg_list args = {0};
    int rc = fs_make_tmp_dir(&svc->root, "amlpkg-serve-");
    for (size_t i = 0; !rc && i < spec->n_models; i++)
        rc = link_model(svc->root, &spec->models[i]);
    if (!rc) {
        char dir[PATH_MAX + 64];
        if (spec->n_models == 1)
            snprintf(dir, sizeof dir, "%s/azureml-models/%s/%lld", svc->root, spec->models[0].name,
                     spec->models[0].version);
        else
            snprintf(dir, sizeof dir, "%s/azureml-models", svc->root);
        if (!(svc->model_dir = strdup(dir)))
            rc = err_set(ERR_NOMEM, "out of memory");
    }
    if (!rc)
        rc = setup_auth(svc, &spec->service);
    if (!rc)
        rc = build_args(&args, svc, spec, opts);
    char *log_path = NULL;
    if (!rc && opts->capture_stderr && !(log_path = path_join(svc->root, "amlserve.log")))
        rc = err_set(ERR_NOMEM, "out of memory");
    if (!rc)
        rc = spawn(svc, &args, log_path, &spec->environment);
    if (!rc && (rc = await_listening(svc)) && log_path)
        show_log_tail(log_path);
    free(log_path);
    arg_free(&args);
    if (rc)
        local_service_stop(svc);
    return rc;
}

int local_service_reload(struct local_service *svc)
{
    if (svc->pid <= 0 || kill(svc->pid, SIGHUP) != 0)
        return err_set(ERR_IO, "amlserve is not running");
    return 0;
}

int local_service_exited(struct local_service *svc, int *status)
{
    if (svc->pid <= 0)
        return 1;
    int st;
    pid_t r = waitpid(svc->pid, &st, WNOHANG);
    if (r != svc->pid)
        return 0;
    svc->pid = 0;
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return 1;
}

void local_service_stop(struct local_service *svc)
{
    if (svc->container || svc->podman) {
        image_service_stop(svc);
        return;
    }
    if (svc->pid > 0) {
        kill(svc->pid, SIGTERM);
        /* amlserve finishes in-flight requests on SIGTERM; give it a while, then insist. */
        long long deadline = now_ms() + 15000;
        int st;
        while (waitpid(svc->pid, &st, WNOHANG) == 0) {
            if (now_ms() > deadline) {
                kill(svc->pid, SIGKILL);
                waitpid(svc->pid, &st, 0);
                break;
            }
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        svc->pid = 0;
    }
    if (svc->out_fd >= 0)
        close(svc->out_fd);
    svc->out_fd = -1;
    fs_remove_tree(svc->root); /* FTW_PHYS: removes the links, never what they point to */
    free(svc->root);
    free(svc->model_dir);
    free(svc->key_file);
    svc->root = svc->model_dir = svc->key_file = NULL;
}
