#include "builder/spec/conda.h"

#include "common/buf.h"
#include "common/err.h"
#include "builder/sys/suggest.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const conda_fields[] = {"name", "channels", "dependencies", "variables", "prefix", NULL};

/* ---- canonical forms ---------------------------------------------------- */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 && !is_space(*s))
            return 1;
    return 0;
}

char *conda_pep503_name(const char *name, size_t len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == '-' || c == '_' || c == '.') {
            if (n == 0 || out[n - 1] != '-')
                out[n++] = '-';
        } else {
            out[n++] = (char)tolower((unsigned char)c);
        }
    }
    out[n] = '\0';
    return out;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts the comma-separated parts of s in place (">=1.2,<2" → "<2,>=1.2"):
 * a comma means "and" for both conda and pip, so order carries no meaning.
 * Only when every part is an operator and a version: anything else is left
 * as written, so the result still reads back as the same thing. */
static int sort_commas(char *s)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    if (n < 2)
        return 0;
    for (const char *p = s; p; p = strchr(p, ',')) {
        if (*p == ',')
            p++;
        if (!*p || !strchr("=<>!~", *p))
            return 0;
    }
    char *copy = strdup(s);
    char **parts = calloc(n, sizeof *parts);
    if (!copy || !parts) {
        free(copy);
        free(parts);
        return ERR_NOMEM;
    }
    size_t k = 0;
    for (char *p = copy, *start = copy;; p++) {
        if (*p == ',' || !*p) {
            int end = !*p;
            *p = '\0';
            parts[k++] = start;
            start = p + 1;
            if (end)
                break;
        }
    }
    qsort(parts, k, sizeof *parts, cmp_str);
    size_t used = 0;
    for (size_t i = 0; i < k; i++) {
        size_t l = strlen(parts[i]);
        if (i)
            s[used++] = ',';
        memcpy(s + used, parts[i], l);
        used += l;
    }
    s[used] = '\0';
    free(parts);
    free(copy);
    return 0;
}

/* Whitespace next to an operator carries no meaning in a version constraint;
 * any other run of whitespace (conda's "name version build") becomes one
 * space. Quoted text is copied as is. */
static int collapse_constraint(struct buf *b, const char *s, const char *ops)
{
    char quote = 0;
    for (const char *p = s; *p;) {
        char c = *p;
        if (quote) {
            if (c == quote)
                quote = 0;
            if (buf_append(b, p++, 1))
                return ERR_NOMEM;
            continue;
        }
        if (c == '"' || c == '\'') {
            quote = c;
            if (buf_append(b, p++, 1))
                return ERR_NOMEM;
            continue;
        }
        if (is_space(c)) {
            while (is_space(*p))
                p++;
            char prev = b->len ? b->data[b->len - 1] : 0;
            char next = *p;
            if (!next || (prev && strchr(ops, prev)) || strchr(ops, next))
                continue;
            if (buf_append(b, " ", 1))
                return ERR_NOMEM;
            continue;
        }
        if (buf_append(b, p++, 1))
            return ERR_NOMEM;
    }
    return 0;
}

static int finish(char **out, struct buf *b, int rc)
{
    if (rc) {
        buf_release(b);
        return rc;
    }
    if (!b->data && buf_append(b, "", 0)) {
        buf_release(b);
        return ERR_NOMEM;
    }
    *out = b->data; /* the buffer's storage becomes the caller's string */
    return 0;
}

