#include "builder/registry/registry.h"

#include "common/arena.h"
#include "common/err.h"
#include "common/parse_number.h"
#include "common/json.h"
#include "builder/image/reference.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define ERROR_BODY_LIMIT (64 << 10)
#define TOKEN_REPLY_LIMIT (1 << 20)

_Static_assert(sizeof((struct registry_conn *)0)->errbuf >= CURL_ERROR_SIZE, "errbuf must hold CURL_ERROR_SIZE");
_Static_assert(CURL_LOCK_DATA_LAST <= 8, "share_locks must have one mutex per curl_lock_data");

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_global(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Tuning knobs from the environment; anything that is not a number in range means the default. */
static long env_long(const char *name, long fallback, long lo, long hi)
{
    return (long)parse_number_int_or(getenv(name), lo, hi, fallback);
}

void registry_call_init(struct registry_call *call, const char *method, const char *url, const char *scope,
                        const char *repo, const char *what)
{
    memset(call, 0, sizeof *call);
    call->fd = -1;
    call->out_fd = -1;
    call->method = method;
    call->url = url;
    call->scope = scope;
    call->repo = repo;
    call->what = what;
}

void registry_repo_scope(char *out, size_t size, const char *repo, int push)
{
    snprintf(out, size, "repository:%s:%s", repo, push ? "pull,push" : "pull");
}

void registry_response_release(struct registry_response *resp)
{
    buf_release(&resp->error_body);
}

static void response_reset(struct registry_response *resp)
{
    buf_release(&resp->error_body);
    memset(resp, 0, sizeof *resp);
    resp->content_length = -1;
    buf_init(&resp->error_body, ERROR_BODY_LIMIT);
}

/* ---- libcurl callbacks -------------------------------------------------- */

struct transfer {
    struct registry_conn *conn;
    const struct registry_call *call;
    struct registry_response *resp;
    size_t sent; /* request body bytes handed to curl */
    int64_t received;
    long long counted; /* of those, what count_moved added to the progress counters */
    int sink_failed;   /* local write error or size cap: message set */
};

static void copy_header_value(char *dst, size_t size, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n >= size)
        n = size - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct transfer *t = ctx;
    size_t n = size * nmemb;
    struct registry_response *r = t->resp;
    if (n >= 5 && !strncmp(data, "HTTP/", 5)) {
        /* A new response (redirect or 100-continue): forget the previous headers. */
        r->location[0] = r->content_type[0] = r->docker_digest[0] = r->range[0] = r->link[0] = '\0';
        r->www_authenticate[0] = r->oci_subject[0] = '\0';
        r->retry_after = 0;
        r->content_length = -1;
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon)
        return n;
    size_t name_len = (size_t)(colon - data);
    const char *v = colon + 1;
    size_t vlen = n - name_len - 1;
#define IS(name) (name_len == sizeof name - 1 && !strncasecmp(data, name, name_len))
    if (IS("location"))
        copy_header_value(r->location, sizeof r->location, v, vlen);
    else if (IS("content-type"))
        copy_header_value(r->content_type, sizeof r->content_type, v, vlen);
    else if (IS("docker-content-digest"))
        copy_header_value(r->docker_digest, sizeof r->docker_digest, v, vlen);
    else if (IS("range"))
        copy_header_value(r->range, sizeof r->range, v, vlen);
    else if (IS("oci-subject"))
        copy_header_value(r->oci_subject, sizeof r->oci_subject, v, vlen);
    else if (IS("link"))
        copy_header_value(r->link, sizeof r->link, v, vlen);
    else if (IS("www-authenticate") && !r->www_authenticate[0])
        copy_header_value(r->www_authenticate, sizeof r->www_authenticate, v, vlen);
    else if (IS("content-length")) {
        char tmp[32];
        copy_header_value(tmp, sizeof tmp, v, vlen);
        r->content_length = strtoll(tmp, NULL, 10);
    } else if (IS("retry-after")) {
        char tmp[64];
        copy_header_value(tmp, sizeof tmp, v, vlen);
        char *end;
        long secs = strtol(tmp, &end, 10);
        if (end != tmp && !*end && secs >= 0) {
            r->retry_after = secs;
        } else {
            time_t when = curl_getdate(tmp, NULL);
            time_t now = time(NULL);
            if (when > now)
                r->retry_after = (long)(when - now);
        }
    }
#undef IS
    return n;
}

