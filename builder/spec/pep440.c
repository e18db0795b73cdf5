#include "builder/spec/pep440.h"

#include "common/err.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* A cursor over the lower-cased text being parsed. */
struct cursor {
    char s[PEP440_MAX_TEXT];
    size_t i, n;
};

static int at_word(struct cursor *c, const char *word)
{
    size_t l = strlen(word);
    if (c->n - c->i >= l && !memcmp(c->s + c->i, word, l)) {
        c->i += l;
        return 1;
    }
    return 0;
}

static int is_sep(char ch)
{
    return ch == '.' || ch == '-' || ch == '_';
}

/* Digits into *out; 0 when there are none. Numbers past 10^18 are refused (no real version has them). */
static int number(struct cursor *c, uint64_t *out, int *overflow)
{
    size_t start = c->i;
    uint64_t v = 0;
    while (c->i < c->n && isdigit((unsigned char)c->s[c->i])) {
        if (v > 100000000000000000ull)
            *overflow = 1;
        else
            v = v * 10 + (uint64_t)(c->s[c->i] - '0');
        c->i++;
    }
    *out = v;
    return c->i > start;
}

/* An optional separator, then one of the words, then an optional separator and number. */
static int labelled(struct cursor *c, const char *const *words, size_t *which, uint64_t *n, int *overflow)
{
    size_t save = c->i;
    if (c->i < c->n && is_sep(c->s[c->i]))
        c->i++;
    for (size_t w = 0; words[w]; w++) {
        if (!at_word(c, words[w]))
            continue;
        *which = w;
        size_t after = c->i;
        if (c->i < c->n && is_sep(c->s[c->i]))
            c->i++;
        if (!number(c, n, overflow)) {
            c->i = after;
            *n = 0;
        }
        return 1;
    }
    c->i = save;
    return 0;
}

int pep440_parse(struct pep440_version *out, const char *text, size_t len, const char **why)
{
    memset(out, 0, sizeof *out);
    while (len && isspace((unsigned char)*text))
        text++, len--;
    while (len && isspace((unsigned char)text[len - 1]))
        len--;
    struct cursor c = {.n = len};
    if (!len) {
        *why = "empty version";
        return ERR_INVALID;
    }
    if (len >= sizeof c.s) {
        *why = "version too long";
        return ERR_INVALID;
    }
    for (size_t i = 0; i < len; i++)
        c.s[i] = (char)tolower((unsigned char)text[i]);
    int overflow = 0;
    uint64_t n = 0;
    if (c.s[0] == 'v')
        c.i++;
    if (!number(&c, &n, &overflow))
        goto bad;
    if (c.i < c.n && c.s[c.i] == '!') {
        out->epoch = n;
        c.i++;
        if (!number(&c, &n, &overflow))
            goto bad;
    }
    out->release[out->n_release++] = n;
    while (c.i + 1 < c.n && c.s[c.i] == '.' && isdigit((unsigned char)c.s[c.i + 1])) {
        if (out->n_release == PEP440_MAX_RELEASE) {
            *why = "too many release numbers";
            return ERR_INVALID;
        }
        c.i++;
        number(&c, &out->release[out->n_release++], &overflow);
    }
    static const char *const pre_words[] = {"alpha", "a", "beta", "b", "preview", "pre", "rc", "c", NULL};
    static const enum pep440_pre pre_kind[] = {PEP440_PRE_A,  PEP440_PRE_A,  PEP440_PRE_B,  PEP440_PRE_B,
                                               PEP440_PRE_RC, PEP440_PRE_RC, PEP440_PRE_RC, PEP440_PRE_RC};
    size_t which = 0;
    if (labelled(&c, pre_words, &which, &out->pre_n, &overflow))
        out->pre = pre_kind[which];
    static const char *const post_words[] = {"post", "rev", "r", NULL};
    if (c.i + 1 < c.n && c.s[c.i] == '-' && isdigit((unsigned char)c.s[c.i + 1])) {
        c.i++;
        number(&c, &out->post_n, &overflow);
        out->has_post = 1;
    } else if (labelled(&c, post_words, &which, &out->post_n, &overflow)) {
        out->has_post = 1;
    }
    static const char *const dev_words[] = {"dev", NULL};
    if (labelled(&c, dev_words, &which, &out->dev_n, &overflow))
        out->has_dev = 1;
    if (c.i < c.n && c.s[c.i] == '+') {
        c.i++;
        size_t o = 0, start = c.i;
        while (c.i < c.n && (isalnum((unsigned char)c.s[c.i]) || is_sep(c.s[c.i]))) {
            char ch = is_sep(c.s[c.i]) ? '.' : c.s[c.i];
            if (ch == '.' && (c.i == start || c.i + 1 == c.n || is_sep(c.s[c.i + 1])))
                goto bad;
            if (o + 1 >= sizeof out->local) {
                *why = "local version too long";
                return ERR_INVALID;
            }
            out->local[o++] = ch;
            c.i++;
        }
        if (!o)
            goto bad;
    }
    if (c.i != c.n)
        goto bad;
    if (overflow) {
        *why = "a number in it is too large";
        return ERR_INVALID;
    }
    return 0;
bad:
    *why = "not a PEP 440 version (e.g. 1.2, 2!1.0rc1, 1.0.post2.dev3, 1.0+local.7)";
    return ERR_INVALID;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return (a > b) - (a < b);
}