int conda_canon_spec(char **out, const char *spec, const char **why)
{
    *out = NULL;
    *why = NULL;
    if (has_control(spec)) {
        *why = "contains a control character";
        return ERR_INVALID;
    }
    struct buf b;
    buf_init(&b, 0);
    int rc = 0;
    const char *p = spec;
    while (is_space(*p))
        p++;
    const char *sep = strstr(p, "::");
    if (sep) {
        const char *end = sep;
        while (end > p && is_space(end[-1]))
            end--;
        if (end == p) {
            *why = "expected a channel name before '::'";
            return finish(out, &b, ERR_INVALID);
        }
        for (const char *q = p; q < end && !rc; q++) {
            char c = (char)tolower((unsigned char)*q);
            if (is_space(c)) {
                *why = "a channel name has no spaces";
                rc = ERR_INVALID;
            } else {
                rc = buf_append(&b, &c, 1);
            }
        }
        if (!rc)
            rc = buf_append(&b, "::", 2);
        if (rc)
            return finish(out, &b, rc);
        p = sep + 2;
        while (is_space(*p))
            p++;
    }
    const char *name = p;
    while (*p && !is_space(*p) && !strchr("=<>!~[(,|", *p))
        p++;
    if (p == name) {
        *why = "expected a package name first";
        return finish(out, &b, ERR_INVALID);
    }
    for (const char *q = name; q < p && !rc; q++) {
        if (!isalnum((unsigned char)*q) && !strchr("-_.+*", *q)) {
            *why = "a package name has only letters, digits and '-', '_', '.', '+', '*'";
            rc = ERR_INVALID;
            break;
        }
        char c = (char)tolower((unsigned char)*q);
        rc = buf_append(&b, &c, 1);
    }
    if (rc)
        return finish(out, &b, rc);
    size_t name_end = b.len;
    while (is_space(*p))
        p++;
    if (*p && !strchr("=<>!~[(,|", *p) && (rc = buf_append(&b, " ", 1)))
        return finish(out, &b, rc);
    size_t constraint = b.len;
    if ((rc = collapse_constraint(&b, p, "=<>!~,|[]()")))
        return finish(out, &b, rc);
    const char *c = b.data ? b.data + constraint : "";
    if (constraint == name_end && c[0] && !strpbrk(c, "| []()'\"") && (rc = sort_commas(b.data + constraint)))
        return finish(out, &b, rc);
    return finish(out, &b, 0);
}

static int is_pip_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

/* "[b, A_x ,a]" → "[a,a-x,b]": extras are names, and their order and
 * repetition carry no meaning. */
static int canon_extras(struct buf *b, const char *p, const char *close, const char **why)
{
    char *names[64];
    size_t n = 0;
    int rc = 0;
    while (p < close && !rc) {
        while (p < close && (is_space(*p) || *p == ','))
            p++;
        const char *s = p;
        while (p < close && *p != ',' && !is_space(*p))
            p++;
        if (p == s)
            break;
        for (const char *x = s; x < p && !rc; x++)
            if (!is_pip_name_char(*x)) {
                *why = "an extra is a name (letters, digits, '-', '_', '.')";
                rc = ERR_INVALID;
            }
        if (!rc && n == sizeof names / sizeof names[0]) {
            *why = "too many extras";
            rc = ERR_INVALID;
        }
        if (!rc && !(names[n++] = conda_pep503_name(s, (size_t)(p - s))))
            rc = ERR_NOMEM;
    }
    if (!rc && n) {
        qsort(names, n, sizeof names[0], cmp_str);
        rc = buf_append(b, "[", 1);
        for (size_t i = 0; i < n && !rc; i++) {
            if (i && !strcmp(names[i], names[i - 1]))
                continue;
            if (i)
                rc = buf_append(b, ",", 1);
            if (!rc)
                rc = buf_append_str(b, names[i]);
        }
        if (!rc)
            rc = buf_append(b, "]", 1);
        if (rc && rc != ERR_INVALID)
            rc = ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    return rc;
}

/* "git+https://...", "https://..." and local paths have no name to normalise. */
static int is_url_or_path(const char *p)
{
    if (*p == '.' || *p == '/' || !strncmp(p, "file:", 5))
        return 1;
    const char *q = p;
    while (isalnum((unsigned char)*q) || *q == '+' || *q == '-' || *q == '.')
        q++;
    return q > p && !strncmp(q, "://", 3);
}

int conda_canon_pip(char **out, const char *req, const char **why)
{
    *out = NULL;
    *why = NULL;
    if (has_control(req)) {
        *why = "contains a control character";
        return ERR_INVALID;
    }
    struct buf b;
    buf_init(&b, 0);
    int rc = 0;
    const char *p = req;
    while (is_space(*p))
        p++;
    /* URLs and local paths have no name to normalise; keep them as written. */
    if (is_url_or_path(p)) {
        rc = collapse_constraint(&b, p, "");
        return finish(out, &b, rc);
    }
    const char *name = p;
    while (is_pip_name_char(*p))
        p++;
    if (p == name || !isalnum((unsigned char)name[0]) || !isalnum((unsigned char)p[-1])) {
        *why = "expected a package name (letters, digits, '-', '_', '.') first";
        return ERR_INVALID;
    }
    char *norm = conda_pep503_name(name, (size_t)(p - name));
    if (!norm || buf_append_str(&b, norm)) {
        free(norm);
        return finish(out, &b, ERR_NOMEM);
    }
    free(norm);
    while (is_space(*p))
        p++;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close) {
            *why = "'[' of the extras is never closed";
            return finish(out, &b, ERR_INVALID);
        }
        rc = canon_extras(&b, p + 1, close, why);
        if (rc)
            return finish(out, &b, rc);
        p = close + 1;
        while (is_space(*p))
            p++;
    }
    if (*p == '@') {
        p++;
        while (is_space(*p))
            p++;
        if (!*p) {
            *why = "expected a URL after '@'";
            return finish(out, &b, ERR_INVALID);
        }
        rc = buf_append_str(&b, " @ ");
        if (!rc)
            rc = collapse_constraint(&b, p, "");
        return finish(out, &b, rc);
    }
    const char *semi = strchr(p, ';');
    const char *spec_end = semi ? semi : p + strlen(p);
    size_t spec_start = b.len;
    for (const char *q = p; q < spec_end && !rc; q++) {
        if (is_space(*q) || *q == '(' || *q == ')')
            continue;
        if (!isalnum((unsigned char)*q) && !strchr("<>=!~.*+,-_", *q)) {
            *why = "unexpected character in the version specifier";
            rc = ERR_INVALID;
            break;
        }
        rc = buf_append(&b, q, 1);
    }
    if (rc)
        return finish(out, &b, rc);
    if (b.len > spec_start) {
        if (!strchr("<>=!~", b.data[spec_start])) {
            *why = "expected a version specifier such as '>=1.2' after the name";
            return finish(out, &b, ERR_INVALID);
        }
        if ((rc = sort_commas(b.data + spec_start)))
            return finish(out, &b, rc);
    }
    if (semi) {
        const char *m = semi + 1;
        while (is_space(*m))
            m++;
        if (!*m) {
            *why = "expected an environment marker after ';'";
            return finish(out, &b, ERR_INVALID);
        }
        rc = buf_append_str(&b, "; ");
        if (!rc)
            rc = collapse_constraint(&b, m, "");
    }
    return finish(out, &b, rc);
}