/* Payload bytes for progress: the registry's total and the conn's blob. */
static void count_moved(struct transfer *t, long long n)
{
    t->counted += n;
    atomic_fetch_add(&t->conn->reg->bytes_moved, n);
    if (t->conn->blob_bytes)
        atomic_fetch_add(t->conn->blob_bytes, n);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct transfer *t = ctx;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(t->conn->curl, CURLINFO_RESPONSE_CODE, &status);
    const struct registry_call *call = t->call;
    if (status < 200 || status > 299) {
        buf_append(&t->resp->error_body, data, n); /* capped; the rest is dropped */
        return n;
    }
    t->received += (int64_t)n;
    if (call->out_max && t->received > call->out_max) {
        err_set(ERR_LIMIT, "%s: the registry sent more than the expected %lld bytes", call->what,
                (long long)call->out_max);
        t->sink_failed = 1;
        return 0;
    }
    if (call->out_fd >= 0) {
        if (call->out_digest && digest_update(call->out_digest, data, n)) {
            t->sink_failed = 1;
            return 0;
        }
        for (size_t done = 0; done < n;) {
            errno = 0;
            ssize_t w = write(call->out_fd, data + done, n - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                err_set_write(ERR_IO, "%s: cannot write the download", call->what);
                t->sink_failed = 1;
                return 0;
            }
            done += (size_t)w;
        }
        count_moved(t, (long long)n);
    } else if (call->body_buf) {
        if (buf_append(call->body_buf, data, n)) {
            err_set(ERR_LIMIT, "%s: the registry's reply is too large", call->what);
            t->sink_failed = 1;
            return 0;
        }
    }
    return n;
}

static size_t on_read(char *out, size_t size, size_t nmemb, void *ctx)
{
    struct transfer *t = ctx;
    const struct registry_call *call = t->call;
    size_t want = size * nmemb;
    if (call->fd >= 0) {
        int64_t left = call->length - (int64_t)t->sent;
        if (left <= 0)
            return 0;
        if ((int64_t)want > left)
            want = (size_t)left;
        ssize_t r;
        do
            r = pread(call->fd, out, want, call->offset + (off_t)t->sent);
        while (r < 0 && errno == EINTR);
        if (r < 0) {
            err_set_errno(ERR_IO, "%s: cannot read the blob", call->what);
            return CURL_READFUNC_ABORT;
        }
        if (r == 0) {
            err_set(ERR_IO, "%s: the blob file is shorter than its descriptor says", call->what);
            return CURL_READFUNC_ABORT;
        }
        t->sent += (size_t)r;
        count_moved(t, (long long)r);
        return (size_t)r;
    }
    size_t left = call->len - t->sent;
    if (want > left)
        want = left;
    memcpy(out, (const char *)call->data + t->sent, want);
    t->sent += want;
    return want;
}

/* ---- auth --------------------------------------------------------------- */

static void url_escape_into(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c))
            buf_append(b, s, 1);
        else
            buf_appendf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
    }
}

/* A TLS failure that plain HTTP must not paper over: the server speaks TLS
 * but its certificate (or our CA bundle) is the problem. */
static int tls_verify_error(CURLcode cc)
{
    switch (cc) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: return 1;
    default: return 0;
    }
}

long registry_connect_timeout_ms(void)
{
    return env_long("AMLPKG_CONNECT_TIMEOUT_MS", 3000, 1, 600000);
}

/* libcurl's own detail ("SSL certificate problem: ...") when it has one. */
static const char *curl_detail(const struct registry_conn *c, CURLcode cc)
{
    return c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);
}

static const char *tls_hint(const struct registry *reg, CURLcode cc)
{
    if (!tls_verify_error(cc))
        return "";
    if (cc == CURLE_SSL_CACERT_BADFILE)
        return reg->opt.ca_cert ? "; check the --ca-cert file" : "";
    return reg->opt.ca_cert ? "; the certificate is not signed by the --ca-cert bundle or does not name this host"
                            : "; pass --ca-cert FILE with the CA that signed the registry's certificate, or "
                              "--insecure to skip verification";
}

static void set_tls(struct registry_conn *c, CURL *h)
{
    struct registry *reg = c->reg;
    c->errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    if (reg->opt.ca_cert)
        curl_easy_setopt(h, CURLOPT_CAINFO, reg->opt.ca_cert);
    if (reg->opt.insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (reg->share)
        curl_easy_setopt(h, CURLOPT_SHARE, (CURLSH *)reg->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* An unreachable registry should fail fast with its reason, not after minutes of SYN retries. */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, registry_connect_timeout_ms());
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, env_long("AMLPKG_STALL_SECONDS", 60, 1, 3600));
    curl_easy_setopt(h, CURLOPT_USERAGENT, "amlpkg/0.1");
}

struct token_sink {
    struct buf *b;
};

static size_t on_token_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct buf *b = ctx;
    return buf_append(b, data, size * nmemb) ? 0 : size * nmemb;
}

/* ": <message>" from a token service's error reply ({"details": ...}, OAuth2
 * {"error_description": ...} or registry-style {"errors": [{"message": ...}]}). */
