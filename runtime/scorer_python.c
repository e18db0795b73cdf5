#include "scorer_python.h"

#include "common/err.h"
#include "common/json.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* templates/amlserve_compat.py and amlserve_worker.py, embedded at build time (worker_shim.c). */
extern const char amlserve_compat_py[];
extern const char amlserve_worker_py[];

extern char **environ;

#define WORKER_FD 3
#define SOURCE_FD 4 /* the worker's program, read by the short -c bootstrap: `ps` stays readable */
static const char bootstrap[] = "import os;exec(compile(os.pread(4,1<<24,0),'amlserve_worker.py','exec'))";
#define INIT_TIMEOUT_MS (300 * 1000) /* Azure ML's WORKER_TIMEOUT */
#define MAX_META (1u << 20)
#define MAX_ANSWER_BODY (1u << 30)

static const char run_failed_message[] =
    "An unexpected error occurred in scoring script. Check the logs for more info.";

struct worker {
    pthread_mutex_t lock;
    pid_t pid; /* 0: not running */
    int fd;
    atomic_int stale; /* replace before the next request (after a reload) */
};

struct python_state {
    struct python_options opts;
    char **envp; /* environ plus the worker's variables, built once */
    struct worker *workers;
    atomic_long restarts;
    int source_fd;                      /* memfd holding compat + worker source */
    char *input_schema, *output_schema; /* from a decorated run() (inference-schema), or NULL */
    int schemas_read;                   /* from the first worker ready */
    int no_v2;                          /* the decorators' schemas are OpenAPI 3 only */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- framing ---- */

static int write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Reads exactly len bytes before deadline (ms, 0 = none). Returns 0, -1 on
 * EOF or error, -2 on timeout. */
static int read_exact(int fd, void *dst, size_t len, long long deadline)
{
    char *p = dst;
    while (len) {
        int wait = -1;
        if (deadline) {
            long long left = deadline - now_ms();
            if (left <= 0)
                return -2;
            wait = left > INT32_MAX ? INT32_MAX : (int)left;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, wait);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return -2;
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

struct frame {
    char *meta, *body; /* from the arena, NUL-terminated */
    size_t meta_len, body_len;
};

static int frame_read(struct frame *f, int fd, struct arena *arena, long long deadline)
{
    unsigned char head[8];
    int rc = read_exact(fd, head, sizeof head, deadline);
    if (rc)
        return rc;
    f->meta_len = get_be32(head);
    f->body_len = get_be32(head + 4);
    if (f->meta_len > MAX_META || f->body_len > MAX_ANSWER_BODY)
        return -1;
    f->meta = arena_alloc(arena, f->meta_len + 1);
    f->body = arena_alloc(arena, f->body_len + 1);
    if (!f->meta || !f->body)
        return -1;
    if ((rc = read_exact(fd, f->meta, f->meta_len, deadline)) || (rc = read_exact(fd, f->body, f->body_len, deadline)))
        return rc;
    f->meta[f->meta_len] = f->body[f->body_len] = 0;
    return 0;
}

/* ---- worker processes ---- */

static void worker_stop(struct worker *w)
{
    if (w->pid > 0) {
        kill(w->pid, SIGKILL);
        while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    if (w->fd >= 0)
        close(w->fd);
    w->pid = 0;
    w->fd = -1;
}

static int worker_spawn(struct python_state *st, struct worker *w)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return err_set_errno(ERR_IO, "cannot create the worker socket");
    const char *python = st->opts.interpreter;
    char *argv[] = {(char *)python, "-c", (char *)bootstrap, NULL};
    pid_t pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return err_set_errno(ERR_IO, "cannot start a Python worker");
    }
    if (pid == 0) {
        /* Only async-signal-safe calls until exec: the server has threads.
         * The server blocks SIGTERM/SIGINT/SIGHUP for its signalfd; the
         * worker must not inherit that. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (dup2(sv[1], WORKER_FD) < 0 || dup2(st->source_fd, SOURCE_FD) < 0)
            _exit(127);
        execvpe(python, argv, st->envp);
        static const char msg[] = "amlserve: cannot run the Python interpreter\n";
        if (write(2, msg, sizeof msg - 1) < 0) {
        }
        _exit(127);
    }
    close(sv[1]);
    w->pid = pid;
    w->fd = sv[0];
    return 0;
}

/* A decorated run()'s schemas, as the worker's inference-schema gave them, for /swagger.json. */
static int keep_schemas(struct python_state *st, const struct json_value *swagger)
{
    if (!swagger || swagger->type != JSON_OBJECT)
        return 0;
    const struct json_value *versions = json_member(swagger, "versions");
    if (versions && versions->type == JSON_ARRAY) {
        st->no_v2 = 1;
        for (const struct json_value *v = versions->child; v; v = v->next)
            if (v->type == JSON_STRING && strncmp(v->as.string.ptr, "2", 1) == 0)
                st->no_v2 = 0;
    }
    const char *names[2] = {"input", "output"};
    char **slots[2] = {&st->input_schema, &st->output_schema};
    for (int i = 0; i < 2; i++) {
        const struct json_value *v = json_member(swagger, names[i]);
        if (!v || v->type != JSON_OBJECT || !v->child)
            continue;
        struct buf b;
        buf_init(&b, MAX_META);
        if (json_write_value(&b, v) || buf_append(&b, "", 1)) {
            buf_release(&b);
            return err_set(ERR_NOMEM, "out of memory");
        }
        *slots[i] = b.data; /* owned by st now */
    }
    return 0;
}

static int python_describe(struct scorer *self, struct buf *input_schema, struct buf *output_schema)
{
    struct python_state *st = self->state;
    int rc = 0;
    if (st->input_schema)
        rc = buf_append_str(input_schema, st->input_schema);
    if (!rc && st->output_schema)
        rc = buf_append_str(output_schema, st->output_schema);
    return rc;
}

/* Waits for the worker's first frame: init() done, or its traceback. */
static int worker_wait_ready(struct python_state *st, struct worker *w)
{
    struct arena arena;
    arena_init(&arena, 4096, MAX_META * 2);
    struct frame f;
    int rc = frame_read(&f, w->fd, &arena, now_ms() + INIT_TIMEOUT_MS);
    struct json_value *meta = NULL;
    if (rc == -2) {
        rc = err_set(ERR_IO, "%s: init() did not finish within %d s", st->opts.entry_script, INIT_TIMEOUT_MS / 1000);
    } else if (rc) {
        rc = err_set(ERR_IO, "%s: the Python worker exited before init() finished (is '%s' a Python 3 interpreter?)",
                     st->opts.entry_script, st->opts.interpreter);
    } else if (json_parse(&meta, &arena, f.meta, f.meta_len, "worker") || !json_member(meta, "ready")) {
        rc = err_set(ERR_IO, "%s: the Python worker sent a malformed message", st->opts.entry_script);
    } else if (!json_member(meta, "ready")->as.boolean) {
        const struct json_value *tb = json_member(meta, "error");
        rc = err_set(ERR_INVALID, "%s: init() failed:\n%s", st->opts.entry_script,
                     tb && tb->type == JSON_STRING ? tb->as.string.ptr : "(no traceback)");
    } else if (!st->schemas_read) {
        st->schemas_read = 1;
        rc = keep_schemas(st, json_member(meta, "swagger"));
    }
    arena_release(&arena);
    if (rc)
        worker_stop(w);
    return rc;
}

static int worker_restart(struct python_state *st, struct worker *w)
{
    worker_stop(w);
    atomic_fetch_add(&st->restarts, 1);
    int rc = worker_spawn(st, w);
    if (!rc)
        rc = worker_wait_ready(st, w);
    if (rc)
        fprintf(stderr, "amlserve: restarting a Python worker failed: %s\n", err_message(rc));
    return rc;
}

/* An idle worker says nothing: its socket readable or hung up, or the
 * process gone, means it died between requests (OOM killer, a stray signal). */
static int worker_died_idle(struct worker *w)
{
    if (w->pid <= 0)
        return 0;
    pid_t gone = waitpid(w->pid, NULL, WNOHANG);
    if (gone == w->pid) {
        w->pid = 0; /* reaped: worker_stop must not signal a pid that may be reused */
        return 1;
    }
    struct pollfd p = {.fd = w->fd, .events = POLLIN | POLLRDHUP};
    return poll(&p, 1, 0) > 0;
}

/* ---- scoring ---- */

static void json_error(struct scorer_response *resp, int status, const char *message)
{
    resp->status = status;
    resp->content_type = "application/json";
    buf_reset(resp->body);
    buf_append_str(resp->body, "{\"message\": ");
    json_write_string(resp->body, message, strlen(message));
    buf_append_str(resp->body, "}");
}

static int build_meta(struct buf *meta, const struct scorer_request *req)
{
    buf_append_str(meta, "{\"method\":");
    json_write_string(meta, req->method, strlen(req->method));
    buf_append_str(meta, ",\"path\":");
    json_write_string(meta, req->path ? req->path : "/score", req->path ? strlen(req->path) : 6);
    buf_append_str(meta, ",\"query\":");
    json_write_string(meta, req->query, strlen(req->query));
    buf_append_str(meta, ",\"request_id\":");
    const char *id = req->request_id ? req->request_id : "-";
    json_write_string(meta, id, strlen(id));
    buf_append_str(meta, ",\"headers\":[");
    for (size_t i = 0; i < req->n_headers; i++) {
        buf_append_str(meta, i ? ",[" : "[");
        json_write_string(meta, req->headers[i].name, strlen(req->headers[i].name));
        buf_append_str(meta, ",");
        json_write_string(meta, req->headers[i].value, strlen(req->headers[i].value));
        buf_append_str(meta, "]");
    }
    return buf_append_str(meta, "]}");
}

static int header_text_ok(const char *s)
{
    return s[0] && !strpbrk(s, "\r\n");
}

/* Turns the worker's answer into the HTTP response. */
static void apply_answer(struct scorer_response *resp, const struct frame *f, struct arena *arena)
{
    struct json_value *meta = NULL;
    if (json_parse(&meta, arena, f->meta, f->meta_len, "worker answer") || meta->type != JSON_OBJECT) {
        resp->run_failed = 1;
        return json_error(resp, 500, run_failed_message);
    }
    const struct json_value *status = json_member(meta, "status");
    const struct json_value *failed = json_member(meta, "failed");
    const struct json_value *message = json_member(meta, "message");
    int code = status && status->type == JSON_NUMBER && status->as.number >= 100 && status->as.number < 600
                   ? (int)status->as.number
                   : 500;
    if (failed && failed->as.boolean) {
        resp->run_failed = 1;
        return json_error(resp, 500, run_failed_message);
    }
    if (message && message->type == JSON_STRING)
        return json_error(resp, code, message->as.string.ptr);
    resp->status = code;
    resp->run_failed = code >= 500;
    const struct json_value *ctype = json_member(meta, "content_type");
    if (ctype && ctype->type == JSON_STRING && header_text_ok(ctype->as.string.ptr))
        resp->content_type = ctype->as.string.ptr; /* lives in the request arena */
    const struct json_value *headers = json_member(meta, "headers");
    if (headers && headers->type == JSON_OBJECT && resp->headers)
        for (const struct json_value *h = headers->child; h; h = h->next)
            if (h->type == JSON_STRING && header_text_ok(h->key) && !strpbrk(h->key, ": ") &&
                !strpbrk(h->as.string.ptr, "\r\n"))
                buf_appendf(resp->headers, "%s: %s\r\n", h->key, h->as.string.ptr);
    buf_append(resp->body, f->body, f->body_len);
}

static int python_score(struct scorer *self, const struct scorer_request *req, struct scorer_response *resp)
{
    struct python_state *st = self->state;
    int index = req->worker >= 0 && req->worker < st->opts.workers ? req->worker : 0;
    struct worker *w = &st->workers[index];
    /* The request's memory limit bounds parsing input in the arena; here the
     * body goes to run() as it is and only run()'s answer lands in the arena. */
    req->arena->limit = 0;
    pthread_mutex_lock(&w->lock);
    int rc = 0;
    /* A reload replaces each worker just before its next request, so no
     * request fails and none waits on a worker that is still busy. */
    if (atomic_exchange(&w->stale, 0) && w->pid > 0) {
        worker_stop(w);
        atomic_fetch_sub(&st->restarts, 1); /* a reload is not a failure */
    }
    /* A worker that died while idle is replaced now, not found dead by this request. */
    if (worker_died_idle(w)) {
        fprintf(stderr, "amlserve: request %s: the idle Python worker %d had exited; replacing it first\n",
                req->request_id ? req->request_id : "-", index);
        worker_stop(w);
    }
    if (w->pid <= 0 && worker_restart(st, w) != 0) {
        json_error(resp, 503, "The scoring worker is not available; see the server log");
        resp->run_failed = 1;
        goto done;
    }
    struct buf meta;
    buf_init(&meta, MAX_META);
    if (build_meta(&meta, req) != 0) {
        buf_release(&meta);
        json_error(resp, 431, "Request headers are too large for the scoring worker");
        goto done;
    }
    unsigned char head[8];
    put_be32(head, (uint32_t)meta.len);
    put_be32(head + 4, (uint32_t)req->body_len);
    struct iovec iov[3] = {
        {head, sizeof head},
        {meta.data, meta.len},
        {(void *)req->body, req->body_len},
    };
    int sent = write_all(w->fd, iov, req->body_len ? 3 : 2);
    buf_release(&meta);
    struct frame f;
    int got = sent ? -1 : frame_read(&f, w->fd, req->arena, st->opts.timeout_ms ? now_ms() + st->opts.timeout_ms : 0);
    if (got == -2) {
        char msg[64];
        snprintf(msg, sizeof msg, "Scoring timeout after %d ms", st->opts.timeout_ms);
        json_error(resp, 500, msg);
        resp->run_failed = 1;
        fprintf(stderr, "amlserve: request %s: run() exceeded %d ms; replacing the worker\n",
                req->request_id ? req->request_id : "-", st->opts.timeout_ms);
        worker_restart(st, w);
    } else if (got) {
        json_error(resp, 500, "The scoring worker exited unexpectedly; it has been restarted");
        resp->run_failed = 1;
        fprintf(stderr, "amlserve: request %s: the Python worker died; replacing it\n",
                req->request_id ? req->request_id : "-");
        worker_restart(st, w);
    } else {
        apply_answer(resp, &f, req->arena);
    }
done:
    pthread_mutex_unlock(&w->lock);
    return rc;
}

static void python_destroy(struct scorer *self)
{
    struct python_state *st = self->state;
    if (st) {
        for (int i = 0; st->workers && i < st->opts.workers; i++) {
            worker_stop(&st->workers[i]);
            pthread_mutex_destroy(&st->workers[i].lock);
        }
        free(st->workers);
        free(st->input_schema);
        free(st->output_schema);
        if (st->source_fd >= 0)
            close(st->source_fd);
        if (st->envp)
            for (char **e = st->envp; *e; e++)
                if (strncmp(*e, "AMLSERVE_WORKER_FD=", 19) == 0 || strncmp(*e, "AZUREML_ENTRY_SCRIPT_PATH=", 26) == 0 ||
                    strncmp(*e, "AZUREML_SOURCE_DIRECTORY=", 25) == 0 ||
                    strncmp(*e, "AMLSERVE_WORKER_SOURCE_FD=", 26) == 0)
                    free(*e);
        free(st->envp);
        free(st);
    }
    free(self);
}

static void python_reload(struct scorer *self)
{
    struct python_state *st = self->state;
    for (int i = 0; i < st->opts.workers; i++)
        atomic_store(&st->workers[i].stale, 1);
}

int scorer_python_swagger2_unsupported(const struct scorer *s)
{
    const struct python_state *st = s->state;
    return st->no_v2;
}

long scorer_python_restarts(const struct scorer *s)
{
    const struct python_state *st = s->state;
    return atomic_load(&st->restarts);
}

static char *env_entry(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 2;
    char *e = malloc(n);
    if (e)
        snprintf(e, n, "%s=%s", name, value);
    return e;
}

/* environ without our variables, then ours. */
static int build_envp(struct python_state *st)
{
    size_t n = 0;
    while (environ[n])
        n++;
    st->envp = calloc(n + 5, sizeof *st->envp);
    if (!st->envp)
        return err_set(ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "AMLSERVE_WORKER_FD=", 19) && strncmp(environ[i], "AZUREML_ENTRY_SCRIPT_PATH=", 26) &&
            strncmp(environ[i], "AMLSERVE_WORKER_SOURCE_FD=", 26) &&
            (st->opts.source_directory == NULL || strncmp(environ[i], "AZUREML_SOURCE_DIRECTORY=", 25)))
            st->envp[k++] = environ[i];
    char fd_text[8];
    snprintf(fd_text, sizeof fd_text, "%d", WORKER_FD);
    char source_text[8];
    snprintf(source_text, sizeof source_text, "%d", SOURCE_FD);
    if (!(st->envp[k++] = env_entry("AMLSERVE_WORKER_FD", fd_text)) ||
        !(st->envp[k++] = env_entry("AMLSERVE_WORKER_SOURCE_FD", source_text)) ||
        !(st->envp[k++] = env_entry("AZUREML_ENTRY_SCRIPT_PATH", st->opts.entry_script)))
        return err_set(ERR_NOMEM, "out of memory");
    if (st->opts.source_directory &&
        !(st->envp[k++] = env_entry("AZUREML_SOURCE_DIRECTORY", st->opts.source_directory)))
        return err_set(ERR_NOMEM, "out of memory");
    return 0;
}

/* The worker's program in an anonymous file every worker reads with pread (no shared offset). */
static int write_source(struct python_state *st)
{
    int fd = memfd_create("amlserve_worker.py", MFD_CLOEXEC);
    /* Above the numbers a worker's fds are moved to (3, 4), so the dup2 calls never collide. */
    st->source_fd = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 10);
    if (fd >= 0)
        close(fd);
    if (st->source_fd < 0)
        return err_set_errno(ERR_IO, "cannot create the worker's source file");
    const char *parts[2] = {amlserve_compat_py, amlserve_worker_py};
    for (int i = 0; i < 2; i++)
        for (size_t off = 0, len = strlen(parts[i]); off < len;) {
            ssize_t w = write(st->source_fd, parts[i] + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return err_set_errno(ERR_IO, "cannot write the worker's source file");
            off += (size_t)w;
        }
    return 0;
}

int scorer_python_new(struct scorer **out, const struct python_options *opts)
{
    int rc = 0;
    struct scorer *s = calloc(1, sizeof *s);
    struct python_state *st = calloc(1, sizeof *st);
    if (!s || !st) {
        free(s);
        free(st);
        return err_set(ERR_NOMEM, "out of memory");
    }
    s->kind = "python";
    s->score = python_score;
    s->destroy = python_destroy;
    s->reload = python_reload;
    s->describe = python_describe;
    s->state = st;
    st->source_fd = -1;
    st->opts = *opts;
    if (st->opts.workers < 1)
        st->opts.workers = 1;
    if (!st->opts.interpreter) {
        const char *env = getenv("AZUREML_PYTHON");
        st->opts.interpreter = env && env[0] ? env : "python3";
    }
    if (access(opts->entry_script, R_OK) != 0) {
        rc = err_set_errno(ERR_NOTFOUND, "entry script '%s'", opts->entry_script);
        goto done;
    }
    st->workers = calloc((size_t)st->opts.workers, sizeof *st->workers);
    if (!st->workers) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < st->opts.workers; i++) {
        pthread_mutex_init(&st->workers[i].lock, NULL);
        st->workers[i].fd = -1;
    }
    if ((rc = build_envp(st)) || (rc = write_source(st)))
        goto done;
    /* Start every worker first, then wait: their init() calls run in parallel. */
    for (int i = 0; i < st->opts.workers && !rc; i++)
        rc = worker_spawn(st, &st->workers[i]);
    for (int i = 0; i < st->opts.workers && !rc; i++)
        rc = worker_wait_ready(st, &st->workers[i]);
done:
    if (rc) {
        python_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}
