#include "builder/service/image_service.h"

#include "common/buf.h"
#include "common/err.h"
#include "builder/sys/engine_cmd.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_S 120

/* Runs podman with extra words; its stdout into out (may be NULL), stderr through. */
static int run_podman(struct local_service *svc, const char *const *extra, struct buf *out)
{
    return engine_cmd_run(svc->podman, extra, out, NULL);
}

static void trim(struct buf *b)
{
    while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == ' ' || b->data[b->len - 1] == '\r'))
        b->data[--b->len] = 0;
}

static int free_port(int *out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int ok =
        fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok)
        return err_set_errno(ERR_IO, "cannot find a free port");
    *out = ntohs(a.sin_port);
    return 0;
}

static int answers(int port)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    CURL *c = curl_easy_init();
    if (!c)
        return 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    return status == 200;
}

/* "Loaded image: NAME" (podman prints one line per name; the first is enough). */
static int loaded_name(struct buf *out, char *name, size_t size, const char *archive)
{
    const char *p = strstr(out->data ? out->data : "", "Loaded image");
    const char *colon = p ? strchr(p, ':') : NULL;
    if (!colon)
        return err_set(ERR_IO, "podman load -i '%s' did not name the image it loaded", archive);
    colon++;
    while (*colon == ' ')
        colon++;
    size_t n = strcspn(colon, "\n,");
    snprintf(name, size, "%.*s", (int)n, colon);
    return 0;
}

int image_service_start(struct local_service *svc, const struct image_service_options *o)
{
    memset(svc, 0, sizeof *svc);
    svc->out_fd = -1;
    struct buf out;
    buf_init(&out, 1 << 20);
    char image[512], env_keys[128], ports[64];
    int rc = (svc->podman = calloc(1, sizeof *svc->podman)) ? engine_cmd_init(svc->podman, "AMLPKG_PODMAN", "podman")
                                                            : err_set(ERR_NOMEM, "out of memory");
    if (!rc)
        rc = run_podman(svc, (const char *[]){"load", "-q", "-i", o->archive, NULL}, &out);
    if (!rc)
        rc = loaded_name(&out, image, sizeof image, o->archive);
    if (!rc)
        rc = local_service_random_key(svc->keys[0]);
    if (!rc)
        rc = free_port(&svc->port);
    if (rc)
        goto done;
    snprintf(env_keys, sizeof env_keys, "AMLSERVE_AUTH_KEYS=%s", svc->keys[0]);
    snprintf(ports, sizeof ports, "127.0.0.1:%d:5001", svc->port);
    /* Plain HTTP even for an image that expects a TLS mount: profile measures the model. */
    const char *run[24] = {
        "run", "-d", "-p", ports, "-e", env_keys, "-e", "AMLSERVE_TLS_CERT=", "-e", "AMLSERVE_TLS_KEY="};
    int n = 10;
    if (o->cpus)
        run[n++] = "--cpus", run[n++] = o->cpus;
    if (o->memory)
        run[n++] = "--memory", run[n++] = o->memory;
    run[n++] = image;
    run[n] = NULL;
    buf_reset(&out);
    if ((rc = run_podman(svc, run, &out)))
        goto done;
    trim(&out);
    if (!out.len || !(svc->container = strdup(out.data))) {
        rc = err_set(ERR_IO, "podman run printed no container id");
        goto done;
    }
    time_t deadline = time(NULL) + START_TIMEOUT_S;
    while (!answers(svc->port)) {
        buf_reset(&out);
        const char *state[] = {"inspect", "-f", "{{.State.Running}}", svc->container, NULL};
        if (run_podman(svc, state, &out) == 0 && strncmp(out.data ? out.data : "", "true", 4)) {
            buf_reset(&out);
            run_podman(svc, (const char *[]){"logs", svc->container, NULL}, NULL);
            rc = err_set(ERR_IO, "the container of '%s' exited before it answered (its log is above)", image);
            goto done;
        }
        if (time(NULL) > deadline) {
            rc = err_set(ERR_IO, "the container of '%s' did not answer within %d s", image, START_TIMEOUT_S);
            goto done;
        }
        struct timespec tick = {0, 100 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    buf_reset(&out);
    if ((rc = run_podman(svc, (const char *[]){"inspect", "-f", "{{.State.Pid}}", svc->container, NULL}, &out)))
        goto done;
    svc->pid = (pid_t)strtol(out.data ? out.data : "0", NULL, 10);
    /* amlserve's first log line says how long the models took to load. */
    buf_reset(&out);
    if (run_podman(svc, (const char *[]){"logs", svc->container, NULL}, &out) == 0 && out.data) {
        const char *p = strstr(out.data, "\"model_load_ms\":");
        svc->model_load_ms = p ? strtod(p + 16, NULL) : 0;
    }
    if (svc->pid <= 0)
        rc = err_set(ERR_IO, "podman did not report the container's process");
done:
    buf_release(&out);
    if (rc)
        image_service_stop(svc);
    return rc;
}

void image_service_stop(struct local_service *svc)
{
    if (svc->container && svc->podman)
        run_podman(svc, (const char *[]){"rm", "-f", "-t", "10", svc->container, NULL}, NULL);
    free(svc->container);
    svc->container = NULL;
    svc->pid = 0;
    if (svc->podman)
        engine_cmd_release(svc->podman);
    free(svc->podman);
    svc->podman = NULL;
}