static void token_error_detail(char *out, size_t size, const struct buf *reply)
{
    out[0] = '\0';
    struct arena arena;
    arena_init(&arena, 4096, 1u << 20);
    struct json_value *root = NULL;
    if (reply->len && !json_parse(&root, &arena, reply->data, reply->len, "token reply") && root->type == JSON_OBJECT) {
        const struct json_value *m = json_member(root, "details");
        if (!m || m->type != JSON_STRING)
            m = json_member(root, "error_description");
        if (!m || m->type != JSON_STRING) {
            const struct json_value *errs = json_member(root, "errors");
            const struct json_value *e = errs && errs->type == JSON_ARRAY ? errs->child : NULL;
            m = e ? json_member(e, "message") : NULL;
        }
        if (m && m->type == JSON_STRING && m->as.string.len)
            snprintf(out, size, ": %.200s", m->as.string.ptr);
    }
    err_clear(); /* an unparsable reply must not hide the status */
    arena_release(&arena);
}

/* GETs a Bearer token for scope from the realm. Caller holds reg->lock. */
static int fetch_token(struct registry_conn *c, const char *scope, char **out)
{
    struct registry *reg = c->reg;
    *out = NULL;
    struct buf url, reply;
    buf_init(&url, 8192);
    buf_init(&reply, TOKEN_REPLY_LIMIT);
    CURL *h = c->curl;
    int rc = 0;
    char detail[256];
    buf_append_str(&url, reg->realm);
    buf_append_str(&url, strchr(reg->realm, '?') ? "&" : "?");
    if (reg->service[0]) {
        buf_append_str(&url, "service=");
        url_escape_into(&url, reg->service);
    }
    /* One scope parameter per scope: token services (the CNCF one among them)
     * read repeated parameters, not one space-separated list. */
    int first = !reg->service[0];
    for (const char *p = scope ? scope : ""; *p;) {
        size_t n = strcspn(p, " ");
        if (n) {
            char one[600];
            snprintf(one, sizeof one, "%.*s", (int)(n < sizeof one ? n : sizeof one - 1), p);
            buf_append_str(&url, first ? "scope=" : "&scope=");
            url_escape_into(&url, one);
            first = 0;
        }
        p += n + (p[n] == ' ');
    }
    if (strncmp(reg->realm, "https://", 8) && strncmp(reg->realm, "http://", 7)) {
        rc = err_set(ERR_INVALID, "%s %s: token realm '%s' is not an http(s) URL", reg->op, reg->name, reg->realm);
        goto done;
    }
    curl_easy_reset(h);
    set_tls(c, h);
    curl_easy_setopt(h, CURLOPT_URL, url.data);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_token_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
    if (reg->creds.user) {
        curl_easy_setopt(h, CURLOPT_USERNAME, reg->creds.user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, reg->creds.pass);
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    }
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        rc = err_set(tls_verify_error(cc) ? ERR_INVALID : ERR_IO, "%s %s: token request to '%s' failed: %s%s", reg->op,
                     reg->name, reg->realm, curl_detail(c, cc), tls_hint(reg, cc));
    } else if (status == 401) {
        token_error_detail(detail, sizeof detail, &reply);
        rc = err_set(ERR_INVALID, "%s %s: the token service '%s' refused %s (HTTP 401%s)%s", reg->op, reg->name,
                     reg->realm, reg->creds.user ? "the credentials" : "anonymous access", detail,
                     reg->creds.user ? "; check the user name and password" : "; pass --creds or log in");
    } else if (status == 403) {
        /* The credentials are fine; this scope is not theirs to have. */
        token_error_detail(detail, sizeof detail, &reply);
        rc = err_set(ERR_INVALID, "%s %s: the token service '%s' denied '%s' (HTTP 403%s)%s", reg->op, reg->name,
                     reg->realm, scope ? scope : "", detail,
                     reg->creds.user ? "; the account lacks access to this repository" : "; pass --creds or log in");
    } else if (status != 200) {
        rc = err_set(ERR_IO, "%s %s: token request to '%s' answered HTTP %ld", reg->op, reg->name, reg->realm, status);
    } else {
        long expires;
        rc = registry_auth_parse_token(out, &expires, reply.data, reply.len);
    }
done:
    buf_release(&url);
    buf_release(&reply);
    return rc;
}

