/* A loaded YAML document with helpers that report "file:line: field: problem".
 *
 * Wraps libyaml's document API: the whole file is parsed into nodes that keep
 * their source positions, so every later validation error can name the line.
 * struct yaml_tree is caller-owned (yaml_tree_load/yaml_tree_release); nodes
 * and the strings the getters return are borrowed from it. */
#ifndef AMLPKG_YAML_TREE_H
#define AMLPKG_YAML_TREE_H

#include <yaml.h>

struct yaml_tree {
    yaml_document_t doc;
    int loaded;
    char *file;
};

/* Largest spec or environment file we read. */
#define YAML_TREE_MAX_BYTES (4u << 20)
/* Deepest nesting and most values (scalars, collections, aliases) in one file:
 * far beyond any spec or environment file, refused before the document is built. */
#define YAML_TREE_MAX_DEPTH 64
#define YAML_TREE_MAX_NODES 200000

int yaml_tree_load(struct yaml_tree *t, const char *path);
/* Parses text[0..len) as if read from a file called name (for errors). */
int yaml_tree_load_buffer(struct yaml_tree *t, const char *name, const char *text, size_t len);
void yaml_tree_release(struct yaml_tree *t);
yaml_node_t *yaml_tree_root(struct yaml_tree *t);
int yaml_tree_line(const yaml_node_t *node);

/* Rejects keys not in allowed (NULL-terminated) and duplicate keys, with a
 * "did you mean" hint. field is the path of the mapping ("models[0]"). */
int yaml_tree_check_keys(struct yaml_tree *t, yaml_node_t *map, const char *field, const char *const *allowed);
/* Value node for key in a mapping, or NULL. */
yaml_node_t *yaml_tree_get(struct yaml_tree *t, yaml_node_t *map, const char *key);
/* Key node for key in a mapping (for errors about the key itself), or NULL. */
yaml_node_t *yaml_tree_key(struct yaml_tree *t, yaml_node_t *map, const char *key);
/* Typed readers; field names the value in errors. */
int yaml_tree_expect(struct yaml_tree *t, yaml_node_t *node, yaml_node_type_t type, const char *field);
int yaml_tree_string(struct yaml_tree *t, yaml_node_t *node, const char *field, const char **out);
int yaml_tree_int(struct yaml_tree *t, yaml_node_t *node, const char *field, long long min, long long max,
                  long long *out);
int yaml_tree_bool(struct yaml_tree *t, yaml_node_t *node, const char *field, int *out);

#endif
