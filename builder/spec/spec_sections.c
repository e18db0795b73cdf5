/* The spec's `inference` and `service` sections: entry script and amlserve's
 * service settings. Paths resolve against the spec's folder and must exist. */
#include "builder/spec/spec_sections.h"

#include "common/buf.h"
#include "common/err.h"
#include "builder/sys/fsutil.h"
#include "builder/spec/git_source.h"
#include "common/tls_pem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const inference_fields[] = {"entry_script", "source_directory", "runtime", NULL};
static const char *const service_fields[] = {"port",
                                             "workers",
                                             "timeout_ms",
                                             "max_request_mb",
                                             "max_concurrent_requests",
                                             "max_queue_wait_ms",
                                             "auth",
                                             "cors",
                                             "input_sample",
                                             "output_sample",
                                             "tls",
                                             NULL};
static const char *const auth_fields[] = {"enabled", "keys", "key_file", "token", "token_secret_file", NULL};
static const char *const cors_fields[] = {"origins", NULL};
static const char *const tls_fields[] = {"cert_file", "key_file", NULL};

int spec_existing_path(struct yaml_tree *t, yaml_node_t *node, const char *field, const char *base_dir, int want_dir,
                       char **out)
{
    const char *s;
    int rc = yaml_tree_string(t, node, field, &s);
    if (rc)
        return rc;
    if (!s[0])
        return err_set(ERR_INVALID, "%s:%d: %s: must not be empty", t->file, yaml_tree_line(node), field);
    char *path = fs_resolve(base_dir, s);
    if (!path)
        return err_set(ERR_NOMEM, "out of memory");
    struct stat st;
    if (stat(path, &st) != 0)
        rc = err_set(ERR_NOTFOUND, "%s:%d: %s: no such %s '%s'", t->file, yaml_tree_line(node), field,
                     want_dir ? "directory" : "file", path);
    else if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        rc = err_set(ERR_INVALID, "%s:%d: %s: '%s' is not a %s", t->file, yaml_tree_line(node), field, path,
                     want_dir ? "directory" : "regular file");
    if (rc) {
        free(path);
        return rc;
    }
    *out = path;
    return 0;
}

static int read_path(struct spec *spec, struct yaml_tree *t, yaml_node_t *node, const char *field, int want_dir,
                     char **out)
{
    return spec_existing_path(t, node, field, spec->dir, want_dir, out);
}

static int read_int(struct yaml_tree *t, yaml_node_t *map, const char *key, const char *field, long long min,
                    long long max, long long *out)
{
    yaml_node_t *n = yaml_tree_get(t, map, key);
    return n ? yaml_tree_int(t, n, field, min, max, out) : 0;
}

static const char *const git_fields[] = {"git", NULL};
static const char *const git_source_fields[] = {"url", "ref", NULL};

/* source_directory: {git: {url, ref}}: cloned and checked out now, so every later stage sees a folder. */
static int read_git_source(struct spec *spec, struct yaml_tree *t, yaml_node_t *node)
{
    int rc = yaml_tree_check_keys(t, node, "inference.source_directory", git_fields);
    yaml_node_t *git = rc ? NULL : yaml_tree_get(t, node, "git");
    if (!rc && !git)
        return err_set(ERR_INVALID, "%s:%d: inference.source_directory: expected a path or {git: {url, ref}}", t->file,
                       yaml_tree_line(node));
    if (rc || (rc = yaml_tree_check_keys(t, git, "inference.source_directory.git", git_source_fields)))
        return rc;
    yaml_node_t *url = yaml_tree_get(t, git, "url"), *ref = yaml_tree_get(t, git, "ref");
    const char *u, *r = "HEAD";
    if (!url)
        return err_set(ERR_INVALID, "%s:%d: inference.source_directory.git.url: required field is missing", t->file,
                       yaml_tree_line(git));
    if ((rc = yaml_tree_string(t, url, "inference.source_directory.git.url", &u)) ||
        (ref && (rc = yaml_tree_string(t, ref, "inference.source_directory.git.ref", &r))))
        return rc;
    /* A plain path is a local repository, relative to this file. */
    char *where = strstr(u, "://") || strchr(u, '@') ? strdup(u) : fs_resolve(spec->dir, u);
    if (!where)
        return err_set(ERR_NOMEM, "out of memory");
    struct git_checkout co;
    rc = git_source_checkout(&co, where, r);
    free(where);
    if (rc) {
        const char *msg = err_message(rc);
        char detail[600];
        snprintf(detail, sizeof detail, "%s", msg);
        err_clear();
        return err_set(rc, "%s:%d: inference.source_directory.git: %s", t->file, yaml_tree_line(git), detail);
    }
    struct spec_inference *inf = &spec->inference;
    inf->git_checkout_dir = co.dir;
    inf->git_commit = co.commit;
    inf->git_url = co.url;
    return (inf->source_directory = strdup(co.dir)) ? 0 : err_set(ERR_NOMEM, "out of memory");
}