/* ---- the YAML document --------------------------------------------------- */

static int fail_at(struct yaml_tree *t, const yaml_node_t *n, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(struct yaml_tree *t, const yaml_node_t *n, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(ERR_INVALID, "%s:%d:%d: %s: %s", t->file, (int)n->start_mark.line + 1, (int)n->start_mark.column + 1,
                   field, msg);
}

/* snprintf for field paths; a path too long for the buffer is cut, which only
 * shortens a message. */
static void subfield(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void subfield(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

static const char *type_name(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? "a scalar" : n->type == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
}

static int expect(struct yaml_tree *t, const yaml_node_t *n, yaml_node_type_t type, const char *field)
{
    if (n->type == type)
        return 0;
    const char *want = type == YAML_SCALAR_NODE ? "a string" : type == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
    return fail_at(t, n, field, "expected %s, found %s", want, type_name(n));
}

/* A scalar's text, refusing embedded NULs and (unless allow_empty) emptiness. */
static int scalar_text(struct yaml_tree *t, const yaml_node_t *n, const char *field, int allow_empty, const char **out)
{
    int rc = expect(t, n, YAML_SCALAR_NODE, field);
    if (rc)
        return rc;
    const char *s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length)
        return fail_at(t, n, field, "contains a NUL character");
    const char *p = s;
    while (is_space(*p))
        p++;
    if (!allow_empty && !*p)
        return fail_at(t, n, field, "empty value");
    *out = s;
    return 0;
}

static size_t seq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static char *trimmed(const char *s)
{
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n && is_space(s[n - 1]))
        n--;
    return strndup(s, n);
}

/* Grows *items (of size elem) to hold one more; the list is capped. */
static int grow(void **items, size_t *n, size_t elem, struct yaml_tree *t, const yaml_node_t *at, const char *field)
{
    if (*n >= CONDA_MAX_ITEMS)
        return fail_at(t, at, field, "more than %d entries", CONDA_MAX_ITEMS);
    void *p = realloc(*items, (*n + 1) * elem);
    if (!p)
        return err_set(ERR_NOMEM, "out of memory");
    *items = p;
    memset((char *)p + *n * elem, 0, elem);
    return 0;
}

static int check_keys(struct yaml_tree *t, yaml_node_t *map, const char *field)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *key = yaml_document_get_node(&t->doc, p->key);
        if (!key || key->type != YAML_SCALAR_NODE)
            return key ? fail_at(t, key, field, "keys must be plain names")
                       : err_set(ERR_INVALID, "%s: %s: keys must be plain names", t->file, field);
        const char *name = (const char *)key->data.scalar.value;
        int known = 0;
        for (size_t i = 0; conda_fields[i] && !known; i++)
            known = !strcmp(conda_fields[i], name);
        if (!known) {
            const char *hint = suggest_closest(name, conda_fields);
            if (hint)
                return fail_at(t, key, field, "unknown field '%s' (did you mean '%s'?)", name, hint);
            if (suggest_quotable(name))
                return fail_at(t, key, field, "unknown field '%s'", name);
            return fail_at(t, key, field, "an unknown field (not a plain name, so not repeated)");
        }
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k = yaml_document_get_node(&t->doc, q->key);
            if (k && k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, name))
                return fail_at(t, key, field, "duplicate field '%s' (first set on line %d)", name, yaml_tree_line(k));
        }
    }
    return 0;
}

