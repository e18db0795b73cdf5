#include "builder/spec/yaml_tree.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/parse_number.h"
#include "builder/sys/suggest.h"

#include <stdlib.h>
#include <string.h>

/* Nesting and size limits, checked on the event stream before the document is
 * built: libyaml's scanner costs time quadratic in the nesting depth (200 KB of
 * '[' is 40 s of CPU), and the stream stops here at the first event too deep. */
static int check_limits(const char *name, const char *text, size_t len)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return err_set(ERR_NOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0, depth = 0, done = 0;
    long nodes = 0;
    while (!rc && !done) {
        yaml_event_t e;
        if (!yaml_parser_parse(&parser, &e))
            break; /* a syntax error: the loader reports it with its position */
        int opens = e.type == YAML_SEQUENCE_START_EVENT || e.type == YAML_MAPPING_START_EVENT;
        int value = opens || e.type == YAML_SCALAR_EVENT || e.type == YAML_ALIAS_EVENT;
        depth += opens - (e.type == YAML_SEQUENCE_END_EVENT || e.type == YAML_MAPPING_END_EVENT);
        done = e.type == YAML_STREAM_END_EVENT;
        if (depth > YAML_TREE_MAX_DEPTH)
            rc = err_set(ERR_LIMIT, "%s:%zu:%zu: nested deeper than %d levels", name, e.start_mark.line + 1,
                         e.start_mark.column + 1, YAML_TREE_MAX_DEPTH);
        else if (value && ++nodes > YAML_TREE_MAX_NODES)
            rc = err_set(ERR_LIMIT, "%s:%zu:%zu: more than %d values", name, e.start_mark.line + 1,
                         e.start_mark.column + 1, YAML_TREE_MAX_NODES);
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&parser);
    return rc;
}

static int parse_text(struct yaml_tree *t, const char *name, const char *text, size_t len)
{
    int limits = check_limits(name, text, len);
    if (limits)
        return limits;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return err_set(ERR_NOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &t->doc)) {
        const yaml_mark_t *m = parser.context ? &parser.context_mark : &parser.problem_mark;
        if (parser.problem_mark.line || parser.problem_mark.column)
            m = &parser.problem_mark;
        int rc = err_set(ERR_PARSE, "%s:%zu:%zu: %s%s%s", name, m->line + 1, m->column + 1,
                         parser.problem ? parser.problem : "invalid YAML", parser.context ? " " : "",
                         parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_parser_delete(&parser);
    t->loaded = 1;
    if (!yaml_document_get_root_node(&t->doc))
        return err_set(ERR_PARSE, "%s: the file is empty", name);
    return 0;
}

int yaml_tree_load(struct yaml_tree *t, const char *path)
{
    memset(t, 0, sizeof *t);
    t->file = strdup(path);
    if (!t->file)
        return err_set(ERR_NOMEM, "out of memory");
    struct buf text;
    buf_init(&text, YAML_TREE_MAX_BYTES);
    int rc = buf_read_file(&text, path);
    if (!rc)
        rc = parse_text(t, path, text.data, text.len);
    buf_release(&text);
    if (rc)
        yaml_tree_release(t);
    return rc;
}

int yaml_tree_load_buffer(struct yaml_tree *t, const char *name, const char *text, size_t len)
{
    memset(t, 0, sizeof *t);
    t->file = strdup(name);
    if (!t->file)
        return err_set(ERR_NOMEM, "out of memory");
    int rc = len > YAML_TREE_MAX_BYTES ? err_set(ERR_LIMIT, "%s: larger than %u bytes", name, YAML_TREE_MAX_BYTES)
                                       : parse_text(t, name, text, len);
    if (rc)
        yaml_tree_release(t);
    return rc;
}

void yaml_tree_release(struct yaml_tree *t)
{
    if (t->loaded)
        yaml_document_delete(&t->doc);
    t->loaded = 0;
    free(t->file);
    t->file = NULL;
}

yaml_node_t *yaml_tree_root(struct yaml_tree *t)
{
    return yaml_document_get_root_node(&t->doc);
}

int yaml_tree_line(const yaml_node_t *node)
{
    return (int)node->start_mark.line + 1;
}

static const char *node_type_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "empty";
    }
}