/* Local segments: numbers sort after strings and compare numerically; a missing segment sorts first. */
static int compare_local(const char *a, const char *b)
{
    if (!*a || !*b)
        return (*a != 0) - (*b != 0);
    while (*a || *b) {
        if (!*a || !*b)
            return *a ? 1 : -1;
        size_t la = strcspn(a, "."), lb = strcspn(b, ".");
        int na = strspn(a, "0123456789") == la, nb = strspn(b, "0123456789") == lb;
        int c = 0;
        if (na != nb) {
            c = na ? 1 : -1;
        } else if (na) {
            while (la > 1 && *a == '0')
                a++, la--;
            while (lb > 1 && *b == '0')
                b++, lb--;
            c = la != lb ? (la > lb ? 1 : -1) : strncmp(a, b, la);
        } else {
            c = strncmp(a, b, la < lb ? la : lb);
            c = c ? c : (la > lb) - (la < lb);
        }
        if (c)
            return c > 0 ? 1 : -1;
        a += la + (a[la] == '.');
        b += lb + (b[lb] == '.');
    }
    return 0;
}

/* The pre-release key: a dev release with no pre or post sorts before every pre-release of its release;
 * no pre-release sorts after all of them. */
static int pre_rank(const struct pep440_version *v, uint64_t *n)
{
    *n = v->pre_n;
    if (v->pre)
        return (int)v->pre;
    return !v->has_post && v->has_dev ? -1 : 99;
}

int pep440_compare(const struct pep440_version *a, const struct pep440_version *b)
{
    int c = cmp_u64(a->epoch, b->epoch);
    if (c)
        return c;
    size_t n = a->n_release > b->n_release ? a->n_release : b->n_release;
    for (size_t i = 0; i < n; i++) {
        c = cmp_u64(i < a->n_release ? a->release[i] : 0, i < b->n_release ? b->release[i] : 0);
        if (c)
            return c;
    }
    uint64_t pa, pb;
    int ra = pre_rank(a, &pa), rb = pre_rank(b, &pb);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    if (a->pre && (c = cmp_u64(pa, pb)))
        return c;
    if (a->has_post != b->has_post)
        return a->has_post ? 1 : -1;
    if (a->has_post && (c = cmp_u64(a->post_n, b->post_n)))
        return c;
    if (a->has_dev != b->has_dev)
        return a->has_dev ? -1 : 1;
    if (a->has_dev && (c = cmp_u64(a->dev_n, b->dev_n)))
        return c;
    return compare_local(a->local, b->local);
}

int pep440_is_prerelease(const struct pep440_version *v)
{
    return v->pre || v->has_dev;
}