static int add_dep(struct conda_dep **list, size_t *n, struct yaml_tree *t, yaml_node_t *item, const char *field,
                   int pip)
{
    const char *s;
    int rc = scalar_text(t, item, field, 0, &s);
    if (rc || (rc = grow((void **)list, n, sizeof **list, t, item, field)))
        return rc;
    struct conda_dep *d = &(*list)[*n];
    const char *why = NULL;
    d->line = yaml_tree_line(item);
    d->column = (int)item->start_mark.column + 1;
    if (!(d->text = trimmed(s)))
        return err_set(ERR_NOMEM, "out of memory");
    (*n)++;
    rc = pip ? conda_canon_pip(&d->canon, d->text, &why) : conda_canon_spec(&d->canon, d->text, &why);
    if (rc == ERR_NOMEM)
        return err_set(ERR_NOMEM, "out of memory");
    if (rc)
        return fail_at(t, item, field, "not a valid package spec: %s", why ? why : "malformed");
    return 0;
}

/* pip options: "--index-url URL" and friends are kept in order; files named
 * by -r/-c/-e would change the environment without changing the key. */
static int add_pip_option(struct conda_env *env, struct yaml_tree *t, yaml_node_t *item, const char *field,
                          const char *text)
{
    static const char *const file_options[] = {"-r", "--requirement", "-c", "--constraint", "-e", "--editable", NULL};
    for (size_t i = 0; file_options[i]; i++) {
        size_t l = strlen(file_options[i]);
        if (!strncmp(text, file_options[i], l) && (l == 2 || !text[l] || is_space(text[l]) || text[l] == '='))
            return fail_at(t, item, field,
                           "'%s' names a file whose contents amlpkg cannot key; list the packages instead",
                           file_options[i]);
    }
    int rc = grow((void **)&env->pip_options, &env->n_pip_options, sizeof *env->pip_options, t, item, field);
    if (rc)
        return rc;
    struct buf b;
    buf_init(&b, 0);
    if (collapse_constraint(&b, text, "=") || buf_append(&b, "", 0)) {
        buf_release(&b);
        return err_set(ERR_NOMEM, "out of memory");
    }
    env->pip_options[env->n_pip_options++] = b.data;
    return 0;
}

static int read_pip(struct conda_env *env, struct yaml_tree *t, yaml_node_t *list, const char *field)
{
    int rc = expect(t, list, YAML_SEQUENCE_NODE, field);
    for (size_t i = 0; !rc && i < seq_len(list); i++) {
        yaml_node_t *item = yaml_document_get_node(&t->doc, list->data.sequence.items.start[i]);
        char sub[300];
        subfield(sub, sizeof sub, "%s[%zu]", field, i);
        const char *s;
        if ((rc = scalar_text(t, item, sub, 0, &s)))
            break;
        while (is_space(*s))
            s++;
        if (*s == '-') {
            char *text = trimmed(s);
            rc = text ? add_pip_option(env, t, item, sub, text) : err_set(ERR_NOMEM, "out of memory");
            free(text);
        } else {
            rc = add_dep(&env->pip, &env->n_pip, t, item, sub, 1);
        }
    }
    return rc;
}