/* Builds the Authorization header for scope into hdr (empty for none). */
/* Frees a string that held credentials (base64 is no disguise), wiping it first. */
static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static int auth_header(struct registry_conn *c, const char *scope, int refresh, char **hdr)
{
    struct registry *reg = c->reg;
    *hdr = NULL;
    int rc = 0;
    const char *sc = scope ? scope : "";
    pthread_mutex_lock(&reg->lock);
    if (reg->scheme == AUTH_BASIC && reg->creds.user) {
        size_t n = strlen(reg->creds.user) + strlen(reg->creds.pass) + 2;
        char *plain = malloc(n);
        char *b64 = NULL;
        if (plain) {
            snprintf(plain, n, "%s:%s", reg->creds.user, reg->creds.pass);
            b64 = registry_auth_base64(plain, n - 1);
            free_secret(plain);
        }
        if (!b64 || asprintf(hdr, "Authorization: Basic %s", b64) < 0) {
            *hdr = NULL;
            rc = err_set(ERR_NOMEM, "out of memory");
        }
        free_secret(b64);
    } else if (reg->scheme == AUTH_BEARER) {
        struct registry_token *t = NULL;
        for (size_t i = 0; i < reg->n_tokens; i++)
            if (!strcmp(reg->tokens[i].scope, sc))
                t = &reg->tokens[i];
        if (t && refresh) {
            free(t->token);
            t->token = NULL;
        }
        if (!t || !t->token) {
            char *token = NULL;
            if ((rc = fetch_token(c, sc, &token)))
                goto done;
            if (!t) {
                size_t slot = reg->n_tokens < 16 ? reg->n_tokens++ : (reg->next_token++ % 16);
                t = &reg->tokens[slot];
                free(t->token);
                snprintf(t->scope, sizeof t->scope, "%s", sc);
            }
            t->token = token;
        }
        if (asprintf(hdr, "Authorization: Bearer %s", t->token) < 0) {
            *hdr = NULL;
            rc = err_set(ERR_NOMEM, "out of memory");
        }
    }
done:
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

/* Learns from a 401's challenge. Returns 1 when replaying could help. */
static int learn_challenge(struct registry *reg, const struct registry_response *resp, int had_auth)
{
    struct auth_challenge ch;
    if (!resp->www_authenticate[0] ||
        registry_auth_parse_challenge(&ch, resp->www_authenticate, strlen(resp->www_authenticate)))
        return 0;
    err_clear(); /* a challenge we cannot parse is reported as the 401 itself */
    pthread_mutex_lock(&reg->lock);
    int changed = reg->scheme != ch.scheme || (ch.scheme == AUTH_BEARER && strcmp(reg->realm, ch.realm));
    reg->scheme = ch.scheme;
    if (ch.scheme == AUTH_BEARER) {
        snprintf(reg->realm, sizeof reg->realm, "%s", ch.realm);
        snprintf(reg->service, sizeof reg->service, "%s", ch.service);
    }
    int useful = ch.scheme == AUTH_BEARER ? (changed || !had_auth || !strcmp(ch.error, "invalid_token"))
                                          : (reg->creds.user && !had_auth);
    pthread_mutex_unlock(&reg->lock);
    return useful || (changed && ch.scheme == AUTH_BEARER);
}

/* ---- requests ----------------------------------------------------------- */

int registry_resolve_url(struct registry *reg, char *out, size_t size, const char *location)
{
    int n;
    if (!strncmp(location, "https://", 8) || !strncmp(location, "http://", 7))
        n = snprintf(out, size, "%s", location);
    else if (location[0] == '/')
        n = snprintf(out, size, "%s%s", reg->base, location);
    else
        n = snprintf(out, size, "%s/%s", reg->base, location);
    if (n < 0 || (size_t)n >= size)
        return err_set(ERR_LIMIT, "%s %s: URL too long", reg->op, reg->name);
    return 0;
}

/* Failures worth another attempt: a connection reset or dropped mid-request,
 * a stalled transfer. Not a refused or timed-out connect, nor a name that does
 * not resolve: those would fail the same way again, only later. */
static int transient_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR: return 1;
    default: return 0;
    }
}

/* The connection itself failed (nothing was sent): refused, unroutable, no
 * answer within the connect timeout, or a host name that does not resolve. */
static int connect_failed(const struct registry_conn *c, CURLcode cc)
{
    if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY)
        return 1;
    /* A timeout before the request was sent is the connect timeout; one after
     * (a stalled transfer, maybe on a reused connection) is worth a retry. */
    curl_off_t connected = 0, pretransfer = 0;
    return cc == CURLE_OPERATION_TIMEDOUT && curl_easy_getinfo(c->curl, CURLINFO_CONNECT_TIME_T, &connected) == CURLE_OK &&
           curl_easy_getinfo(c->curl, CURLINFO_PRETRANSFER_TIME_T, &pretransfer) == CURLE_OK && connected == 0 &&
           pretransfer == 0;
}

