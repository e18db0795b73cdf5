#include "builder/image/reference.h"

#include "common/err.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_word(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_';
}

int reference_valid_digest(const char *s)
{
    if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 71)
        return 0;
    for (const char *p = s + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* [\w][\w.-]{0,127} */
static int valid_tag(const char *s, size_t n)
{
    if (n == 0 || n > 128 || !is_word(s[0]))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_word(s[i]) && s[i] != '.' && s[i] != '-')
            return 0;
    return 1;
}

/* One path component: [a-z0-9]+ separated by '.', '_', '__' or runs of '-'. */
static int valid_component(const char *s, size_t n)
{
    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n;) {
        if (is_lower_alnum(s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        if (s[i] == '.')
            j++;
        else if (s[i] == '_')
            j += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
        else if (s[i] == '-')
            while (j < n && s[j] == '-')
                j++;
        else
            return 0;
        if (j >= n || !is_lower_alnum(s[j]))
            return 0;
        i = j;
    }
    return 1;
}

/* host[:port], host = dns labels or [ipv6]. */
static int valid_registry(const char *s, size_t n)
{
    if (n == 0 || n > 255)
        return 0;
    size_t i = 0;
    if (s[0] == '[') {
        while (i < n && s[i] != ']') {
            char c = s[i];
            if (i > 0 &&
                !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
                return 0;
            i++;
        }
        if (i >= n || i < 3)
            return 0;
        i++;
    } else {
        size_t label = 0;
        while (i < n && s[i] != ':') {
            char c = s[i];
            if (c == '.') {
                if (label == 0 || s[i - 1] == '-')
                    return 0;
                label = 0;
            } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       (c == '-' && label > 0)) {
                label++;
            } else {
                return 0;
            }
            i++;
        }
        if (label == 0 || s[i - 1] == '-')
            return 0;
    }
    if (i == n)
        return 1;
    if (s[i] != ':' || i + 1 == n || n - i - 1 > 5)
        return 0;
    for (i++; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int bad(const char *text, const char *why)
{
    return err_set(ERR_INVALID, "invalid image reference '%.300s': %s", text, why);
}

int reference_parse(struct reference *out, const char *text)
{
    memset(out, 0, sizeof *out);
    if (!strncmp(text, "docker://", 9))
        text += 9; /* skopeo's transport for a registry: the reference is the same */
    size_t len = strlen(text);
    if (len == 0)
        return bad(text, "empty");
    if (len > 1024)
        return bad(text, "too long");
    const char *at = strchr(text, '@');
    size_t name_end = at ? (size_t)(at - text) : len;
    if (at) {
        if (!reference_valid_digest(at + 1))
            return bad(text, "the digest must be sha256: and 64 lower-case hex digits");
        memcpy(out->digest, at + 1, 72);
    }
    /* A tag is after the last ':' that follows the last '/'. */
    const char *slash = memrchr(text, '/', name_end);
    const char *after = slash ? slash + 1 : text;
    const char *colon = memchr(after, ':', (size_t)(text + name_end - after));
    size_t path_end = name_end;
    if (colon) {
        size_t tag_len = (size_t)(text + name_end - colon - 1);
        if (!valid_tag(colon + 1, tag_len))
            return bad(text, "the tag must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'");
        memcpy(out->tag, colon + 1, tag_len);
        path_end = (size_t)(colon - text);
    }
    /* Registry: the first component when it looks like a host. */
    const char *first_slash = memchr(text, '/', path_end);
    size_t repo_start = 0;
    if (first_slash) {
        size_t n = (size_t)(first_slash - text);
        if (memchr(text, '.', n) || memchr(text, ':', n) || (n == 9 && !memcmp(text, "localhost", 9)) ||
            text[0] == '[') {
            if (!valid_registry(text, n))
                return bad(text, "the registry must be host[:port]");
            memcpy(out->registry, text, n);
            repo_start = n + 1;
        } else {
            for (size_t i = 0; i < n; i++)
                if (text[i] >= 'A' && text[i] <= 'Z')
                    return bad(text, "repository names must be lower-case");
        }
    }
    if (!out->registry[0])
        memcpy(out->registry, REFERENCE_DEFAULT_REGISTRY, sizeof REFERENCE_DEFAULT_REGISTRY);
    else if (!strcmp(out->registry, "index.docker.io") || !strcmp(out->registry, "registry-1.docker.io"))
        snprintf(out->registry, sizeof out->registry, "%s", REFERENCE_DEFAULT_REGISTRY);
    const char *repo = text + repo_start;
    size_t repo_len = path_end - repo_start;
    if (repo_len == 0)
        return bad(text, "no repository name");
    for (size_t i = 0, start = 0; i <= repo_len; i++) {
        if (i == repo_len || repo[i] == '/') {
            if (!valid_component(repo + start, i - start)) {
                for (size_t k = start; k < i; k++)
                    if (repo[k] >= 'A' && repo[k] <= 'Z')
                        return bad(text, "repository names must be lower-case");
                return bad(text, "each path component must be lower-case letters and digits separated by '.', "
                                 "'_', '__' or '-'");
            }
            start = i + 1;
        }
    }
    int hub_library = !strcmp(out->registry, REFERENCE_DEFAULT_REGISTRY) && !memchr(repo, '/', repo_len);
    size_t total = strlen(out->registry) + 1 + (hub_library ? 8 : 0) + repo_len;
    if (total > REFERENCE_NAME_MAX)
        return bad(text, "the name is longer than 255 characters");
    snprintf(out->repository, sizeof out->repository, "%s%.*s", hub_library ? "library/" : "", (int)repo_len, repo);
    if (!out->tag[0] && !out->digest[0])
        memcpy(out->tag, "latest", 7);
    return 0;
}

void reference_format(char *out, size_t size, const struct reference *ref)
{
    snprintf(out, size, "%s/%s%s%s%s%s", ref->registry, ref->repository, ref->tag[0] ? ":" : "", ref->tag,
             ref->digest[0] ? "@" : "", ref->digest);
}

const char *reference_manifest_id(const struct reference *ref)
{
    return ref->digest[0] ? ref->digest : ref->tag;
}

const char *reference_api_host(const struct reference *ref)
{
    return strcmp(ref->registry, REFERENCE_DEFAULT_REGISTRY) ? ref->registry : "registry-1.docker.io";
}

int reference_host_is_loopback(const char *host)
{
    size_t n = strcspn(host, ":");
    if (host[0] == '[')
        return !strncmp(host, "[::1]", 5);
    if (n == 9 && !strncmp(host, "localhost", 9))
        return 1;
    if (!strncmp(host, "127.", 4)) {
        for (size_t i = 4; i < n; i++)
            if (!((host[i] >= '0' && host[i] <= '9') || host[i] == '.'))
                return 0;
        return 1;
    }
    return 0;
}

static const struct {
    const char *prefix;
    enum image_transport transport;
} transports[] = {
    {"docker://", IMAGE_REGISTRY},
    {"oci-archive:", IMAGE_OCI_ARCHIVE},
    {"docker-archive:", IMAGE_DOCKER_ARCHIVE},
    {"oci:", IMAGE_OCI_LAYOUT},
};

const char *image_transport_prefix(enum image_transport t)
{
    for (size_t i = 0; i < sizeof transports / sizeof transports[0]; i++)
        if (transports[i].transport == t)
            return transports[i].prefix;
    return "";
}

int image_location_parse(struct image_location *out, const char *text)
{
    out->transport = IMAGE_UNSPECIFIED;
    out->rest = text;
    for (size_t i = 0; i < sizeof transports / sizeof transports[0]; i++) {
        size_t n = strlen(transports[i].prefix);
        if (strncmp(text, transports[i].prefix, n))
            continue;
        out->transport = transports[i].transport;
        out->rest = text + n;
        if (!out->rest[0])
            return err_set(ERR_INVALID, "'%.300s': nothing after '%s' (expected %s)", text, transports[i].prefix,
                           i == 0 ? "a registry reference" : i == 3 ? "DIR[:TAG]" : "a path");
        if (out->transport == IMAGE_REGISTRY) {
            struct reference ref;
            return reference_parse(&ref, text);
        }
        return 0;
    }
    if (!text[0])
        return err_set(ERR_INVALID, "empty image location");
    return 0;
}

/* "DIR:NAME": an existing directory before some ':' (NAME may hold ':' itself). */
static int layout_with_name(const char *text)
{
    struct stat st;
    char dir[4096];
    for (const char *c = strchr(text, ':'); c; c = strchr(c + 1, ':')) {
        size_t n = (size_t)(c - text);
        if (n == 0 || n >= sizeof dir || !c[1])
            continue;
        memcpy(dir, text, n);
        dir[n] = '\0';
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return 1;
    }
    return 0;
}

int image_location_resolve(struct image_location *loc, const char *text)
{
    if (loc->transport != IMAGE_UNSPECIFIED)
        return 0;
    struct stat st;
    if (stat(loc->rest, &st) == 0 || layout_with_name(loc->rest)) {
        loc->transport = IMAGE_LOCAL_PATH;
        return 0;
    }
    /* A registry only when the text names one: "ridge.tar" stays a missing file. */
    struct reference ref;
    const char *slash = strchr(loc->rest, '/');
    size_t first = slash ? (size_t)(slash - loc->rest) : 0;
    if (slash && (memchr(loc->rest, '.', first) || memchr(loc->rest, ':', first) ||
                  (first == 9 && !strncmp(loc->rest, "localhost", 9)) || loc->rest[0] == '[') &&
        reference_parse(&ref, loc->rest) == 0) {
        loc->transport = IMAGE_REGISTRY;
        return 0;
    }
    err_clear();
    return err_set(ERR_NOTFOUND, "%.300s: no such file or directory, and not a registry reference (registry/repo[:tag], "
                                 "or docker://REF)",
                   text);
}