static int read_dependencies(struct conda_env *env, struct yaml_tree *t, yaml_node_t *list, const char *field)
{
    int rc = expect(t, list, YAML_SEQUENCE_NODE, field);
    for (size_t i = 0; !rc && i < seq_len(list); i++) {
        yaml_node_t *item = yaml_document_get_node(&t->doc, list->data.sequence.items.start[i]);
        char sub[256];
        subfield(sub, sizeof sub, "%s[%zu]", field, i);
        if (item->type == YAML_SCALAR_NODE) {
            rc = add_dep(&env->deps, &env->n_deps, t, item, sub, 0);
            continue;
        }
        if (item->type != YAML_MAPPING_NODE)
            return fail_at(t, item, sub, "expected a package spec or a 'pip:' list, found a list");
        for (yaml_node_pair_t *p = item->data.mapping.pairs.start; !rc && p < item->data.mapping.pairs.top; p++) {
            yaml_node_t *key = yaml_document_get_node(&t->doc, p->key);
            yaml_node_t *value = yaml_document_get_node(&t->doc, p->value);
            if (!key || !value)
                return err_set(ERR_INVALID, "%s: %s: malformed entry", t->file, sub);
            if (key->type != YAML_SCALAR_NODE || strcmp((const char *)key->data.scalar.value, "pip")) {
                static const char *const only_pip[] = {"pip", NULL};
                const char *name = key->type == YAML_SCALAR_NODE ? (const char *)key->data.scalar.value : "?";
                const char *hint = suggest_closest(name, only_pip);
                if (hint)
                    return fail_at(t, key, sub, "unknown entry '%s' (did you mean 'pip'?)", name);
                if (suggest_quotable(name))
                    return fail_at(t, key, sub, "unknown entry '%s'; only 'pip:' lists may nest here", name);
                return fail_at(t, key, sub, "an unknown entry (not a plain name, so not repeated); only 'pip:' lists may "
                                            "nest here");
            }
            char pip_field[300];
            subfield(pip_field, sizeof pip_field, "%s.pip", sub);
            rc = read_pip(env, t, value, pip_field);
        }
    }
    return rc;
}

int conda_valid_var_name(const char *s)
{
    if (!isalpha((unsigned char)s[0]) && s[0] != '_')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static int read_variables(struct conda_env *env, struct yaml_tree *t, yaml_node_t *map, const char *field)
{
    int rc = expect(t, map, YAML_MAPPING_NODE, field);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; !rc && p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *key = yaml_document_get_node(&t->doc, p->key);
        yaml_node_t *value = yaml_document_get_node(&t->doc, p->value);
        const char *name, *v;
        if (!key || !value)
            return err_set(ERR_INVALID, "%s: %s: malformed entry", t->file, field);
        if ((rc = scalar_text(t, key, field, 0, &name)))
            break;
        char sub[300];
        subfield(sub, sizeof sub, "%s.%s", field, name);
        if (!conda_valid_var_name(name))
            return fail_at(t, key, sub, "not a valid variable name (letters, digits and '_')");
        for (size_t i = 0; i < env->n_vars; i++)
            if (!strcmp(env->vars[i].name, name))
                return fail_at(t, key, sub, "set twice");
        if ((rc = scalar_text(t, value, sub, 1, &v)))
            break;
        if ((rc = grow((void **)&env->vars, &env->n_vars, sizeof *env->vars, t, key, field)))
            break;
        struct conda_var *cv = &env->vars[env->n_vars++];
        if (!(cv->name = strdup(name)) || !(cv->value = strdup(v)))
            rc = err_set(ERR_NOMEM, "out of memory");
    }
    return rc;
}