/* Why a connection failed, in words a user can act on, then libcurl's detail. */
static void connect_reason(char *out, size_t size, const struct registry_conn *c, CURLcode cc)
{
    long os_errno = 0;
    curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
    const char *why;
    if (cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY)
        why = "the host name does not resolve (DNS)";
    else if (cc == CURLE_OPERATION_TIMEDOUT)
        why = "no answer within the connect timeout (AMLPKG_CONNECT_TIMEOUT_MS)";
    else if (os_errno == ECONNREFUSED)
        why = "connection refused (nothing listens on that port)";
    else if (os_errno == EHOSTUNREACH)
        why = "no route to host";
    else if (os_errno == ENETUNREACH)
        why = "network unreachable";
    else if (os_errno == ETIMEDOUT)
        why = "no answer within the connect timeout (AMLPKG_CONNECT_TIMEOUT_MS)";
    else
        why = "cannot connect";
    snprintf(out, size, "%s: %s", why, curl_detail(c, cc));
}

static int transient_status(long s)
{
    return s == 429 || s == 500 || s == 502 || s == 503 || s == 504 || s == 408;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* One attempt; returns the CURLcode and fills resp. */
static CURLcode perform(struct registry_conn *c, const struct registry_call *call, const char *url, const char *auth,
                        struct registry_response *resp, struct transfer *t)
{
    CURL *h = c->curl;
    struct curl_slist *headers = NULL;
    curl_easy_reset(h);
    set_tls(c, h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    char line[1024];
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip per upload */
    if (auth)
        headers = curl_slist_append(headers, auth);
    if (call->accept) {
        snprintf(line, sizeof line, "Accept: %s", call->accept);
        headers = curl_slist_append(headers, line);
    }
    if (call->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", call->content_type);
        headers = curl_slist_append(headers, line);
    }
    if (call->content_range) {
        snprintf(line, sizeof line, "Content-Range: %s", call->content_range);
        headers = curl_slist_append(headers, line);
    }
    int has_body = call->fd >= 0 || call->data;
    int64_t body_len = call->fd >= 0 ? call->length : (int64_t)call->len;
    const char *m = call->method;
    if (!strcmp(m, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(m, "GET")) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L); /* blob GETs may redirect to storage */
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    } else if (!strcmp(m, "POST") && !has_body) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    } else {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(has_body ? body_len : 0));
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, t);
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 1L << 20);
        if (strcmp(m, "PUT"))
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    }
    if (!strcmp(m, "DELETE"))
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L << 10);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_slist_free_all(headers);
    return cc;
}

static int reset_sink(const struct registry_call *call)
{
    if (call->body_buf)
        buf_reset(call->body_buf);
    if (call->out_fd >= 0) {
        if (ftruncate(call->out_fd, 0) != 0 || lseek(call->out_fd, 0, SEEK_SET) != 0)
            return err_set_errno(ERR_IO, "%s: cannot rewind the download", call->what);
        if (call->out_digest) {
            digest_release(call->out_digest);
            return digest_init(call->out_digest);
        }
    }
    return 0;
}

/* What a failed or replayed attempt counted as moved (its own bytes only:
 * other threads' transfers go on meanwhile). */
static void take_back(struct registry_conn *c, long long n)
{
    atomic_fetch_sub(&c->reg->bytes_moved, n);
    if (c->blob_bytes)
        atomic_fetch_sub(c->blob_bytes, n);
}