void pep440_format(char *out, size_t size, const struct pep440_version *v)
{
    size_t o = 0;
#define PUT(...)                                                                                                       \
    do {                                                                                                               \
        int w_ = snprintf(out + o, o < size ? size - o : 0, __VA_ARGS__);                                             \
        o += w_ > 0 ? (size_t)w_ : 0;                                                                                  \
        if (o >= size)                                                                                                 \
            o = size - 1;                                                                                              \
    } while (0)
    if (!size)
        return;
    out[0] = '\0';
    if (v->epoch)
        PUT("%llu!", (unsigned long long)v->epoch);
    for (size_t i = 0; i < v->n_release; i++)
        PUT("%s%llu", i ? "." : "", (unsigned long long)v->release[i]);
    static const char *const pre[] = {"", "a", "b", "rc"};
    if (v->pre)
        PUT("%s%llu", pre[v->pre], (unsigned long long)v->pre_n);
    if (v->has_post)
        PUT(".post%llu", (unsigned long long)v->post_n);
    if (v->has_dev)
        PUT(".dev%llu", (unsigned long long)v->dev_n);
    if (v->local[0])
        PUT("+%s", v->local);
#undef PUT
}

/* ---- specifiers ---- */

static const char *const op_text[] = {"==", "!=", "<=", ">=", "<", ">", "~=", "==="};

static int parse_clause(struct pep440_clause *c, const char *p, size_t len, const char **why)
{
    memset(c, 0, sizeof *c);
    while (len && isspace((unsigned char)*p))
        p++, len--;
    while (len && isspace((unsigned char)p[len - 1]))
        len--;
    static const struct {
        const char *text;
        enum pep440_op op;
    } ops[] = {{"===", PEP440_ARBITRARY}, {"==", PEP440_EQ}, {"!=", PEP440_NE}, {"<=", PEP440_LE},
               {">=", PEP440_GE},         {"~=", PEP440_COMPAT}, {"<", PEP440_LT}, {">", PEP440_GT}};
    size_t k = 0;
    for (; k < sizeof ops / sizeof ops[0]; k++)
        if (len >= strlen(ops[k].text) && !strncmp(p, ops[k].text, strlen(ops[k].text)))
            break;
    if (k == sizeof ops / sizeof ops[0]) {
        *why = "a specifier starts with ==, !=, <=, >=, <, >, ~= or ===";
        return ERR_INVALID;
    }
    c->op = ops[k].op;
    p += strlen(ops[k].text), len -= strlen(ops[k].text);
    while (len && isspace((unsigned char)*p))
        p++, len--;
    if (!len || len >= sizeof c->text) {
        *why = len ? "version too long" : "a specifier needs a version after its operator";
        return ERR_INVALID;
    }
    memcpy(c->text, p, len);
    c->text[len] = '\0';
    if (c->op == PEP440_ARBITRARY)
        return strpbrk(c->text, " \t,;") ? (*why = "=== takes one word", ERR_INVALID) : 0;
    if ((c->op == PEP440_EQ || c->op == PEP440_NE) && len > 2 && !strcmp(c->text + len - 2, ".*")) {
        c->wildcard = 1;
        len -= 2;
    }
    if (pep440_parse(&c->v, p, len, why))
        return ERR_INVALID;
    if (c->wildcard && (c->v.pre || c->v.has_post || c->v.has_dev || c->v.local[0])) {
        *why = "a wildcard (.*) follows release numbers only";
        return ERR_INVALID;
    }
    if (c->v.local[0] && c->op != PEP440_EQ && c->op != PEP440_NE) {
        *why = "a local version (+...) is allowed with == and != only";
        return ERR_INVALID;
    }
    if (c->op == PEP440_COMPAT && c->v.n_release < 2) {
        *why = "~= needs at least two release numbers (~=1.2)";
        return ERR_INVALID;
    }
    return 0;
}

int pep440_specset_parse(struct pep440_specset *out, const char *text, size_t len, const char **why)
{
    out->n = 0;
    size_t start = 0;
    int only_space = 1;
    for (size_t i = 0; i < len; i++)
        only_space &= isspace((unsigned char)text[i]) != 0;
    if (only_space)
        return 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != ',')
            continue;
        if (out->n == PEP440_MAX_CLAUSES) {
            *why = "too many clauses";
            return ERR_INVALID;
        }
        if (parse_clause(&out->clauses[out->n++], text + start, i - start, why))
            return ERR_INVALID;
        start = i + 1;
    }
    return 0;
}