int yaml_tree_expect(struct yaml_tree *t, yaml_node_t *node, yaml_node_type_t type, const char *field)
{
    if (node->type == type)
        return 0;
    const char *want = type == YAML_MAPPING_NODE ? "a mapping" : type == YAML_SEQUENCE_NODE ? "a list" : "a scalar";
    return err_set(ERR_INVALID, "%s:%d: %s: expected %s, found %s", t->file, yaml_tree_line(node), field, want,
                   node_type_name(node));
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

int yaml_tree_check_keys(struct yaml_tree *t, yaml_node_t *map, const char *field, const char *const *allowed)
{
    int rc = yaml_tree_expect(t, map, YAML_MAPPING_NODE, field[0] ? field : "document");
    if (rc)
        return rc;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *key = yaml_document_get_node(&t->doc, p->key);
        if (!key || key->type != YAML_SCALAR_NODE)
            return err_set(ERR_INVALID, "%s:%d: %s: keys must be plain names", t->file, key ? yaml_tree_line(key) : 0,
                           field[0] ? field : "document");
        const char *name = scalar(key);
        int known = 0;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(allowed[i], name) == 0;
        const char *dot = field[0] ? "." : "";
        if (!known) {
            const char *hint = suggest_closest(name, allowed);
            if (hint)
                return err_set(ERR_INVALID, "%s:%d: %s%s%s: unknown field (did you mean '%s'?)", t->file,
                               yaml_tree_line(key), field, dot, name, hint);
            if (suggest_quotable(name))
                return err_set(ERR_INVALID, "%s:%d: %s%s%s: unknown field", t->file, yaml_tree_line(key), field, dot,
                               name);
            /* Not quoted: the file may not be the user's (a condaFile naming /etc/shadow). */
            return err_set(ERR_INVALID, "%s:%d: %s: an unknown field (not a plain name, so not repeated)", t->file,
                           yaml_tree_line(key), field[0] ? field : "document");
        }
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *earlier = yaml_document_get_node(&t->doc, q->key);
            if (earlier && earlier->type == YAML_SCALAR_NODE && strcmp(scalar(earlier), name) == 0)
                return err_set(ERR_INVALID, "%s:%d: %s%s%s: duplicate field (first set on line %d)", t->file,
                               yaml_tree_line(key), field, dot, name, yaml_tree_line(earlier));
        }
    }
    return 0;
}

static yaml_node_pair_t *find_pair(struct yaml_tree *t, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&t->doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp(scalar(k), key) == 0)
            return p;
    }
    return NULL;
}

yaml_node_t *yaml_tree_get(struct yaml_tree *t, yaml_node_t *map, const char *key)
{
    yaml_node_pair_t *p = find_pair(t, map, key);
    return p ? yaml_document_get_node(&t->doc, p->value) : NULL;
}

yaml_node_t *yaml_tree_key(struct yaml_tree *t, yaml_node_t *map, const char *key)
{
    yaml_node_pair_t *p = find_pair(t, map, key);
    return p ? yaml_document_get_node(&t->doc, p->key) : NULL;
}

int yaml_tree_string(struct yaml_tree *t, yaml_node_t *node, const char *field, const char **out)
{
    int rc = yaml_tree_expect(t, node, YAML_SCALAR_NODE, field);
    if (rc)
        return rc;
    if (strlen(scalar(node)) != node->data.scalar.length)
        return err_set(ERR_INVALID, "%s:%d: %s: contains a NUL character", t->file, yaml_tree_line(node), field);
    *out = scalar(node);
    return 0;
}

int yaml_tree_int(struct yaml_tree *t, yaml_node_t *node, const char *field, long long min, long long max,
                  long long *out)
{
    const char *s;
    int rc = yaml_tree_string(t, node, field, &s);
    if (rc)
        return rc;
    char what[512];
    snprintf(what, sizeof what, "%s:%d: %s", t->file, yaml_tree_line(node), field);
    return parse_number_int(out, what, s, min, max);
}

int yaml_tree_bool(struct yaml_tree *t, yaml_node_t *node, const char *field, int *out)
{
    const char *s;
    int rc = yaml_tree_string(t, node, field, &s);
    if (rc)
        return rc;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "yes")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "no")) {
        *out = 0;
        return 0;
    }
    return err_set(ERR_INVALID, "%s:%d: %s: expected true or false, found another scalar", t->file,
                   yaml_tree_line(node), field);
}
