#include "builder/sys/engine_cmd.h"

#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int engine_cmd_init(struct engine_cmd *c, const char *env_var, const char *fallback)
{
    memset(c, 0, sizeof *c);
    const char *env = env_var ? getenv(env_var) : NULL;
    const char *text = env && env[0] ? env : fallback;
    for (const char *p = text; *p;) {
        p += strspn(p, " \t");
        size_t n = strcspn(p, " \t");
        if (!n)
            break;
        if (c->n == ENGINE_CMD_MAX_WORDS - 16) /* room for the arguments callers add */
            return err_set(ERR_LIMIT, "%s: too many words", env ? env_var : fallback);
        if (!(c->words[c->n++] = strndup(p, n)))
            return err_set(ERR_NOMEM, "out of memory");
        p += n;
    }
    return c->n ? 0 : err_set(ERR_INVALID, "%s is empty", env_var ? env_var : "the engine command");
}

void engine_cmd_release(struct engine_cmd *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->words[i]);
    memset(c, 0, sizeof *c);
}

/* Copies lines from fd to stderr with a prefix; a line longer than the buffer is split. */
static void stream_prefixed(int fd, const char *prefix)
{
    char line[4096];
    size_t len = 0;
    char c;
    ssize_t got;
    while ((got = read(fd, &c, 1)) > 0 || (got < 0 && errno == EINTR)) {
        if (got <= 0)
            continue;
        if (c != '\n' && len < sizeof line - 1) {
            line[len++] = c;
            continue;
        }
        fprintf(stderr, "%s%.*s\n", prefix, (int)len, line);
        len = 0;
        if (c != '\n')
            line[len++] = c;
    }
    if (len)
        fprintf(stderr, "%s%.*s\n", prefix, (int)len, line);
}

int engine_cmd_run(const struct engine_cmd *c, const char *const *extra, struct buf *out, const char *prefix)
{
    return engine_cmd_run_status(c, extra, out, prefix, NULL);
}

int engine_cmd_run_status(const struct engine_cmd *c, const char *const *extra, struct buf *out, const char *prefix,
                          int *exit_status)
{
    const char *argv[ENGINE_CMD_MAX_WORDS + 1];
    int n = 0;
    for (; n < c->n; n++)
        argv[n] = c->words[n];
    for (int i = 0; extra[i]; i++) {
        if (n == ENGINE_CMD_MAX_WORDS)
            return err_set(ERR_LIMIT, "%s: too many arguments", argv[0]);
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return err_set_errno(ERR_IO, "pipe");
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return err_set_errno(ERR_IO, "fork");
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        if (prefix)
            dup2(fds[1], STDERR_FILENO);
        else if (!out) {
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0)
                dup2(null, STDERR_FILENO);
        }
        execvp(argv[0], (char *const *)argv);
        fprintf(prefix ? stdout : stderr, "amlpkg: cannot run '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    int rc = 0;
    if (prefix) {
        stream_prefixed(fds[0], prefix);
    } else {
        char chunk[4096];
        ssize_t got;
        while ((got = read(fds[0], chunk, sizeof chunk)) > 0 || (got < 0 && errno == EINTR))
            if (got > 0 && out && !rc)
                rc = buf_append(out, chunk, (size_t)got);
    }
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (exit_status && WIFEXITED(status) && WEXITSTATUS(status) != 127) {
        *exit_status = WEXITSTATUS(status);
        return rc;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return err_set(ERR_IO, "'%s %s' failed with %s %d", argv[0], extra[0] ? extra[0] : "",
                       WIFEXITED(status) ? "exit status" : "signal",
                       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return rc;
}
