#include "builder/spec/conda_version.h"

#include "common/buf.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum atom_kind { ATOM_STR, ATOM_NUM, ATOM_POST };

/* One run of a component: a string (offset into buf), a number (its digits in buf without leading
 * zeros; none for 0), or "post". */
struct atom {
    unsigned char kind;
    unsigned short off, len;
};

struct comp {
    unsigned short first, n; /* atoms[first .. first+n) */
};

struct conda_version {
    char *text;          /* normalised */
    char *buf;           /* atom text: "dev" upper-cased so it sorts before every other string */
    struct atom *atoms;  /* all atoms */
    struct comp *comps;  /* the version's components (epoch first), then the local version's */
    size_t n_version, n_local;
};

/* A component or atom that is not there compares as the number 0. */
static const struct atom zero = {ATOM_NUM, 0, 0};

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

void conda_version_free(struct conda_version *v)
{
    if (!v)
        return;
    free(v->text);
    free(v->buf);
    free(v->atoms);
    free(v->comps);
    free(v);
}

const char *conda_version_text(const struct conda_version *v)
{
    return v->text;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int valid_chars(const char *s)
{
    for (; *s; s++)
        if (!(is_digit(*s) || (*s >= 'a' && *s <= 'z') || strchr("*.+!_", *s)))
            return 0;
    return 1;
}

static int bad_version(const char *context, const char *text, const char *why)
{
    (void)text; /* never quoted: it comes from a file that may not be the user's */
    return err_set(ERR_INVALID, "%s: invalid conda version: %s", context, why);
}

/* Appends the atoms of one component s[0..len) (runs of digits, of '*', of anything else). */
static int add_component(struct conda_version *v, size_t *n_atoms, size_t *n_comps, const char *s, size_t len,
                         const char *context, const char *text)
{
    if (len == 0)
        return bad_version(context, text, "empty version component");
    struct comp *c = &v->comps[(*n_comps)++];
    c->first = (unsigned short)*n_atoms;
    c->n = 0;
    if (!is_digit(s[0])) /* keep numbers and strings in phase: "1.a1" == "1.0a1" */
        v->atoms[(*n_atoms)++] = zero, c->n++;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        int digits = is_digit(s[i]), star = s[i] == '*';
        while (j < len && (digits ? is_digit(s[j]) : star ? s[j] == '*' : !is_digit(s[j]) && s[j] != '*'))
            j++;
        struct atom a = {ATOM_STR, (unsigned short)(s + i - v->buf), (unsigned short)(j - i)};
        if (digits) {
            while (a.len && v->buf[a.off] == '0')
                a.off++, a.len--;
            a.kind = ATOM_NUM;
        } else if (j - i == 4 && !memcmp(s + i, "post", 4)) {
            a.kind = ATOM_POST;
        } else if (j - i == 3 && !memcmp(s + i, "dev", 3)) {
            memcpy(v->buf + a.off, "DEV", 3);
        }
        v->atoms[(*n_atoms)++] = a;
        c->n++;
        i = j;
    }
    return 0;
}

/* Splits s[0..len) at '.' and '_' into components; a trailing '_' stays on the last one. */
static int add_components(struct conda_version *v, size_t *n_atoms, size_t *n_comps, const char *s, size_t len,
                          int keep_trailing_underscore, const char *context, const char *text)
{
    size_t end = len;
    if (keep_trailing_underscore && len > 1 && s[len - 1] == '_')
        end = len - 1;
    size_t start = 0;
    int rc = 0;
    for (size_t i = 0; i <= end && !rc; i++) {
        if (i < end && s[i] != '.' && s[i] != '_')
            continue;
        size_t stop = i == end ? len : i; /* the last component takes the kept '_' */
        rc = add_component(v, n_atoms, n_comps, s + start, stop - start, context, text);
        start = i + 1;
    }
    return rc;
}

