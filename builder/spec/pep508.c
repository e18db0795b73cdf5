#include "builder/spec/pep508.h"

#include "common/err.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define MARKER_DEPTH 32

static int is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

int pep508_normalize_name(char *out, size_t size, const char *text, size_t len)
{
    if (!len || len >= size || !isalnum((unsigned char)text[0]) || !isalnum((unsigned char)text[len - 1]))
        return ERR_INVALID;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_name_char(text[i]))
            return ERR_INVALID;
        if (text[i] == '-' || text[i] == '_' || text[i] == '.') {
            if (out[o - 1] != '-')
                out[o++] = '-';
        } else {
            out[o++] = (char)tolower((unsigned char)text[i]);
        }
    }
    out[o] = '\0';
    return 0;
}

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int pep508_parse(struct pep508_req *out, const char *text, const char **why)
{
    memset(out, 0, sizeof *out);
    if (strlen(text) >= PEP508_MAX_TEXT) {
        *why = "requirement too long";
        return ERR_INVALID;
    }
    const char *p = skip_space(text), *name = p;
    while (is_name_char(*p))
        p++;
    if (pep508_normalize_name(out->name, sizeof out->name, name, (size_t)(p - name))) {
        *why = "expected a project name (letters, digits, '-', '_', '.'; starting and ending with a letter or digit)";
        return ERR_INVALID;
    }
    p = skip_space(p);
    if (*p == '[') {
        p = skip_space(p + 1);
        while (*p != ']') {
            const char *e = p;
            while (is_name_char(*p))
                p++;
            if (out->n_extras == PEP508_MAX_EXTRAS) {
                *why = "too many extras";
                return ERR_INVALID;
            }
            if (pep508_normalize_name(out->extras[out->n_extras++], PEP508_MAX_NAME, e, (size_t)(p - e))) {
                *why = "an extra is a name (letters, digits, '-', '_', '.')";
                return ERR_INVALID;
            }
            p = skip_space(p);
            if (*p == ',')
                p = skip_space(p + 1);
            else if (*p != ']') {
                *why = "extras are a comma-separated list closed by ']'";
                return ERR_INVALID;
            }
        }
        p = skip_space(p + 1);
    }
    if (*p == '@') {
        p = skip_space(p + 1);
        size_t n = strcspn(p, " \t;");
        if (!n) {
            *why = "'@' needs a URL";
            return ERR_INVALID;
        }
        memcpy(out->url, p, n);
        p = skip_space(p + n);
    } else {
        int paren = *p == '(';
        if (paren)
            p++;
        size_t n = strcspn(p, paren ? ")" : ";");
        if (paren && p[n] != ')') {
            *why = "'(' of the version specifiers is never closed";
            return ERR_INVALID;
        }
        if (pep440_specset_parse(&out->spec, p, n, why))
            return ERR_INVALID;
        p = skip_space(p + n + paren);
    }
    if (*p == ';') {
        p = skip_space(p + 1);
        snprintf(out->marker, sizeof out->marker, "%s", p);
        size_t l = strlen(out->marker);
        while (l && isspace((unsigned char)out->marker[l - 1]))
            out->marker[--l] = '\0';
        struct pep508_env probe = {0};
        if (!l) {
            *why = "';' needs an environment marker after it";
            return ERR_INVALID;
        }
        if (pep508_marker_eval(out->marker, &probe, "", why) < 0)
            return ERR_INVALID;
    } else if (*p) {
        *why = "unexpected text after the version specifiers (a marker starts with ';')";
        return ERR_INVALID;
    }
    return 0;
}

/* ---- markers ---- */

struct marker {
    const char *p;
    const struct pep508_env *env;
    const char *extra;
    const char **why;
    int depth;
};

static int fail(struct marker *m, const char *why)
{
    *m->why = why;
    return ERR_INVALID;
}

static int word(struct marker *m, const char *w)
{
    size_t l = strlen(w);
    const char *p = skip_space(m->p);
    if (strncmp(p, w, l) || is_name_char(p[l]))
        return 0;
    m->p = p + l;
    return 1;
}

/* A variable or a quoted string: *value points at a static or env string, or into buf. is_extra marks the
 * `extra` variable. */
static int operand(struct marker *m, const char **value, char *buf, size_t size, int *is_extra)
{
    const char *p = skip_space(m->p);
    *is_extra = 0;
    if (*p == '"' || *p == '\'') {
        const char *end = strchr(p + 1, *p);
        if (!end)
            return fail(m, "a quoted string in the marker is never closed");
        if ((size_t)(end - p - 1) >= size)
            return fail(m, "a string in the marker is too long");
        memcpy(buf, p + 1, (size_t)(end - p - 1));
        buf[end - p - 1] = '\0';
        *value = buf;
        m->p = end + 1;
        return 0;
    }
    const struct pep508_env *e = m->env;
    const struct {
        const char *name;
        const char *value;
    } vars[] = {{"python_version", e->python_version},
                {"python_full_version", e->python_full_version},
                {"os_name", e->os_name},
                {"sys_platform", e->sys_platform},
                {"platform_machine", e->platform_machine},
                {"platform_system", e->platform_system},
                {"platform_release", e->platform_release},
                {"platform_version", e->platform_version},
                {"platform_python_implementation", e->platform_python_implementation},
                {"implementation_name", e->implementation_name},
                {"implementation_version", e->implementation_version},
                {"extra", m->extra}};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        size_t l = strlen(vars[i].name);
        if (!strncmp(p, vars[i].name, l) && !is_name_char(p[l])) {
            *value = vars[i].value ? vars[i].value : "";
            *is_extra = i == sizeof vars / sizeof vars[0] - 1;
            m->p = p + l;
            return 0;
        }
    }
    return fail(m, "a marker compares a variable (python_version, sys_platform, platform_machine, extra, ...) "
                   "with a quoted string");
}

