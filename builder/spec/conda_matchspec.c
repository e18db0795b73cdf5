#include "builder/spec/conda_matchspec.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/parse_number.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

static int bad(const char *context, const char *text, const char *why)
{
    (void)text; /* never quoted: it comes from a file that may not be the user's */
    return err_set(ERR_INVALID, "%s: invalid conda package spec: %s", context, why);
}

void conda_matchspec_free(struct conda_matchspec *m)
{
    if (!m)
        return;
    free(m->channel);
    free(m->name);
    conda_vspec_free(m->version);
    free(m->build);
    free(m->text);
    free(m);
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static void trim(char **s)
{
    while (**s == ' ' || **s == '\t')
        (*s)++;
    size_t n = strlen(*s);
    while (n && ((*s)[n - 1] == ' ' || (*s)[n - 1] == '\t'))
        (*s)[--n] = '\0';
}

/* Drops spaces after an operator and around ',' and '|': "numpy >= 1.2 , < 2" -> "numpy >=1.2,<2". */
static void compact(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == ' ' || *r == '\t') {
            char *next = r;
            while (*next == ' ' || *next == '\t')
                next++;
            int after_op = w > s && strchr("=<>!~,|", w[-1]);
            if (after_op || (*next && strchr(",|", *next)) || !*next)
                continue;
            *w++ = ' ';
            r = next - 1;
            continue;
        }
        *w++ = *r;
    }
    *w = '\0';
}

/* The bracket form's value: 'x', "x" or up to the next ','. *pp moves past it and its ','. */
static int bracket_value(char **out, char **pp, const char *context, const char *text)
{
    char *p = *pp;
    while (*p == ' ')
        p++;
    char *start = p, *end;
    if (*p == '\'' || *p == '"') {
        char q = *p++;
        start = p;
        while (*p && *p != q)
            p++;
        if (!*p)
            return bad(context, text, "unterminated quote in [...]");
        end = p++;
    } else {
        while (*p && *p != ',')
            p++;
        end = p;
        while (end > start && end[-1] == ' ')
            end--;
    }
    while (*p == ' ')
        p++;
    if (*p && *p != ',')
        return bad(context, text, "expected ',' between key=value pairs in [...]");
    if (*p == ',')
        p++;
    *pp = p;
    if (!(*out = strndup(start, (size_t)(end - start))))
        return nomem();
    return 0;
}

struct parsed {
    char *version, *build, *channel, *build_number; /* from the bracket form, owned */
};

static int parse_brackets(struct parsed *b, char *inside, const char *context, const char *text)
{
    char *p = inside;
    int rc = 0;
    while (!rc && *p) {
        while (*p == ' ')
            p++;
        char *key = p;
        while (*p && *p != '=' && *p != ' ')
            p++;
        size_t klen = (size_t)(p - key);
        while (*p == ' ')
            p++;
        if (*p != '=' || !klen)
            return bad(context, text, "expected key=value in [...]");
        p++;
        char **slot = klen == 7 && !strncmp(key, "version", 7)        ? &b->version
                      : klen == 5 && !strncmp(key, "build", 5)        ? &b->build
                      : klen == 7 && !strncmp(key, "channel", 7)      ? &b->channel
                      : klen == 12 && !strncmp(key, "build_number", 12) ? &b->build_number
                                                                        : NULL;
        if (!slot)
            return err_set(ERR_UNSUPPORTED, "%s: a [KEY=...] other than version, build, build_number or channel is not supported",
                           context);
        if (*slot)
            return bad(context, text, "a key is given twice in [...]");
        rc = bracket_value(slot, &p, context, text);
    }
    return rc;
}

/* "=1.2=py_0" -> "=1.2" and "py_0": the last '=' that is not part of an operator, with a build after it. */
static char *split_build(char *rest)
{
    for (char *p = rest + strlen(rest); p > rest + 1; p--) {
        if (p[-1] != '=')
            continue;
        if (strchr("=!<>~|,", p[-2]) || !*p || strpbrk(p, "=,|<>~!"))
            return NULL;
        p[-1] = '\0';
        return p;
    }
    return NULL;
}

static int set_version(struct conda_matchspec *m, const char *version, const char *context)
{
    if (!version || !version[0] || !strcmp(version, "*"))
        return 0;
    int rc = conda_vspec_parse(&m->version, version, context);
    if (!rc && !strcmp(conda_vspec_text(m->version), "*")) { /* ">=*" and friends: any version */
        conda_vspec_free(m->version);
        m->version = NULL;
    }
    return rc;
}

static int canonical(struct conda_matchspec *m)
{
    struct buf b;
    buf_init(&b, 0);
    int rc = m->channel ? buf_appendf(&b, "%s::", m->channel) : 0;
    rc = rc ? rc : buf_append_str(&b, m->name);
    if (!rc && (m->version || m->build))
        rc = buf_appendf(&b, " %s", m->version ? conda_vspec_text(m->version) : "*");
    if (!rc && m->build)
        rc = buf_appendf(&b, " %s", m->build);
    if (!rc && m->build_number >= 0)
        rc = buf_appendf(&b, "[build_number=%lld]", m->build_number);
    if (!rc && !(m->text = strdup(b.data)))
        rc = nomem();
    buf_release(&b);
    return rc;
}