int conda_version_parse(struct conda_version **out, const char *text, const char *context)
{
    *out = NULL;
    size_t len = strlen(text);
    while (len && (text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    while (len && (*text == ' ' || *text == '\t'))
        text++, len--;
    if (len == 0)
        return err_set(ERR_INVALID, "%s: empty conda version", context);
    if (len > CONDA_VERSION_MAX)
        return err_set(ERR_LIMIT, "%s: conda version longer than %d characters", context, CONDA_VERSION_MAX);
    struct conda_version *v = calloc(1, sizeof *v);
    int rc = 0;
    if (!v || !(v->text = strndup(text, len)) || !(v->buf = strndup(text, len)) ||
        !(v->atoms = calloc(2 * len + 2, sizeof *v->atoms)) || !(v->comps = calloc(len + 2, sizeof *v->comps))) {
        rc = nomem();
        goto done;
    }
    for (size_t i = 0; i < len; i++)
        if (v->text[i] >= 'A' && v->text[i] <= 'Z')
            v->text[i] = v->buf[i] = (char)(v->text[i] - 'A' + 'a');
    if (!valid_chars(v->text) && strchr(v->text, '-') && !strchr(v->text, '_'))
        for (size_t i = 0; i < len; i++)
            if (v->text[i] == '-')
                v->text[i] = v->buf[i] = '_';
    if (!valid_chars(v->text)) {
        rc = bad_version(context, text, "invalid character(s) (allowed: letters, digits, '.', '_', '+', '!', '*')");
        goto done;
    }
    const char *s = v->buf, *bang = strchr(s, '!'), *plus;
    if (bang && strchr(bang + 1, '!')) {
        rc = bad_version(context, text, "duplicated epoch separator '!'");
        goto done;
    }
    size_t n_atoms = 0, n_comps = 0;
    if (bang) {
        for (const char *p = s; p < bang; p++)
            if (!is_digit(*p))
                bang = NULL;
        if (!bang || bang == s) {
            rc = bad_version(context, text, "the epoch (before '!') must be an integer");
            goto done;
        }
        rc = add_component(v, &n_atoms, &n_comps, s, (size_t)(bang - s), context, text);
        s = bang + 1;
    } else {
        struct comp *c = &v->comps[n_comps++]; /* epoch 0 */
        c->first = (unsigned short)n_atoms, c->n = 1;
        v->atoms[n_atoms++] = zero;
    }
    plus = strchr(s, '+');
    if (!rc && plus && strchr(plus + 1, '+'))
        rc = bad_version(context, text, "duplicated local version separator '+'");
    size_t vlen = plus ? (size_t)(plus - s) : strlen(s);
    rc = rc ? rc : add_components(v, &n_atoms, &n_comps, s, vlen, 1, context, text);
    v->n_version = n_comps;
    if (!rc && plus)
        rc = add_components(v, &n_atoms, &n_comps, plus + 1, strlen(plus + 1), 0, context, text);
    v->n_local = n_comps - v->n_version;
done:
    if (rc)
        conda_version_free(v);
    else
        *out = v;
    return rc;
}

static struct atom atom_at(const struct conda_version *v, const struct comp *c, size_t j)
{
    return c && j < c->n ? v->atoms[c->first + j] : zero;
}

static int compare_atoms(const struct conda_version *a, struct atom x, const struct conda_version *b, struct atom y)
{
    if (x.kind == ATOM_STR || y.kind == ATOM_STR) {
        if (x.kind != ATOM_STR) /* strings sort before numbers */
            return 1;
        if (y.kind != ATOM_STR)
            return -1;
        size_t n = x.len < y.len ? x.len : y.len;
        int c = memcmp(a->buf + x.off, b->buf + y.off, n);
        return c ? c : (x.len > y.len) - (x.len < y.len);
    }
    if (x.kind == ATOM_POST || y.kind == ATOM_POST) /* "post" is after every number */
        return (x.kind == ATOM_POST) - (y.kind == ATOM_POST);
    if (x.len != y.len)
        return x.len < y.len ? -1 : 1;
    int c = memcmp(a->buf + x.off, b->buf + y.off, x.len);
    return (c > 0) - (c < 0);
}

/* Compares components ca[0..na) of a with cb[0..nb) of b; at most lim atoms of each component. */
static int compare_comps(const struct conda_version *a, const struct comp *ca, size_t na, const struct conda_version *b,
                         const struct comp *cb, size_t nb, size_t lim)
{
    for (size_t i = 0; i < na || i < nb; i++) {
        const struct comp *x = ca && i < na ? &ca[i] : NULL, *y = cb && i < nb ? &cb[i] : NULL;
        size_t nx = x ? x->n : 0, ny = y ? y->n : 0;
        nx = nx < lim ? nx : lim;
        ny = ny < lim ? ny : lim;
        for (size_t j = 0; j < nx || j < ny; j++) {
            int c = compare_atoms(a, atom_at(a, x, j), b, atom_at(b, y, j));
            if (c)
                return c;
        }
    }
    return 0;
}

int conda_version_compare(const struct conda_version *a, const struct conda_version *b)
{
    int c = compare_comps(a, a->comps, a->n_version, b, b->comps, b->n_version, (size_t)-1);
    return c ? c
             : compare_comps(a, a->comps + a->n_version, a->n_local, b, b->comps + b->n_version, b->n_local,
                             (size_t)-1);
}

int conda_version_startswith(const struct conda_version *v, const struct conda_version *prefix)
{
    const struct comp *t1 = v->comps, *t2 = prefix->comps;
    size_t n1 = v->n_version, n2 = prefix->n_version;
    if (prefix->n_local) {
        if (compare_comps(v, t1, n1, prefix, t2, n2, (size_t)-1))
            return 0;
        t1 += n1, t2 += n2;
        n1 = v->n_local, n2 = prefix->n_local;
    }
    size_t nt = n2 - 1; /* every component but the last must be equal */
    if (compare_comps(v, t1, n1 < nt ? n1 : nt, prefix, t2, nt, (size_t)-1))
        return 0;
    const struct comp *c1 = n1 > nt ? &t1[nt] : NULL, *c2 = &t2[nt];
    size_t na = c2->n - 1; /* and in the last, every atom but the last */
    if (compare_comps(v, c1, 1, prefix, c2, 1, na))
        return 0;
    struct atom x = atom_at(v, c1, na), y = atom_at(prefix, c2, na);
    if (y.kind == ATOM_STR) /* a string matches as a prefix: "1.2a*" matches "1.2alpha" */
        return x.kind == ATOM_STR && x.len >= y.len && !memcmp(v->buf + x.off, prefix->buf + y.off, y.len);
    return compare_atoms(v, x, prefix, y) == 0;
}

/* ---- version specs ---- */

enum vspec_op { VS_ANY, VS_EQ, VS_NE, VS_LT, VS_LE, VS_GT, VS_GE, VS_PREFIX, VS_NOT_PREFIX, VS_COMPAT, VS_AND, VS_OR };

struct conda_vspec {
    enum vspec_op op;
    struct conda_version *v;      /* the operand of a leaf */
    struct conda_version *prefix; /* VS_COMPAT: the version without its last component */
    struct conda_vspec **kids;    /* VS_AND, VS_OR */
    size_t n_kids;
    char *text;
};

void conda_vspec_free(struct conda_vspec *s)
{
    if (!s)
        return;
    conda_version_free(s->v);
    conda_version_free(s->prefix);
    for (size_t i = 0; i < s->n_kids; i++)
        conda_vspec_free(s->kids[i]);
    free(s->kids);
    free(s->text);
    free(s);
}

const char *conda_vspec_text(const struct conda_vspec *s)
{
    return s->text;
}

int conda_vspec_match(const struct conda_vspec *s, const struct conda_version *v)
{
    switch (s->op) {
    case VS_ANY: return 1;
    case VS_EQ: return conda_version_compare(v, s->v) == 0;
    case VS_NE: return conda_version_compare(v, s->v) != 0;
    case VS_LT: return conda_version_compare(v, s->v) < 0;
    case VS_LE: return conda_version_compare(v, s->v) <= 0;
    case VS_GT: return conda_version_compare(v, s->v) > 0;
    case VS_GE: return conda_version_compare(v, s->v) >= 0;
    case VS_PREFIX: return conda_version_startswith(v, s->v);
    case VS_NOT_PREFIX: return !conda_version_startswith(v, s->v);
    case VS_COMPAT: return conda_version_compare(v, s->v) >= 0 && conda_version_startswith(v, s->prefix);
    case VS_AND:
        for (size_t i = 0; i < s->n_kids; i++)
            if (!conda_vspec_match(s->kids[i], v))
                return 0;
        return 1;
    case VS_OR:
        for (size_t i = 0; i < s->n_kids; i++)
            if (conda_vspec_match(s->kids[i], v))
                return 1;
        return 0;
    }
    return 0;
}

struct vparser {
    const char *text, *p, *context;
    int depth;
};

static int bad_spec(const struct vparser *ps, const char *why)
{
    return err_set(ERR_INVALID, "%s: invalid version spec: %s", ps->context, why);
}

static struct conda_vspec *new_node(enum vspec_op op)
{
    struct conda_vspec *s = calloc(1, sizeof *s);
    if (s)
        s->op = op;
    return s;
}

/* One relation: the text of a leaf without spaces around it. */
static int parse_leaf(struct conda_vspec **out, const struct vparser *ps, char *s)
{
    static const char *const ops[] = {"==", "!=", "<=", ">=", "~=", "<", ">", "="};
    static const enum vspec_op kinds[] = {VS_EQ, VS_NE, VS_LE, VS_GE, VS_COMPAT, VS_LT, VS_GT, VS_PREFIX};
    size_t len = strlen(s);
    if (s[0] == '^' || s[len - 1] == '$')
        return err_set(ERR_UNSUPPORTED, "%s: regular expressions in version specs are not supported", ps->context);
    if (strchr(s, '@'))
        return bad_spec(ps, "'@' is not part of a version");
    enum vspec_op op = VS_EQ;
    char *ver = s;
    if (strchr("=<>!~", s[0])) {
        size_t k = 0;
        while (k < 8 && strncmp(s, ops[k], strlen(ops[k])))
            k++;
        if (k == 8)
            return bad_spec(ps, "unknown operator");
        ver = s + strlen(ops[k]);
        op = kinds[k];
        if (!ver[0] || strchr("=<>!~", ver[0]))
            return bad_spec(ps, "expected a version after the operator");
        size_t vl = strlen(ver);
        if (ver[vl - 1] == '*') {
            if (op == VS_COMPAT)
                return bad_spec(ps, "'~=' takes no '*'");
            if (op == VS_NE)
                op = VS_NOT_PREFIX;
            else if (op == VS_EQ)
                op = VS_PREFIX; /* "==1.2.*" asks for the prefix as "1.2.*" does */
            while (vl && ver[vl - 1] == '*')
                ver[--vl] = '\0';
            if (vl && ver[vl - 1] == '.')
                ver[--vl] = '\0';
            if (!vl) {
                if (op == VS_NOT_PREFIX)
                    return bad_spec(ps, "'!=*' matches nothing");
                op = VS_ANY;
            }
        }
    } else {
        size_t vl = len;
        while (vl && ver[vl - 1] == '*')
            vl--;
        if (vl < len) {
            ver[vl] = '\0';
            if (vl && ver[vl - 1] == '.')
                ver[--vl] = '\0';
            op = vl ? VS_PREFIX : VS_ANY;
        }
    }
    if (op != VS_ANY && strchr(ver, '*'))
        return err_set(ERR_UNSUPPORTED, "%s: a '*' inside a version (a regular expression) is not supported",
                       ps->context);
    struct conda_vspec *n = new_node(op);
    if (!n)
        return nomem();
    int rc = 0;
    if (op != VS_ANY)
        rc = conda_version_parse(&n->v, ver, ps->context);
    if (!rc && op == VS_COMPAT) {
        char *dot = strrchr(ver, '.');
        if (!dot)
            rc = bad_spec(ps, "'~=' needs a version of two components or more");
        else {
            *dot = '\0';
            rc = conda_version_parse(&n->prefix, ver, ps->context);
            *dot = '.';
        }
    }
    if (!rc) {
        static const char *const names[] = {"", "==", "!=", "<", "<=", ">", ">=", "", "!=", "~="};
        const char *vt = n->v ? conda_version_text(n->v) : "";
        int w = op == VS_ANY                                ? asprintf(&n->text, "*")
                : op == VS_PREFIX || op == VS_NOT_PREFIX ? asprintf(&n->text, "%s%s.*", names[op], vt)
                : op == VS_EQ                              ? asprintf(&n->text, "%s", vt)
                                                           : asprintf(&n->text, "%s%s", names[op], vt);
        if (w < 0) {
            n->text = NULL;
            rc = nomem();
        }
    }
    if (rc)
        conda_vspec_free(n);
    else
        *out = n;
    return rc;
}

static int parse_or(struct conda_vspec **out, struct vparser *ps);

static void skip_spaces(struct vparser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t')
        ps->p++;
}

static int parse_atom(struct conda_vspec **out, struct vparser *ps)
{
    skip_spaces(ps);
    if (*ps->p == '(') {
        if (++ps->depth > CONDA_VSPEC_DEPTH)
            return bad_spec(ps, "parentheses nested too deeply");
        ps->p++;
        int rc = parse_or(out, ps);
        skip_spaces(ps);
        if (!rc && *ps->p != ')') {
            conda_vspec_free(*out);
            *out = NULL;
            return bad_spec(ps, "expected ')'");
        }
        ps->depth--;
        ps->p += !rc;
        return rc;
    }
    const char *start = ps->p;
    while (*ps->p && !strchr("()|,", *ps->p))
        ps->p++;
    const char *end = ps->p;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (end == start)
        return bad_spec(ps, *ps->p ? "expected a version before an operator" : "empty version spec");
    char *leaf = strndup(start, (size_t)(end - start));
    if (!leaf)
        return nomem();
    int rc = strpbrk(leaf, " \t") ? bad_spec(ps, "space inside a version") : parse_leaf(out, ps, leaf);
    free(leaf);
    return rc;
}

/* A list of sub-expressions joined by sep (',' binds tighter than '|'). */
static int parse_list(struct conda_vspec **out, struct vparser *ps, char sep)
{
    struct conda_vspec *first = NULL;
    int rc = sep == ',' ? parse_atom(&first, ps) : parse_list(&first, ps, ',');
    skip_spaces(ps);
    if (rc || *ps->p != sep) {
        *out = first;
        return rc;
    }
    struct conda_vspec *n = new_node(sep == ',' ? VS_AND : VS_OR);
    struct buf text;
    buf_init(&text, 0);
    if (!n || !(n->kids = malloc(sizeof *n->kids))) {
        conda_vspec_free(first);
        conda_vspec_free(n);
        return nomem();
    }
    n->kids[n->n_kids++] = first;
    while (!rc && *ps->p == sep) {
        ps->p++;
        struct conda_vspec *next = NULL;
        rc = sep == ',' ? parse_atom(&next, ps) : parse_list(&next, ps, ',');
        struct conda_vspec **kids = rc ? NULL : realloc(n->kids, (n->n_kids + 1) * sizeof *kids);
        if (!rc && !kids) {
            conda_vspec_free(next);
            rc = nomem();
        }
        if (!rc) {
            n->kids = kids;
            n->kids[n->n_kids++] = next;
        }
        skip_spaces(ps);
    }
    for (size_t i = 0; i < n->n_kids && !rc; i++) {
        int paren = sep == ',' && n->kids[i]->op == VS_OR;
        rc = buf_appendf(&text, "%s%s%s%s", i ? (sep == ',' ? "," : "|") : "", paren ? "(" : "", n->kids[i]->text,
                         paren ? ")" : "");
    }
    if (!rc && !(n->text = strdup(text.data)))
        rc = nomem();
    buf_release(&text);
    if (rc)
        conda_vspec_free(n);
    else
        *out = n;
    return rc;
}

static int parse_or(struct conda_vspec **out, struct vparser *ps)
{
    return parse_list(out, ps, '|');
}

int conda_vspec_parse(struct conda_vspec **out, const char *text, const char *context)
{
    *out = NULL;
    if (strlen(text) > CONDA_VSPEC_MAX)
        return err_set(ERR_LIMIT, "%s: version spec longer than %d characters", context, CONDA_VSPEC_MAX);
    struct vparser ps = {.text = text, .p = text, .context = context};
    struct conda_vspec *s = NULL;
    int rc = parse_or(&s, &ps);
    skip_spaces(&ps);
    if (!rc && *ps.p) {
        conda_vspec_free(s);
        return bad_spec(&ps, *ps.p == ')' ? "unbalanced ')'" : "unexpected text");
    }
    if (!rc && strlen(s->text) > CONDA_VSPEC_MAX) { /* the canonical form must read back too */
        conda_vspec_free(s);
        return err_set(ERR_LIMIT, "%s: version spec longer than %d characters", context, CONDA_VSPEC_MAX);
    }
    if (!rc)
        *out = s;
    return rc;
}
