#include "builder/registry/registry_auth.h"

#include "builder/registry/credential_helper.h"

#include "common/arena.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

/* Copies a parameter value into dst (truncating), handling quoted-string escapes. */
static int read_value(const char *s, size_t len, size_t *pos, char *dst, size_t dst_size)
{
    size_t i = *pos, n = 0;
    if (i < len && s[i] == '"') {
        for (i++;; i++) {
            if (i >= len)
                return err_set(ERR_PARSE, "WWW-Authenticate: unterminated quoted string");
            if (s[i] == '"')
                break;
            if (s[i] == '\\') {
                if (++i >= len)
                    return err_set(ERR_PARSE, "WWW-Authenticate: dangling escape");
            }
            if (n + 1 < dst_size)
                dst[n++] = s[i];
        }
        i++;
    } else {
        while (i < len && (is_token_char(s[i]) || s[i] == '/' || s[i] == ':' || s[i] == '=')) {
            if (n + 1 < dst_size)
                dst[n++] = s[i];
            i++;
        }
    }
    if (dst_size)
        dst[n] = '\0';
    *pos = i;
    return 0;
}

int registry_auth_parse_challenge(struct auth_challenge *out, const char *s, size_t len)
{
    memset(out, 0, sizeof *out);
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    size_t start = i;
    while (i < len && is_token_char(s[i]))
        i++;
    size_t scheme_len = i - start;
    if (scheme_len == 6 && !strncasecmp(s + start, "bearer", 6))
        out->scheme = AUTH_BEARER;
    else if (scheme_len == 5 && !strncasecmp(s + start, "basic", 5))
        out->scheme = AUTH_BASIC;
    else if (scheme_len == 0)
        return err_set(ERR_PARSE, "WWW-Authenticate: no auth scheme");
    else
        return err_set(ERR_UNSUPPORTED, "WWW-Authenticate: unsupported auth scheme '%.*s'",
                       (int)(scheme_len > 32 ? 32 : scheme_len), s + start);
    for (;;) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        if (i >= len)
            break;
        size_t name = i;
        while (i < len && is_token_char(s[i]))
            i++;
        size_t name_len = i - name;
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (name_len == 0 || i >= len || s[i] != '=')
            return err_set(ERR_PARSE, "WWW-Authenticate: expected name=value at offset %zu", name);
        i++;
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
            i++;
        char scratch[8];
        char *dst = scratch;
        size_t dst_size = sizeof scratch;
#define PARAM(field)                                                                                                   \
    if (name_len == sizeof #field - 1 && !strncasecmp(s + name, #field, name_len)) {                                   \
        dst = out->field;                                                                                              \
        dst_size = sizeof out->field;                                                                                  \
    }
        PARAM(realm)
        else PARAM(service) else PARAM(scope) else PARAM(error)
#undef PARAM
            int rc = read_value(s, len, &i, dst, dst_size);
        if (rc)
            return rc;
    }
    if (out->scheme == AUTH_BEARER && !out->realm[0])
        return err_set(ERR_PARSE, "WWW-Authenticate: Bearer challenge without a realm");
    return 0;
}

int registry_auth_split_creds(struct auth_creds *out, const char *text, const char *source)
{
    memset(out, 0, sizeof *out);
    const char *colon = strchr(text, ':');
    if (!colon || colon == text)
        return err_set(ERR_INVALID, "%s: credentials must be 'user:password'", source);
    out->user = strndup(text, (size_t)(colon - text));
    out->pass = strdup(colon + 1);
    out->source = strdup(source);
    if (!out->user || !out->pass || !out->source) {
        registry_auth_creds_release(out);
        return err_set(ERR_NOMEM, "out of memory");
    }
    return 0;
}

void registry_auth_creds_release(struct auth_creds *c)
{
    free(c->user);
    free(c->pass);
    free(c->source);
    memset(c, 0, sizeof *c);
}

