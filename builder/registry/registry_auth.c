#include "builder/registry/registry_auth.h"

#include "common/arena.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* 0 with out empty when the file is absent or has no entry for registry. */
static int creds_from_file(struct auth_creds *out, const char *path, const char *registry)
{
    struct buf b;
    buf_init(&b, 4u << 20);
    struct arena arena;
    arena_init(&arena, 8192, 16u << 20);
    struct json_value *root = NULL;
    int rc = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        goto done;
    fclose(f);
    if ((rc = buf_read_file(&b, path)) || (rc = json_parse(&root, &arena, b.data, b.len, path)))
        goto done;
    const struct json_value *auths = json_member(root, "auths");
    if (!auths || auths->type != JSON_OBJECT)
        goto done;
    for (const struct json_value *e = auths->child; e; e = e->next) {
        if (!key_matches(e->key, e->key_len, registry))
            continue;
        const struct json_value *a = json_member(e, "auth");
        if (a && a->type == JSON_STRING && a->as.string.len) {
            rc = decode_auth(out, a->as.string.ptr, a->as.string.len, path);
            goto done;
        }
    }
done:
    arena_release(&arena);
    buf_release(&b);
    return rc;
}

int registry_auth_find_creds(struct auth_creds *out, const char *registry, const char *given)
{
    memset(out, 0, sizeof *out);
    if (given)
        return registry_auth_split_creds(out, given, "--creds");
    const char *env = getenv("AMLPKG_REGISTRY_AUTH");
    if (env && env[0])
        return registry_auth_split_creds(out, env, "AMLPKG_REGISTRY_AUTH");
    char path[4096];
    const char *files[4] = {0};
    char xdg[4096], docker[4096];
    size_t n = 0;
    const char *v = getenv("REGISTRY_AUTH_FILE");
    if (v && v[0])
        files[n++] = v;
    if ((v = getenv("XDG_RUNTIME_DIR")) && v[0]) {
        snprintf(xdg, sizeof xdg, "%s/containers/auth.json", v);
        files[n++] = xdg;
    }
    if ((v = getenv("DOCKER_CONFIG")) && v[0]) {
        snprintf(docker, sizeof docker, "%s/config.json", v);
        files[n++] = docker;
    } else if ((v = getenv("HOME")) && v[0]) {
        snprintf(docker, sizeof docker, "%s/.docker/config.json", v);
        files[n++] = docker;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s", files[i]);
        int rc = creds_from_file(out, path, registry);
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