int registry_call(struct registry_conn *c, const struct registry_call *call, struct registry_response *resp)
{
    struct registry *reg = c->reg;
    memset(resp, 0, sizeof *resp);
    buf_init(&resp->error_body, ERROR_BODY_LIMIT);
    char url[8192];
    int rc = registry_resolve_url(reg, url, sizeof url, call->url);
    if (rc)
        return rc;
    long max_retries = call->no_retry ? 0 : env_long("AMLPKG_RETRIES", 5, 0, 100);
    long base_ms = env_long("AMLPKG_RETRY_BASE_MS", 500, 1, 60000);
    int auth_replays = 0, refresh = 0;
    for (long attempt = 0;; attempt++) {
        char *auth = NULL;
        if ((rc = auth_header(c, call->scope, refresh, &auth)))
            return rc;
        refresh = 0;
        response_reset(resp);
        if ((rc = reset_sink(call))) {
            free_secret(auth);
            return rc;
        }
        struct transfer t = {.conn = c, .call = call, .resp = resp};
        CURLcode cc = perform(c, call, url, auth, resp, &t);
        int had_auth = auth != NULL;
        free_secret(auth);
        if (t.sink_failed)
            return err_set(ERR_IO, "%s: download failed", call->what);
        if (cc == CURLE_ABORTED_BY_CALLBACK || (cc == CURLE_READ_ERROR))
            return err_set(ERR_IO, "%s: upload aborted", call->what);
        if (connect_failed(c, cc)) {
            char why[CURL_ERROR_SIZE + 128];
            connect_reason(why, sizeof why, c, cc);
            return err_set(ERR_IO, "%s %s/%s: %s: cannot reach the registry: %s", reg->op, reg->name,
                           call->repo ? call->repo : "", call->what, why);
        }
        int transient = cc != CURLE_OK ? transient_curl(cc) : transient_status(resp->status);
        if (cc == CURLE_OK && resp->status == 401 && auth_replays < 2 && learn_challenge(reg, resp, had_auth)) {
            auth_replays++;
            refresh = had_auth;
            attempt--; /* an auth round trip is not a failure */
            take_back(c, t.counted);
            continue;
        }
        if (!transient)
            return cc == CURLE_OK
                       ? 0
                       : err_set(tls_verify_error(cc) ? ERR_INVALID : ERR_IO, "%s %s/%s: %s: %s%s", reg->op, reg->name,
                                 call->repo ? call->repo : "", call->what, curl_detail(c, cc), tls_hint(reg, cc));
        /* Progress counted what this failed attempt moved; take it back. */
        take_back(c, t.counted);
        if (attempt >= max_retries) {
            if (cc != CURLE_OK)
                return err_set(ERR_IO, "%s %s/%s: %s: %s (after %ld attempts)", reg->op, reg->name,
                               call->repo ? call->repo : "", call->what, curl_detail(c, cc), attempt + 1);
            return 0; /* the caller reports the status */
        }
        long delay = base_ms << (attempt < 16 ? attempt : 16);
        if (delay > 8000)
            delay = 8000;
        if (cc == CURLE_OK && resp->retry_after > 0)
            delay = (resp->retry_after > 120 ? 120 : resp->retry_after) * 1000;
        if (getenv("AMLPKG_DEBUG"))
            fprintf(stderr, "amlpkg: %s: %s, retrying in %ld ms\n", call->what,
                    cc != CURLE_OK ? curl_easy_strerror(cc) : "server busy", delay);
        sleep_ms(delay);
    }
}

static const char *status_text(long s)
{
    switch (s) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

int registry_status_error(struct registry_conn *c, const struct registry_call *call,
                          const struct registry_response *resp)
{
    struct registry *reg = c->reg;
    char detail[512] = "";
    char code[64] = "";
    struct arena arena;
    arena_init(&arena, 4096, 1u << 20);
    struct json_value *root = NULL;
    if (resp->error_body.len && !json_parse(&root, &arena, resp->error_body.data, resp->error_body.len, "reply")) {
        const struct json_value *errs = json_member(root, "errors");
        const struct json_value *e = errs && errs->type == JSON_ARRAY ? errs->child : NULL;
        const struct json_value *cv = e ? json_member(e, "code") : NULL;
        const struct json_value *mv = e ? json_member(e, "message") : NULL;
        if (cv && cv->type == JSON_STRING)
            snprintf(code, sizeof code, "%s", cv->as.string.ptr);
        snprintf(detail, sizeof detail, " (%s%s%s)", code, code[0] && mv && mv->type == JSON_STRING ? ": " : "",
                 mv && mv->type == JSON_STRING ? mv->as.string.ptr : "");
        if (!strcmp(detail, " ()"))
            detail[0] = '\0';
    }
    err_clear(); /* a reply we could not parse must not hide the status */
    arena_release(&arena);
    const char *hint = "";
    int rc = ERR_IO;
    struct auth_challenge ch = {0};
    char scope_hint[800];
    if (resp->status == 401 && resp->www_authenticate[0] &&
        !registry_auth_parse_challenge(&ch, resp->www_authenticate, strlen(resp->www_authenticate)) &&
        ch.scheme == AUTH_BEARER && !strcmp(ch.error, "insufficient_scope")) {
        /* Authenticated, but the token's access claims fall short of the scope. */
        snprintf(scope_hint, sizeof scope_hint,
                 "; the token for '%s' does not grant it: the account lacks this access to the repository",
                 call->scope ? call->scope : ch.scope);
        err_clear();
        return err_set(ERR_INVALID, "%s %s/%s: %s: HTTP 401 %s%s%s", reg->op, reg->name, call->repo ? call->repo : "",
                       call->what, status_text(401), detail, scope_hint);
    }
    err_clear();
    if (resp->status == 401) {
        hint = reg->creds.user ? "; the registry refused the credentials from "
                               : "; no credentials found: pass --creds USER:PASS, set AMLPKG_REGISTRY_AUTH or log in";
        rc = ERR_INVALID;
    } else if (resp->status == 403) {
        hint = "; the credentials lack access to this repository";
        rc = ERR_INVALID;
    } else if (resp->status == 404 || !strcmp(code, "NAME_UNKNOWN") || !strcmp(code, "MANIFEST_UNKNOWN")) {
        hint = !strcmp(code, "NAME_UNKNOWN")       ? "; the repository does not exist"
               : !strcmp(code, "MANIFEST_UNKNOWN") ? "; no such tag or digest"
                                                   : "";
        rc = ERR_NOTFOUND;
    }
    return err_set(rc, "%s %s/%s: %s: HTTP %ld %s%s%s%s", reg->op, reg->name, call->repo ? call->repo : "", call->what,
                   resp->status, status_text(resp->status), detail, hint,
                   resp->status == 401 && reg->creds.user ? reg->creds.source : "");
}

/* ---- lifecycle ---------------------------------------------------------- */

int registry_conn_new(struct registry_conn **out, struct registry *reg)
{
    *out = NULL;
    struct registry_conn *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&reg->lock);
    if (reg->n_idle)
        c->curl = reg->idle[--reg->n_idle];
    pthread_mutex_unlock(&reg->lock);
    if (!c->curl && !(c->curl = curl_easy_init())) {
        free(c);
        return err_set(ERR_NOMEM, "cannot start libcurl");
    }
    c->reg = reg;
    *out = c;
    return 0;
}