int spec_read_inference(struct spec *spec, struct yaml_tree *t, yaml_node_t *node)
{
    int rc = yaml_tree_check_keys(t, node, "inference", inference_fields);
    if (rc)
        return rc;
    struct spec_inference *inf = &spec->inference;
    yaml_node_t *src = yaml_tree_get(t, node, "source_directory");
    if (src && src->type == YAML_MAPPING_NODE) {
        if ((rc = read_git_source(spec, t, src)))
            return rc;
    } else if (src && (rc = read_path(spec, t, src, "inference.source_directory", 1, &inf->source_directory))) {
        return rc;
    }
    /* With a git source the script is a path inside the repository; else relative to this file. */
    yaml_node_t *script = yaml_tree_get(t, node, "entry_script");
    if (script &&
        (rc = spec_existing_path(t, script, "inference.entry_script",
                                 inf->git_checkout_dir ? inf->git_checkout_dir : spec->dir, 0, &inf->entry_script)))
        return rc;
    inf->python = inf->entry_script != NULL;
    yaml_node_t *runtime = yaml_tree_get(t, node, "runtime");
    if (runtime) {
        const char *s;
        if ((rc = yaml_tree_string(t, runtime, "inference.runtime", &s)))
            return rc;
        if (strcmp(s, "python") && strcmp(s, "native"))
            return err_set(ERR_INVALID, "%s:%d: inference.runtime: expected python or native, found '%s'", t->file,
                           yaml_tree_line(runtime), s);
        inf->python = strcmp(s, "python") == 0;
        if (inf->python != (inf->entry_script != NULL))
            return err_set(ERR_INVALID, "%s:%d: inference.runtime: %s", t->file, yaml_tree_line(runtime),
                           inf->python ? "python needs inference.entry_script"
                                       : "native scores the ONNX model itself and takes no entry_script");
    }
    if (inf->source_directory && !inf->entry_script)
        return err_set(ERR_INVALID, "%s:%d: inference.source_directory: only used with an entry_script", t->file,
                       yaml_tree_line(src));
    return 0;
}

/* A key: 1 to 256 printable characters without spaces or commas (amlserve's key format). */
static int valid_key(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 256)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (k[i] <= ' ' || k[i] > '~' || k[i] == ',')
            return 0;
    return 1;
}