static int read_channels(struct conda_env *env, struct yaml_tree *t, yaml_node_t *list, const char *field)
{
    int rc = expect(t, list, YAML_SEQUENCE_NODE, field);
    for (size_t i = 0; !rc && i < seq_len(list); i++) {
        yaml_node_t *item = yaml_document_get_node(&t->doc, list->data.sequence.items.start[i]);
        char sub[256];
        subfield(sub, sizeof sub, "%s[%zu]", field, i);
        const char *s;
        if ((rc = scalar_text(t, item, sub, 0, &s)))
            break;
        if (has_control(s) || strpbrk(s, " \t"))
            return fail_at(t, item, sub, "a channel is a name or URL without spaces");
        if ((rc = grow((void **)&env->channels, &env->n_channels, sizeof *env->channels, t, item, sub)))
            break;
        if (!(env->channels[env->n_channels] = trimmed(s)))
            return err_set(ERR_NOMEM, "out of memory");
        env->n_channels++;
    }
    return rc;
}

int conda_from_node(struct conda_env **out, struct yaml_tree *t, yaml_node_t *node, const char *field)
{
    *out = NULL;
    const char *doc_field = field && field[0] ? field : "document";
    struct conda_env *env = calloc(1, sizeof *env);
    if (!env)
        return err_set(ERR_NOMEM, "out of memory");
    int rc = expect(t, node, YAML_MAPPING_NODE, doc_field);
    if (!rc)
        rc = check_keys(t, node, doc_field);
    char sub[256];
    const char *dot = field && field[0] ? "." : "";
    const char *pre = field ? field : "";
    yaml_node_t *n;
    if (!rc && (n = yaml_tree_get(t, node, "name"))) {
        subfield(sub, sizeof sub, "%s%sname", pre, dot);
        const char *s;
        if (!(rc = scalar_text(t, n, sub, 0, &s)) && !(env->name = trimmed(s)))
            rc = err_set(ERR_NOMEM, "out of memory");
    }
    if (!rc && (n = yaml_tree_get(t, node, "prefix"))) {
        subfield(sub, sizeof sub, "%s%sprefix", pre, dot);
        const char *s;
        rc = scalar_text(t, n, sub, 1, &s);
    }
    if (!rc && (n = yaml_tree_get(t, node, "channels"))) {
        subfield(sub, sizeof sub, "%s%schannels", pre, dot);
        rc = read_channels(env, t, n, sub);
    }
    if (!rc && (n = yaml_tree_get(t, node, "dependencies"))) {
        subfield(sub, sizeof sub, "%s%sdependencies", pre, dot);
        rc = read_dependencies(env, t, n, sub);
    }
    if (!rc && (n = yaml_tree_get(t, node, "variables"))) {
        subfield(sub, sizeof sub, "%s%svariables", pre, dot);
        rc = read_variables(env, t, n, sub);
    }
    if (rc)
        conda_free(env);
    else
        *out = env;
    return rc;
}

int conda_load(struct conda_env **out, const char *path)
{
    *out = NULL;
    struct yaml_tree t;
    int rc = yaml_tree_load(&t, path);
    if (rc)
        return rc;
    rc = conda_from_node(out, &t, yaml_tree_root(&t), NULL);
    yaml_tree_release(&t);
    return rc;
}

int conda_load_buffer(struct conda_env **out, const char *name, const char *text, size_t len)
{
    *out = NULL;
    struct yaml_tree t;
    int rc = yaml_tree_load_buffer(&t, name, text, len);
    if (rc)
        return rc;
    rc = conda_from_node(out, &t, yaml_tree_root(&t), NULL);
    yaml_tree_release(&t);
    return rc;
}

static void free_deps(struct conda_dep *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(d[i].text);
        free(d[i].canon);
    }
    free(d);
}

void conda_free(struct conda_env *env)
{
    if (!env)
        return;
    free(env->name);
    for (size_t i = 0; i < env->n_channels; i++)
        free(env->channels[i]);
    free(env->channels);
    free_deps(env->deps, env->n_deps);
    free_deps(env->pip, env->n_pip);
    for (size_t i = 0; i < env->n_pip_options; i++)
        free(env->pip_options[i]);
    free(env->pip_options);
    for (size_t i = 0; i < env->n_vars; i++) {
        free(env->vars[i].name);
        free(env->vars[i].value);
    }
    free(env->vars);
    free(env);
}
