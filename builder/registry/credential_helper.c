#include "builder/registry/credential_helper.h"

#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/parse_number.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define REPLY_LIMIT (64u << 10)

int credential_helper_parse(struct auth_creds *out, const char *reply, size_t len, const char *source)
{
    memset(out, 0, sizeof *out);
    struct arena arena;
    arena_init(&arena, 4096, 1u << 20);
    struct json_value *root = NULL;
    int rc = 0;
    /* json_parse's own message quotes the text around an error: the text holds the secret. */
    if (json_parse(&root, &arena, reply, len, source) || root->type != JSON_OBJECT) {
        err_clear();
        rc = err_set(ERR_PARSE, "%s: the reply is not a JSON object", source);
        goto done;
    }
    const struct json_value *user = json_member(root, "Username"), *secret = json_member(root, "Secret");
    if (!secret || secret->type != JSON_STRING || !secret->as.string.len ||
        strlen(secret->as.string.ptr) != secret->as.string.len) {
        rc = err_set(ERR_PARSE, "%s: the reply has no \"Secret\" string", source);
        goto done;
    }
    if (user && (user->type != JSON_STRING || strlen(user->as.string.ptr) != user->as.string.len)) {
        rc = err_set(ERR_PARSE, "%s: \"Username\" is not a string", source);
        goto done;
    }
    out->user = strdup(user ? user->as.string.ptr : "");
    out->pass = strdup(secret->as.string.ptr);
    out->source = strdup(source);
    if (!out->user || !out->pass || !out->source) {
        registry_auth_creds_release(out);
        rc = err_set(ERR_NOMEM, "out of memory");
    }
done:
    arena_release(&arena);
    return rc;
}

static int valid_helper_name(const char *name)
{
    if (!name[0] || strlen(name) > 64)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("._-", *p)))
            return 0;
    return 1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The server address as the helper's stdin: a sealed memory file, so a helper
 * that exits without reading cannot raise SIGPIPE here. */
static int stdin_for(const char *server)
{
    int fd = memfd_create("amlpkg-credential-helper", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = strlen(server);
    if (write(fd, server, n) != (ssize_t)n || write(fd, "\n", 1) != 1 || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int credential_helper_get(struct auth_creds *out, const char *helper, const char *server, const char *configured_in)
{
    memset(out, 0, sizeof *out);
    char program[96], source[4200];
    if (!valid_helper_name(helper))
        return err_set(ERR_INVALID, "%s: credential helper name '%.64s' is not a plain name", configured_in, helper);
    snprintf(program, sizeof program, "docker-credential-%s", helper);
    snprintf(source, sizeof source, "%s (credential helper named in %s)", program, configured_in);
    long timeout_ms = (long)parse_number_int_or(getenv("AMLPKG_CREDENTIAL_HELPER_TIMEOUT_MS"), 1, 600000, 10000);

    int in = stdin_for(server), pipefd[2] = {-1, -1};
    if (in < 0 || pipe2(pipefd, O_CLOEXEC) != 0) {
        int rc = err_set_errno(ERR_IO, "%s: cannot set up its input and output", source);
        if (in >= 0)
            close(in);
        return rc;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    char *argv[] = {program, "get", NULL};
    pid_t pid;
    int spawn_rc = posix_spawnp(&pid, program, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in);
    close(pipefd[1]);
    if (spawn_rc != 0) {
        close(pipefd[0]);
        if (spawn_rc == ENOENT)
            return err_set(ERR_NOTFOUND, "%s: %s is not on PATH (install it, or remove the helper from %s)", source,
                           program, configured_in);
        errno = spawn_rc;
        return err_set_errno(ERR_IO, "%s: cannot run it", source);
    }

    struct buf reply;
    buf_init(&reply, REPLY_LIMIT);
    int rc = 0, timed_out = 0;
    long long deadline = now_ms() + timeout_ms;
    char chunk[4096];
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) {
            timed_out = 1;
            break;
        }
        ssize_t n = read(pipefd[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (buf_append(&reply, chunk, (size_t)n)) {
            rc = err_set(ERR_LIMIT, "%s: the reply is longer than %u bytes", source, REPLY_LIMIT);
            break;
        }
    }
    close(pipefd[0]);
    if (timed_out || rc)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) {
        rc = err_set(ERR_IO, "%s: no answer within %ld ms (AMLPKG_CREDENTIAL_HELPER_TIMEOUT_MS); killed it", source,
                     timeout_ms);
    } else if (!rc && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        /* On failure the protocol puts an error message (no secret) on stdout. */
        size_t n = strcspn(reply.data ? reply.data : "", "\n");
        if (reply.data && strstr(reply.data, "credentials not found"))
            rc = 0; /* the helper has nothing for this registry: look further */
        else if (WIFEXITED(status))
            rc = err_set(ERR_IO, "%s get failed for %s: exit %d%s%.*s", source, server, WEXITSTATUS(status),
                         n ? ": " : "", (int)(n > 200 ? 200 : n), reply.data ? reply.data : "");
        else
            rc = err_set(ERR_IO, "%s get failed for %s: killed by signal %d", source, server, WTERMSIG(status));
    } else if (!rc) {
        rc = credential_helper_parse(out, reply.data ? reply.data : "", reply.len, source);
    }
    if (reply.data)
        explicit_bzero(reply.data, reply.len);
    buf_release(&reply);
    return rc;
}