static int read_auth(struct spec *spec, struct yaml_tree *t, yaml_node_t *node)
{
    int rc = yaml_tree_check_keys(t, node, "service.auth", auth_fields);
    if (rc)
        return rc;
    struct spec_service *svc = &spec->service;
    yaml_node_t *token = yaml_tree_get(t, node, "token");
    int on = 0;
    if (token && (rc = yaml_tree_bool(t, token, "service.auth.token", &on)))
        return rc;
    yaml_node_t *secret = yaml_tree_get(t, node, "token_secret_file");
    yaml_node_t *enabled = yaml_tree_get(t, node, "enabled");
    if (on || secret) {
        /* Tokens replace keys, as in Azure ML, where the two never combine. */
        yaml_node_t *keyish =
            yaml_tree_get(t, node, "keys") ? yaml_tree_get(t, node, "keys") : yaml_tree_get(t, node, "key_file");
        if (keyish)
            return err_set(ERR_INVALID, "%s:%d: service.auth: token auth and keys cannot be combined (as in Azure ML)",
                           t->file, yaml_tree_line(keyish));
        if (!on || !secret)
            return err_set(ERR_INVALID,
                           "%s:%d: service.auth: token: true needs token_secret_file (the HS256 "
                           "secret), and token_secret_file needs token: true",
                           t->file, yaml_tree_line(secret ? secret : token));
        svc->auth_enabled = 1;
        if (enabled && ((rc = yaml_tree_bool(t, enabled, "service.auth.enabled", &on)) || !on))
            return rc ? rc
                      : err_set(ERR_INVALID, "%s:%d: service.auth: token auth is set but enabled is false", t->file,
                                yaml_tree_line(enabled));
        return read_path(spec, t, secret, "service.auth.token_secret_file", 0, &svc->token_secret_file);
    }
    svc->auth_enabled = 1;
    if (enabled && (rc = yaml_tree_bool(t, enabled, "service.auth.enabled", &svc->auth_enabled)))
        return rc;
    yaml_node_t *keys = yaml_tree_get(t, node, "keys");
    yaml_node_t *key_file = yaml_tree_get(t, node, "key_file");
    if (keys && key_file)
        return err_set(ERR_INVALID, "%s:%d: service.auth: give keys or key_file, not both", t->file,
                       yaml_tree_line(key_file));
    if (!svc->auth_enabled && (keys || key_file))
        return err_set(ERR_INVALID, "%s:%d: service.auth: keys are set but enabled is false", t->file,
                       yaml_tree_line(enabled));
    if (key_file)
        return read_path(spec, t, key_file, "service.auth.key_file", 0, &svc->auth_key_file);
    if (!keys)
        return 0;
    if ((rc = yaml_tree_expect(t, keys, YAML_SEQUENCE_NODE, "service.auth.keys")))
        return rc;
    size_t n = (size_t)(keys->data.sequence.items.top - keys->data.sequence.items.start);
    if (n < 1 || n > 2)
        return err_set(ERR_INVALID,
                       "%s:%d: service.auth.keys: expected a primary and optionally a secondary key, "
                       "found %zu keys",
                       t->file, yaml_tree_line(keys), n);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(&t->doc, keys->data.sequence.items.start[i]);
        char field[32];
        snprintf(field, sizeof field, "service.auth.keys[%zu]", i);
        const char *s;
        if ((rc = yaml_tree_string(t, item, field, &s)))
            return rc;
        if (!valid_key(s))
            return err_set(ERR_INVALID,
                           "%s:%d: %s: a key is 1 to 256 printable characters without spaces or "
                           "commas",
                           t->file, yaml_tree_line(item), field);
        if (!(svc->auth_keys[i] = strdup(s)))
            return err_set(ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* cors.origins: a list of origins (or ["*"]), kept as amlserve's comma-separated form. */
static int read_cors(struct spec *spec, struct yaml_tree *t, yaml_node_t *node)
{
    int rc = yaml_tree_check_keys(t, node, "service.cors", cors_fields);
    if (rc)
        return rc;
    yaml_node_t *origins = yaml_tree_get(t, node, "origins");
    if (!origins)
        return 0;
    if ((rc = yaml_tree_expect(t, origins, YAML_SEQUENCE_NODE, "service.cors.origins")))
        return rc;
    struct buf joined;
    buf_init(&joined, 1 << 16);
    for (yaml_node_item_t *it = origins->data.sequence.items.start; it < origins->data.sequence.items.top && !rc;
         it++) {
        yaml_node_t *item = yaml_document_get_node(&t->doc, *it);
        const char *s;
        char field[48];
        snprintf(field, sizeof field, "service.cors.origins[%td]", it - origins->data.sequence.items.start);
        if ((rc = yaml_tree_string(t, item, field, &s)))
            break;
        if (!s[0] || strchr(s, ',') || strchr(s, ' '))
            rc = err_set(ERR_INVALID, "%s:%d: %s: '%s' is not an origin (scheme://host[:port], or *)", t->file,
                         yaml_tree_line(item), field, s);
        else if ((joined.len && (rc = buf_append(&joined, ",", 1))) || (rc = buf_append(&joined, s, strlen(s))))
            break;
    }
    if (!rc && joined.len) {
        if ((rc = buf_append(&joined, "", 1)) == 0 && !(spec->service.cors_origins = strdup(joined.data)))
            rc = err_set(ERR_NOMEM, "out of memory");
    }
    buf_release(&joined);
    return rc;
}

/* tls: both files, checked now as amlserve will load them, so a wrong pair fails
 * here and not when the service starts. */
static int read_tls(struct spec *spec, struct yaml_tree *t, yaml_node_t *node)
{
    int rc = yaml_tree_check_keys(t, node, "service.tls", tls_fields);
    if (rc)
        return rc;
    yaml_node_t *cert = yaml_tree_get(t, node, "cert_file"), *key = yaml_tree_get(t, node, "key_file");
    if (!cert || !key)
        return err_set(ERR_INVALID,
                       "%s:%d: service.tls: needs both cert_file (PEM certificate chain) and key_file "
                       "(its unencrypted PEM key)",
                       t->file, yaml_tree_line(node));
    struct spec_service *svc = &spec->service;
    if ((rc = read_path(spec, t, cert, "service.tls.cert_file", 0, &svc->tls_cert_file)) ||
        (rc = read_path(spec, t, key, "service.tls.key_file", 0, &svc->tls_key_file)))
        return rc;
    rc = tls_pem_check(svc->tls_cert_file, svc->tls_key_file);
    if (rc) {
        char detail[1024];
        snprintf(detail, sizeof detail, "%s", err_message(rc));
        err_clear();
        rc = err_set(rc, "%s:%d: service.tls: %s", t->file, yaml_tree_line(node), detail);
    }
    return rc;
}

int spec_read_service(struct spec *spec, struct yaml_tree *t, yaml_node_t *node)
{
    int rc = yaml_tree_check_keys(t, node, "service", service_fields);
    if (rc)
        return rc;
    struct spec_service *svc = &spec->service;
    long long v;
    if ((v = 0, rc = read_int(t, node, "port", "service.port", 1, 65535, &v)))
        return rc;
    svc->port = (int)v;
    if ((v = 0, rc = read_int(t, node, "workers", "service.workers", 1, 256, &v)))
        return rc;
    svc->workers = (int)v;
    if ((v = 0, rc = read_int(t, node, "timeout_ms", "service.timeout_ms", 1, 86400000, &v)))
        return rc;
    svc->timeout_ms = (long)v;
    if ((v = 0, rc = read_int(t, node, "max_request_mb", "service.max_request_mb", 1, 4096, &v)))
        return rc;
    svc->max_request_mb = (int)v;
    if ((v = 0, rc = read_int(t, node, "max_concurrent_requests", "service.max_concurrent_requests", 1, 1000000, &v)))
        return rc;
    svc->max_concurrent_requests = (int)v;
    if ((v = 0, rc = read_int(t, node, "max_queue_wait_ms", "service.max_queue_wait_ms", 1, 86400000, &v)))
        return rc;
    svc->max_queue_wait_ms = (long)v;
    yaml_node_t *n;
    if ((n = yaml_tree_get(t, node, "auth")) && (rc = read_auth(spec, t, n)))
        return rc;
    if ((n = yaml_tree_get(t, node, "cors")) && (rc = read_cors(spec, t, n)))
        return rc;
    if ((n = yaml_tree_get(t, node, "input_sample")) &&
        (rc = read_path(spec, t, n, "service.input_sample", 0, &svc->input_sample)))
        return rc;
    if ((n = yaml_tree_get(t, node, "output_sample")) &&
        (rc = read_path(spec, t, n, "service.output_sample", 0, &svc->output_sample)))
        return rc;
    if ((n = yaml_tree_get(t, node, "tls")) && (rc = read_tls(spec, t, n)))
        return rc;
    return 0;
}

void spec_sections_release(struct spec *spec)
{
    free(spec->inference.entry_script);
    free(spec->inference.source_directory);
    if (spec->inference.git_checkout_dir)
        fs_remove_tree(spec->inference.git_checkout_dir);
    free(spec->inference.git_checkout_dir);
    free(spec->inference.git_commit);
    free(spec->inference.git_url);
    struct spec_service *svc = &spec->service;
    free(svc->auth_keys[0]);
    free(svc->auth_keys[1]);
    free(svc->auth_key_file);
    free(svc->token_secret_file);
    free(svc->cors_origins);
    free(svc->input_sample);
    free(svc->output_sample);
    free(svc->tls_cert_file);
    free(svc->tls_key_file);
}