void registry_conn_free(struct registry_conn *c)
{
    if (!c)
        return;
    struct registry *reg = c->reg;
    int kept = 0;
    pthread_mutex_lock(&reg->lock);
    if (reg->n_idle < sizeof reg->idle / sizeof reg->idle[0]) {
        reg->idle[reg->n_idle++] = c->curl; /* its open connections stay open for the next conn */
        kept = 1;
    }
    pthread_mutex_unlock(&reg->lock);
    if (!kept)
        curl_easy_cleanup(c->curl);
    free(c);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ctx)
{
    (void)h;
    (void)access;
    struct registry *reg = ctx;
    pthread_mutex_lock(&reg->share_locks[(unsigned)data % 8]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ctx)
{
    (void)h;
    struct registry *reg = ctx;
    pthread_mutex_unlock(&reg->share_locks[(unsigned)data % 8]);
}

static int share_new(struct registry *reg)
{
    CURLSH *sh = curl_share_init();
    if (!sh)
        return err_set(ERR_NOMEM, "cannot start libcurl");
    for (size_t i = 0; i < 8; i++)
        pthread_mutex_init(&reg->share_locks[i], NULL);
    curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(sh, CURLSHOPT_USERDATA, reg);
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    reg->share = sh;
    return 0;
}

void registry_free(struct registry *reg)
{
    if (!reg)
        return;
    /* Handles first: a share cannot go while handles still use it. */
    for (size_t i = 0; i < reg->n_idle; i++)
        curl_easy_cleanup(reg->idle[i]);
    if (reg->share) {
        curl_share_cleanup((CURLSH *)reg->share);
        for (size_t i = 0; i < 8; i++)
            pthread_mutex_destroy(&reg->share_locks[i]);
    }
    for (size_t i = 0; i < reg->n_tokens; i++)
        free(reg->tokens[i].token);
    registry_auth_creds_release(&reg->creds);
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

/* GET /v2/ on base: the status, or -1 for a transport failure (cc set). */
static int ping(struct registry_conn *c, struct registry_response *resp, CURLcode *cc)
{
    struct registry_call call;
    registry_call_init(&call, "GET", "/v2/", NULL, NULL, "ping /v2/");
    struct transfer t = {.conn = c, .call = &call, .resp = resp};
    response_reset(resp);
    *cc = perform(c, &call, c->reg->base, NULL, resp, &t);
    return 0;
}

int registry_open(struct registry **out, const char *registry_name, const struct registry_options *opt)
{
    *out = NULL;
    pthread_once(&curl_once, curl_global);
    struct registry *reg = calloc(1, sizeof *reg);
    struct registry_conn *c = NULL;
    struct registry_response resp = {0};
    buf_init(&resp.error_body, ERROR_BODY_LIMIT);
    if (!reg)
        return err_set(ERR_NOMEM, "out of memory");
    pthread_mutex_init(&reg->lock, NULL);
    reg->opt = *opt;
    snprintf(reg->name, sizeof reg->name, "%s", registry_name);
    snprintf(reg->op, sizeof reg->op, "%s", opt->op ? opt->op : "access");
    snprintf(reg->host, sizeof reg->host, "%s",
             strcmp(registry_name, REFERENCE_DEFAULT_REGISTRY) ? registry_name : "registry-1.docker.io");
    int rc = registry_auth_find_creds(&reg->creds, reg->name, opt->creds, opt->authfile);
    if (rc || (rc = share_new(reg)) || (rc = registry_conn_new(&c, reg)))
        goto done;
    /* --ca-cert says the registry speaks TLS: no plain HTTP then, even on loopback. */
    int loopback = !opt->ca_cert && reference_host_is_loopback(reg->host);
    int plain_ok = opt->insecure || loopback;
    /* Loopback registries mostly speak plain HTTP, and a TLS attempt against
     * one costs a handshake plus loading the system CA store; so there the
     * unauthenticated ping tries HTTP first and moves to HTTPS when the port
     * turns out to speak TLS. Elsewhere HTTPS comes first, HTTP only with
     * --insecure. Once HTTPS is chosen, a TLS failure is final. */
    const char *schemes[2] = {"https", "http"};
    if (loopback) {
        schemes[0] = "http";
        schemes[1] = "https";
    }
    CURLcode cc = CURLE_OK, tls_cc = CURLE_OK;
    char tls_err[CURL_ERROR_SIZE] = "";
    long retries = env_long("AMLPKG_RETRIES", 5, 0, 100), base_ms = env_long("AMLPKG_RETRY_BASE_MS", 500, 1, 60000);
    for (long attempt = 0;; attempt++) {
        for (int s = 0; s < (plain_ok ? 2 : 1); s++) {
            int https = schemes[s][4] == 's';
            snprintf(reg->base, sizeof reg->base, "%s://%s/v2/", schemes[s], reg->host);
            ping(c, &resp, &cc);
            if (connect_failed(c, cc))
                break; /* nobody answers at all: the other scheme would wait just as long */
            if (https) {
                /* A certificate that does not verify means the server does speak TLS. */
                if (cc == CURLE_OK || tls_verify_error(cc))
                    break;
                tls_cc = cc;
                snprintf(tls_err, sizeof tls_err, "%s", curl_detail(c, cc));
            } else if (cc == CURLE_OK && resp.status != 400) {
                break;
            }
            /* Plain HTTP to a TLS port answers 400 or hangs up: try the other scheme. */
        }
        if (cc == CURLE_OK && !transient_status(resp.status))
            break;
        if (attempt >= retries || (cc != CURLE_OK && (connect_failed(c, cc) || !transient_curl(cc))))
            break;
        long delay = base_ms << (attempt < 16 ? attempt : 16);
        sleep_ms(delay > 8000 ? 8000 : delay);
    }
    if (tls_verify_error(cc)) {
        rc = err_set(ERR_INVALID, "%s %s: the registry's TLS certificate cannot be verified: %s%s", reg->op, reg->name,
                     curl_detail(c, cc), tls_hint(reg, cc));
        goto done;
    }
    if (cc != CURLE_OK) {
        char why[CURL_ERROR_SIZE + 128];
        int unreachable = connect_failed(c, cc);
        if (unreachable)
            connect_reason(why, sizeof why, c, cc);
        else
            snprintf(why, sizeof why, "%s", curl_detail(c, cc));
        rc = err_set(ERR_IO, "%s %s: cannot reach the registry: %s%s", reg->op, reg->name, why,
                     plain_ok || unreachable
                         ? ""
                         : " (plain HTTP is used only with --insecure or for localhost without --ca-cert)");
        goto done;
    }
    if (resp.status == 400 && tls_cc != CURLE_OK && !strncmp(reg->base, "http:", 5)) {
        /* Plain HTTP to a TLS port: what failed is the TLS handshake. */
        rc = err_set(ERR_IO, "%s %s: the registry speaks HTTPS but the TLS connection failed: %s", reg->op, reg->name,
                     tls_err);
        goto done;
    }
    /* base is the scheme and host only; paths carry /v2/. */
    *strstr(reg->base + 8, "/v2/") = '\0';
    if (resp.status == 401) {
        learn_challenge(reg, &resp, 0);
        if (reg->scheme == AUTH_NONE) {
            rc = err_set(ERR_UNSUPPORTED, "%s %s: the registry asks for an unsupported authentication: '%s'", reg->op,
                         reg->name, resp.www_authenticate);
            goto done;
        }
    } else if (resp.status != 200) {
        rc = err_set(ERR_IO, "%s %s: /v2/ answered HTTP %ld: not an OCI registry?", reg->op, reg->name, resp.status);
        goto done;
    }
    *out = reg;
    reg = NULL;
done:
    registry_response_release(&resp);
    registry_conn_free(c);
    registry_free(reg);
    return rc;
}

int registry_check_access(struct registry *reg, const char *repo, int push)
{
    struct registry_conn *c = NULL;
    int rc = registry_conn_new(&c, reg);
    if (rc)
        return rc;
    char scope[600];
    registry_repo_scope(scope, sizeof scope, repo, push);
    struct registry_call call;
    registry_call_init(&call, "GET", "/v2/", scope, repo, "check access");
    struct registry_response resp;
    if (!(rc = registry_call(c, &call, &resp)) && resp.status != 200)
        rc = registry_status_error(c, &call, &resp);
    registry_response_release(&resp);
    registry_conn_free(c);
    return rc;
}