/* v's release padded with zeros starts with prefix's release (and the epochs agree): ==1.2.* */
static int prefix_match(const struct pep440_version *v, const struct pep440_version *prefix)
{
    if (v->epoch != prefix->epoch)
        return 0;
    for (size_t i = 0; i < prefix->n_release; i++)
        if ((i < v->n_release ? v->release[i] : 0) != prefix->release[i])
            return 0;
    return 1;
}

static struct pep440_version public_of(const struct pep440_version *v)
{
    struct pep440_version p = *v;
    p.local[0] = '\0';
    return p;
}

static struct pep440_version base_of(const struct pep440_version *v)
{
    struct pep440_version b = {.epoch = v->epoch, .n_release = v->n_release};
    memcpy(b.release, v->release, sizeof b.release);
    return b;
}

static int clause_contains(const struct pep440_clause *c, const struct pep440_version *v, const char *text)
{
    struct pep440_version pub = public_of(v);
    switch (c->op) {
    case PEP440_ARBITRARY: return text && !strcasecmp(c->text, text);
    case PEP440_EQ:
    case PEP440_NE: {
        int eq = c->wildcard            ? prefix_match(v, &c->v)
                 : c->v.local[0]        ? !pep440_compare(v, &c->v)
                                        : !pep440_compare(&pub, &c->v);
        return c->op == PEP440_EQ ? eq : !eq;
    }
    case PEP440_LE: return pep440_compare(&pub, &c->v) <= 0;
    case PEP440_GE: return pep440_compare(&pub, &c->v) >= 0;
    case PEP440_LT: {
        if (pep440_compare(v, &c->v) >= 0)
            return 0;
        struct pep440_version bv = base_of(v), bc = base_of(&c->v);
        return pep440_is_prerelease(&c->v) || !pep440_is_prerelease(v) || pep440_compare(&bv, &bc);
    }
    case PEP440_GT: {
        if (pep440_compare(v, &c->v) <= 0)
            return 0;
        struct pep440_version bv = base_of(v), bc = base_of(&c->v);
        if (!c->v.has_post && v->has_post && !pep440_compare(&bv, &bc))
            return 0;
        return !(v->local[0] && !pep440_compare(&bv, &bc));
    }
    case PEP440_COMPAT: {
        if (pep440_compare(&pub, &c->v) < 0)
            return 0;
        struct pep440_version prefix = base_of(&c->v);
        prefix.n_release--;
        return prefix_match(v, &prefix);
    }
    }
    return 0;
}

int pep440_specset_contains(const struct pep440_specset *s, const struct pep440_version *v, const char *text,
                            int allow_pre)
{
    if (pep440_is_prerelease(v) && !allow_pre && !pep440_specset_allows_pre(s))
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (!clause_contains(&s->clauses[i], v, text))
            return 0;
    return 1;
}

int pep440_specset_allows_pre(const struct pep440_specset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        enum pep440_op op = s->clauses[i].op;
        if ((op == PEP440_EQ || op == PEP440_GE || op == PEP440_LE || op == PEP440_COMPAT || op == PEP440_ARBITRARY) &&
            !s->clauses[i].wildcard && op != PEP440_ARBITRARY && pep440_is_prerelease(&s->clauses[i].v))
            return 1;
    }
    return 0;
}

void pep440_specset_format(char *out, size_t size, const struct pep440_specset *s)
{
    size_t o = 0;
    if (!size)
        return;
    out[0] = '\0';
    for (size_t i = 0; i < s->n && o + 1 < size; i++) {
        const struct pep440_clause *c = &s->clauses[i];
        char v[PEP440_MAX_TEXT + 8];
        if (c->op == PEP440_ARBITRARY)
            snprintf(v, sizeof v, "%s", c->text);
        else
            pep440_format(v, sizeof v, &c->v);
        int w = snprintf(out + o, size - o, "%s%s%s%s", i ? "," : "", op_text[c->op], v, c->wildcard ? ".*" : "");
        o += w > 0 ? (size_t)w : 0;
    }
    if (o >= size)
        out[size - 1] = '\0';
}