/* Does the auths key name this registry? Keys may carry a scheme and a path. */
static int key_matches(const char *key, size_t key_len, const char *registry)
{
    char k[512];
    if (key_len >= sizeof k)
        return 0;
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    char *host = k;
    if (!strncmp(host, "https://", 8))
        host += 8;
    else if (!strncmp(host, "http://", 7))
        host += 7;
    host[strcspn(host, "/")] = '\0';
    if (!strcmp(host, registry))
        return 1;
    if (!strcmp(registry, "docker.io"))
        return !strcmp(host, "index.docker.io") || !strcmp(host, "registry-1.docker.io");
    return 0;
}

static int decode_auth(struct auth_creds *out, const char *b64, size_t len, const char *path)
{
    if (len == 0 || len > 4096)
        return err_set(ERR_INVALID, "%s: 'auth' entry has a bad length", path);
    unsigned char *raw = malloc(BASE64_DECODED_MAX(len) + 1);
    if (!raw)
        return err_set(ERR_NOMEM, "out of memory");
    long n = base64_decode(raw, b64, len);
    int rc = 0;
    if (n < 0) {
        rc = err_set(ERR_INVALID, "%s: 'auth' entry is not base64", path);
    } else {
        raw[n] = '\0';
        if (strlen((char *)raw) != (size_t)n)
            rc = err_set(ERR_INVALID, "%s: 'auth' entry holds a NUL byte", path);
        else
            rc = registry_auth_split_creds(out, (char *)raw, path);
    }
    explicit_bzero(raw, BASE64_DECODED_MAX(len) + 1); /* the password */
    free(raw);
    return rc;
}

/* What a credential helper is asked for: Docker Hub's historical server URL, else host[:port]. */
static const char *helper_server(const char *registry)
{
    return strcmp(registry, "docker.io") ? registry : "https://index.docker.io/v1/";
}

/* The entry of an object keyed by registry (auths, credHelpers), or NULL. */
static const struct json_value *entry_for(const struct json_value *map, const char *registry)
{
    if (!map || map->type != JSON_OBJECT)
        return NULL;
    for (const struct json_value *e = map->child; e; e = e->next)
        if (key_matches(e->key, e->key_len, registry))
            return e;
    return NULL;
}

/* One auth file, as containers/image and docker read it: a credHelpers entry
 * for the registry, then its auths entry, then the credsStore for every
 * registry. legacy: ~/.dockercfg, whose top level is the auths map.
 * 0 with out empty when the file is absent or has nothing for registry;
 * required: an absent file is an error (--authfile). */
static int creds_from_file(struct auth_creds *out, const char *path, const char *registry, int legacy, int required)
{
    struct buf b;
    buf_init(&b, 4u << 20);
    struct arena arena;
    arena_init(&arena, 8192, 16u << 20);
    struct json_value *root = NULL;
    int rc = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (required)
            rc = err_set_errno(ERR_NOTFOUND, "--authfile %s: cannot open", path);
        goto done;
    }
    fclose(f);
    if ((rc = buf_read_file(&b, path)) || (rc = json_parse(&root, &arena, b.data, b.len, path)))
        goto done;
    if (root->type != JSON_OBJECT) {
        rc = err_set(ERR_PARSE, "%s: not a JSON object", path);
        goto done;
    }
    const struct json_value *helper = legacy ? NULL : entry_for(json_member(root, "credHelpers"), registry);
    if (helper) {
        if (helper->type != JSON_STRING)
            rc = err_set(ERR_PARSE, "%s: credHelpers.%.*s: expected a helper name string", path, (int)helper->key_len,
                         helper->key);
        else
            rc = credential_helper_get(out, helper->as.string.ptr, helper_server(registry), path);
        goto done;
    }
    const struct json_value *e = entry_for(legacy ? root : json_member(root, "auths"), registry);
    const struct json_value *a = e ? json_member(e, "auth") : NULL;
    if (a && a->type == JSON_STRING && a->as.string.len) {
        rc = decode_auth(out, a->as.string.ptr, a->as.string.len, path);
        goto done;
    }
    const struct json_value *store = legacy ? NULL : json_member(root, "credsStore");
    if (store && store->type == JSON_STRING && store->as.string.len)
        rc = credential_helper_get(out, store->as.string.ptr, helper_server(registry), path);