int conda_matchspec_parse(struct conda_matchspec **out, const char *text, const char *context)
{
    *out = NULL;
    if (strlen(text) > CONDA_MATCHSPEC_MAX)
        return err_set(ERR_LIMIT, "%s: package spec longer than %d characters", context, CONDA_MATCHSPEC_MAX);
    struct conda_matchspec *m = calloc(1, sizeof *m);
    struct parsed b = {0};
    char *copy = strdup(text), *s = copy, *version = NULL, *build = NULL, *owned_version = NULL;
    int rc = 0;
    if (!m || !copy) {
        rc = nomem();
        goto done;
    }
    m->build_number = -1;
    char *hash = strchr(s, '#');
    if (hash)
        *hash = '\0';
    trim(&s);
    char *open = strchr(s, '[');
    if (open) {
        size_t n = strlen(s);
        if (s[n - 1] != ']') {
            rc = bad(context, text, "[...] must end the spec");
            goto done;
        }
        s[n - 1] = '\0';
        *open = '\0';
        if ((rc = parse_brackets(&b, open + 1, context, text)))
            goto done;
    }
    char *colons = strstr(s, "::");
    if (colons) {
        *colons = '\0';
        trim(&s);
        if (!s[0]) {
            rc = bad(context, text, "expected a channel before '::'");
            goto done;
        }
        if (!(m->channel = strdup(s))) {
            rc = nomem();
            goto done;
        }
        s = colons + 2;
    }
    trim(&s);
    for (char *p = s; *p && !strchr(" \t=<>!~", *p); p++) /* names are case-insensitive, builds are not */
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    char *p = s;
    while (*p && is_name_char(*p))
        p++;
    if (p == s || (*p && !strchr(" \t=<>!~", *p))) {
        rc = bad(context, text, p == s ? "expected a package name" : "invalid character in the package name");
        goto done;
    }
    if (!(m->name = strndup(s, (size_t)(p - s)))) {
        rc = nomem();
        goto done;
    }
    char *rest = p;
    compact(rest);
    trim(&rest);
    if (rest[0]) {
        char *space = strchr(rest, ' ');
        if (space) {
            *space = '\0';
            build = space + 1;
            if (strchr(build, ' ')) {
                rc = bad(context, text, "expected NAME [VERSION [BUILD]]");
                goto done;
            }
        } else {
            build = split_build(rest);
        }
        version = rest;
        /* "=1.2" asks for 1.2.*, "=1.2=BUILD" and "==1.2" for 1.2 itself (conda's rule). */
        if (version[0] == '=') {
            char *test = version + 1;
            if (version[1] == '=' && !build)
                version += 2;
            else if (!strpbrk(test, "=,|")) {
                if (!build && test[0] && test[strlen(test) - 1] != '*') {
                    if (asprintf(&owned_version, "%s*", test) < 0) {
                        owned_version = NULL;
                        rc = nomem();
                        goto done;
                    }
                    version = owned_version;
                } else {
                    version = test;
                }
            }
        }
    }
    if (b.version)
        version = b.version;
    if (b.build)
        build = b.build;
    if (b.channel && !m->channel && !(m->channel = strdup(b.channel))) {
        rc = nomem();
        goto done;
    }
    if (b.build_number && parse_number_int(&m->build_number, "build_number", b.build_number, 0, 1LL << 40)) {
        err_clear();
        rc = bad(context, text, "build_number must be a whole number");
        goto done;
    }
    /* Builds and channels are single words: what the canonical text writes must read back the same. */
    if (build && strpbrk(build, " \t#[]")) {
        rc = bad(context, text, "a build string has no spaces, '#', '[' or ']'");
        goto done;
    }
    if (m->channel && (!m->channel[0] || strpbrk(m->channel, " \t#[]=<>!~") || strstr(m->channel, "::") ||
                       m->channel[strlen(m->channel) - 1] == ':')) {
        rc = bad(context, text, "a channel is a name or URL without spaces, '#', '[', ']' or operators");
        goto done;
    }
    char where[CONDA_MATCHSPEC_MAX + 700];
    snprintf(where, sizeof where, "%s: '%s'", context, text);
    if ((rc = set_version(m, version, where)))
        goto done;
    if (build && build[0] && strcmp(build, "*") && !(m->build = strdup(build))) {
        rc = nomem();
        goto done;
    }
    rc = canonical(m);
    if (!rc && strlen(m->text) > CONDA_MATCHSPEC_MAX) /* the canonical form must read back too */
        rc = err_set(ERR_LIMIT, "%s: package spec longer than %d characters", context, CONDA_MATCHSPEC_MAX);
done:
    free(copy);
    free(owned_version);
    free(b.version);
    free(b.build);
    free(b.channel);
    free(b.build_number);
    if (rc)
        conda_matchspec_free(m);
    else
        *out = m;
    return rc;
}

int conda_matchspec_match(const struct conda_matchspec *m, const char *name, const struct conda_version *version,
                          const char *build, long long build_number)
{
    if (strcmp(m->name, name))
        return 0;
    if (m->version && (!version || !conda_vspec_match(m->version, version)))
        return 0;
    if (m->build && (!build || fnmatch(m->build, build, 0) != 0))
        return 0;
    return m->build_number < 0 || m->build_number == build_number;
}
