/* OCI distribution client, the HTTP layer: one struct registry per registry
 * host (base URL, credentials, learned auth scheme and cached tokens, shared by
 * threads under a mutex) and one struct registry_conn per thread (a libcurl
 * handle whose connections are kept alive between requests).
 *
 * registry_call() sends one request and deals with everything that is not the
 * caller's business: the Authorization header (Basic, or a Bearer token for
 * the call's scope fetched from the challenge's realm), one replay after a 401
 * challenge, and retries with short exponential backoff honouring Retry-After on
 * dropped connections, 429 and 5xx. A connect that fails (refused, no route,
 * DNS, AMLPKG_CONNECT_TIMEOUT_MS passed) is not retried: it is reported at once. Any other HTTP status is returned for the
 * caller to judge; registry_status_error() turns it into a message naming the
 * operation, the registry and the repository.
 *
 * Plain HTTP is used only with --insecure or for a loopback registry without
 * --ca-cert, and only after HTTPS failed to connect: a certificate that does
 * not verify is an error, never a reason to drop TLS. Ownership: registry_open/registry_free, conn_new/free;
 * a conn borrows its registry, which must outlive it. */
#ifndef AMLPKG_REGISTRY_H
#define AMLPKG_REGISTRY_H

#include "common/buf.h"
#include "builder/sys/digest.h"
#include "builder/registry/registry_auth.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct registry_options {
    const char *creds;   /* "user:pass" from --creds, or NULL */
    const char *authfile; /* --authfile FILE (containers-auth.json(5) format), or NULL */
    const char *ca_cert; /* PEM bundle for TLS, or NULL for the system store */
    int insecure;        /* allow plain HTTP and skip TLS verification */
    const char *op;      /* "push", "pull", "copy": for error messages */
    const char *registries_conf; /* --registries-conf: mirrors for base pulls (registries_conf.h); NULL: the default */
};

struct registry_token {
    char scope[600];
    char *token;
};

struct registry {
    char name[256]; /* as written in references: "docker.io", "127.0.0.1:5000" */
    char host[256]; /* where to connect */
    char base[300]; /* "https://host" or "http://host" */
    char op[16];
    struct registry_options opt;
    struct auth_creds creds;
    pthread_mutex_t lock; /* guards everything below */
    enum auth_scheme scheme;
    char realm[1024];
    char service[256];
    struct registry_token tokens[16];
    size_t n_tokens, next_token;
    atomic_llong bytes_moved; /* payload bytes sent or received, for progress */
    /* A libcurl share (CURLSH *) of TLS sessions and DNS answers, so no
     * thread repeats a full handshake another one already made. Connections
     * themselves are not shared this way (libcurl's shared connection cache
     * is not safe across concurrent threads); instead a freed conn leaves its
     * easy handle, with its kept-alive connections, in idle[] for the next
     * conn_new, so the ping's connection serves the first worker and the
     * workers' serve the manifests. */
    void *share;
    pthread_mutex_t share_locks[8]; /* one per curl_lock_data */
    void *idle[8];                  /* CURL * handles, guarded by lock */
    size_t n_idle;
};

struct registry_conn {
    struct registry *reg;
    void *curl;               /* CURL * */
    char errbuf[256];         /* CURLOPT_ERRORBUFFER (CURL_ERROR_SIZE) of the last request */
    atomic_llong *blob_bytes; /* or NULL: also counts the blob bytes moved, for its progress bar */
};

/* How long a TCP (and TLS) connect may take: AMLPKG_CONNECT_TIMEOUT_MS, default 3000. */
long registry_connect_timeout_ms(void);
/* Connects to registry_name (host[:port] as in a reference), pings /v2/ and
 * learns the auth scheme. */
int registry_open(struct registry **out, const char *registry_name, const struct registry_options *opt);
void registry_free(struct registry *reg);
int registry_conn_new(struct registry_conn **out, struct registry *reg);
void registry_conn_free(struct registry_conn *c);

struct registry_call {
    const char *method; /* GET HEAD PUT POST PATCH DELETE */
    const char *url;    /* "/v2/..." or an absolute URL (upload Locations) */
    const char *scope;  /* token scope: "repository:team/ridge:pull,push" */
    const char *repo;   /* for error messages */
    const char *what;   /* for error messages: "upload blob sha256:..." */
    const char *accept;
    const char *content_type;
    const char *content_range;
    /* Request body: memory (data/len) or a file range (fd >= 0). */
    const void *data;
    size_t len;
    int fd;
    int64_t offset, length;
    /* 2xx response body: into body_buf, or into out_fd (with out_digest fed). */
    struct buf *body_buf;
    int out_fd;
    struct digest *out_digest;
    int64_t out_max; /* refuse a body longer than this (0 = no cap) */
    int no_retry;    /* the request may not be replayed (upload session state) */
};

struct registry_response {
    long status;
    char location[4096];
    char content_type[256];
    char docker_digest[80];
    char range[64];
    char link[2048]; /* pagination: `<url>; rel="next"` */
    char www_authenticate[2048];
    char oci_subject[80]; /* OCI-Subject: a manifest PUT whose subject the referrers API recorded */
    long retry_after;
    int64_t content_length;
    struct buf error_body; /* non-2xx body (capped), released by registry_response_release */
};

/* Initialises a call with what every request names and no body or sink;
 * callers then set the few fields their request needs beyond that. */
void registry_call_init(struct registry_call *call, const char *method, const char *url, const char *scope,
                        const char *repo, const char *what);
/* The token scope for repo: "repository:<repo>:pull" or ":pull,push". */
void registry_repo_scope(char *out, size_t size, const char *repo, int push);
void registry_response_release(struct registry_response *resp);
/* 0 when an HTTP response arrived (any status); negative for a transport
 * failure that retries did not cure (message set). resp is always initialised. */
int registry_call(struct registry_conn *c, const struct registry_call *call, struct registry_response *resp);
/* Sets and returns the error for an unexpected status: "<op> <registry>/<repo>:
 * <what>: HTTP 401 Unauthorized (UNAUTHORIZED: ...)" plus a hint. */
int registry_status_error(struct registry_conn *c, const struct registry_call *call,
                          const struct registry_response *resp);
/* Authenticates for repo (push: pull and push scope) with a GET /v2/: an
 * error names a refused or missing credential before any work depends on it. */
int registry_check_access(struct registry *reg, const char *repo, int push);
/* Absolute URL for a Location header value (which may be relative). */
int registry_resolve_url(struct registry *reg, char *out, size_t size, const char *location);

#endif