done:
    arena_release(&arena);
    buf_release(&b);
    return rc;
}

int registry_auth_find_creds(struct auth_creds *out, const char *registry, const char *given, const char *authfile)
{
    memset(out, 0, sizeof *out);
    if (given)
        return registry_auth_split_creds(out, given, "--creds");
    const char *env = getenv("AMLPKG_REGISTRY_AUTH");
    if (env && env[0])
        return registry_auth_split_creds(out, env, "AMLPKG_REGISTRY_AUTH");
    /* containers-auth.json(5)'s order: the primary file (--authfile, else
     * $REGISTRY_AUTH_FILE, else the runtime dir's), then the read-only ones. */
    struct {
        char path[4096];
        int legacy, required;
    } files[5] = {0};
    size_t n = 0;
    const char *v, *home = getenv("HOME");
    if (authfile) {
        snprintf(files[n].path, sizeof files[n].path, "%s", authfile);
        files[n++].required = 1;
    } else if ((v = getenv("REGISTRY_AUTH_FILE")) && v[0]) {
        snprintf(files[n++].path, sizeof files[0].path, "%s", v);
    } else if ((v = getenv("XDG_RUNTIME_DIR")) && v[0]) {
        snprintf(files[n++].path, sizeof files[0].path, "%s/containers/auth.json", v);
    } else {
        snprintf(files[n++].path, sizeof files[0].path, "/run/containers/%u/auth.json", (unsigned)getuid());
    }
    if ((v = getenv("XDG_CONFIG_HOME")) && v[0])
        snprintf(files[n++].path, sizeof files[0].path, "%s/containers/auth.json", v);
    else if (home && home[0])
        snprintf(files[n++].path, sizeof files[0].path, "%s/.config/containers/auth.json", home);
    if ((v = getenv("DOCKER_CONFIG")) && v[0])
        snprintf(files[n++].path, sizeof files[0].path, "%s/config.json", v);
    else if (home && home[0])
        snprintf(files[n++].path, sizeof files[0].path, "%s/.docker/config.json", home);
    if (home && home[0]) {
        snprintf(files[n].path, sizeof files[0].path, "%s/.dockercfg", home);
        files[n++].legacy = 1;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = creds_from_file(out, files[i].path, registry, files[i].legacy, files[i].required);
        if (rc || out->user)
            return rc;
    }
    return 0;
}

int registry_auth_parse_token(char **out_token, long *out_expires_in, const char *json, size_t len)
{
    *out_token = NULL;
    *out_expires_in = 0;
    struct arena arena;
    arena_init(&arena, 4096, 8u << 20);
    struct json_value *root = NULL;
    int rc = json_parse(&root, &arena, json, len, "token response");
    if (rc)
        goto done;
    const struct json_value *t = root->type == JSON_OBJECT ? json_member(root, "token") : NULL;
    if (!t || t->type != JSON_STRING || !t->as.string.len)
        t = root->type == JSON_OBJECT ? json_member(root, "access_token") : NULL;
    if (!t || t->type != JSON_STRING || !t->as.string.len || strlen(t->as.string.ptr) != t->as.string.len) {
        rc = err_set(ERR_PARSE, "token response has no 'token'");
        goto done;
    }
    const struct json_value *e = json_member(root, "expires_in");
    if (e && e->type == JSON_NUMBER && e->as.number > 0 && e->as.number < 1e9)
        *out_expires_in = (long)e->as.number;
    if (!(*out_token = strdup(t->as.string.ptr)))
        rc = err_set(ERR_NOMEM, "out of memory");
done:
    arena_release(&arena);
    return rc;
}

char *registry_auth_base64(const char *data, size_t len)
{
    if (len > (1u << 20))
        return NULL;
    char *out = malloc(BASE64_ENCODED_SIZE(len));
    if (out)
        base64_encode(out, data, len);
    return out;
}