static int compare(const char *op, const char *lhs, const char *rhs)
{
    if (!strcmp(op, "in"))
        return strstr(rhs, lhs) != NULL;
    if (!strcmp(op, "not in"))
        return strstr(rhs, lhs) == NULL;
    struct pep440_specset s;
    struct pep440_version v;
    const char *why = NULL;
    char clause[PEP440_MAX_TEXT + 8];
    snprintf(clause, sizeof clause, "%s%s", op, rhs);
    if (!pep440_specset_parse(&s, clause, strlen(clause), &why) && s.n == 1 &&
        !pep440_parse(&v, lhs, strlen(lhs), &why))
        return pep440_specset_contains(&s, &v, lhs, 1);
    int c = strcmp(lhs, rhs);
    if (!strcmp(op, "==") || !strcmp(op, "==="))
        return c == 0;
    if (!strcmp(op, "!="))
        return c != 0;
    if (!strcmp(op, "<"))
        return c < 0;
    if (!strcmp(op, "<="))
        return c <= 0;
    if (!strcmp(op, ">"))
        return c > 0;
    if (!strcmp(op, ">="))
        return c >= 0;
    return 0; /* ~= on something that is not a version: never true, as packaging says */
}

static int expr_or(struct marker *m);

static int expr_atom(struct marker *m)
{
    const char *p = skip_space(m->p);
    if (*p == '(') {
        if (++m->depth > MARKER_DEPTH)
            return fail(m, "the marker nests too deeply");
        m->p = p + 1;
        int v = expr_or(m);
        if (v < 0)
            return v;
        p = skip_space(m->p);
        if (*p != ')')
            return fail(m, "a '(' in the marker is never closed");
        m->p = p + 1;
        m->depth--;
        return v;
    }
    char lbuf[256], rbuf[256];
    const char *lhs, *rhs;
    int lx, rx, rc = operand(m, &lhs, lbuf, sizeof lbuf, &lx);
    if (rc)
        return rc;
    p = skip_space(m->p);
    static const char *const ops[] = {"===", "==", "!=", "<=", ">=", "~=", "<", ">", NULL};
    const char *op = NULL;
    for (size_t i = 0; ops[i] && !op; i++)
        if (!strncmp(p, ops[i], strlen(ops[i]))) {
            op = ops[i];
            m->p = p + strlen(ops[i]);
        }
    if (!op) {
        if (word(m, "in"))
            op = "in";
        else if (word(m, "not") && word(m, "in"))
            op = "not in";
        else
            return fail(m, "expected a comparison (==, !=, <, <=, >, >=, ~=, ===, in, not in) in the marker");
    }
    if ((rc = operand(m, &rhs, rbuf, sizeof rbuf, &rx)))
        return rc;
    if (lx || rx) { /* extra names compare normalised: extra == "Foo_Bar" asks for foo-bar */
        char ln[PEP508_MAX_NAME], rn[PEP508_MAX_NAME];
        if (!strcmp(op, "==") || !strcmp(op, "!=")) {
            int lok = !pep508_normalize_name(ln, sizeof ln, lhs, strlen(lhs)),
                rok = !pep508_normalize_name(rn, sizeof rn, rhs, strlen(rhs));
            int eq = lok && rok ? !strcmp(ln, rn) : !strcmp(lhs, rhs);
            return op[0] == '=' ? eq : !eq;
        }
    }
    return compare(op, lhs, rhs);
}

static int expr_and(struct marker *m)
{
    int v = expr_atom(m);
    while (v >= 0 && word(m, "and")) {
        int r = expr_atom(m);
        if (r < 0)
            return r;
        v = v && r;
    }
    return v;
}

static int expr_or(struct marker *m)
{
    int v = expr_and(m);
    while (v >= 0 && word(m, "or")) {
        int r = expr_and(m);
        if (r < 0)
            return r;
        v = v || r;
    }
    return v;
}

int pep508_marker_eval(const char *marker, const struct pep508_env *env, const char *extra, const char **why)
{
    if (!*skip_space(marker))
        return 1;
    struct marker m = {.p = marker, .env = env, .extra = extra ? extra : "", .why = why};
    int v = expr_or(&m);
    if (v >= 0 && *skip_space(m.p))
        return fail(&m, "unexpected text in the marker (conditions join with 'and' / 'or')");
    return v;
}
