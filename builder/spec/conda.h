/* Conda environment files (environment.yml / conda_dependencies.yml).
 *
 * Reads the parts that decide what gets installed: name, channels (in order:
 * conda gives earlier channels priority), dependencies (conda match specs, and
 * the pip requirements of a nested "- pip: [...]" entry) and variables. Each
 * dependency keeps its text as written and a canonical form (conda_canon_spec /
 * conda_canon_pip) that the environment key uses, so "numpy >=1.20" and
 * "NumPy>=1.20" mean the same thing. A malformed file is reported as
 * "file:line:column: field: problem".
 *
 * A conda_env comes from conda_load / conda_load_buffer / conda_from_node and
 * is freed with conda_free; all strings in it are owned by it. */
#ifndef AMLPKG_CONDA_H
#define AMLPKG_CONDA_H

#include "builder/spec/yaml_tree.h"

#include <stddef.h>

struct conda_dep {
    char *text;  /* as written, trimmed */
    char *canon; /* canonical form for the environment key */
    int line, column;
};

struct conda_var {
    char *name;
    char *value;
};

struct conda_env {
    char *name; /* may be NULL; not part of the environment key */
    char **channels;
    size_t n_channels;
    struct conda_dep *deps; /* conda match specs */
    size_t n_deps;
    struct conda_dep *pip; /* pip requirements from "- pip: [...]" */
    size_t n_pip;
    char **pip_options; /* pip options such as "--extra-index-url URL", in order */
    size_t n_pip_options;
    struct conda_var *vars;
    size_t n_vars;
};

/* Most entries in any one list; far above real environments. */
#define CONDA_MAX_ITEMS 10000

int conda_load(struct conda_env **out, const char *path);
/* Parses text as a conda file named name (for messages); used by tests and fuzzing. */
int conda_load_buffer(struct conda_env **out, const char *name, const char *text, size_t len);
/* Reads a conda mapping that sits inside another YAML document (the spec's
 * inline environment.conda); field prefixes the names in errors. */
int conda_from_node(struct conda_env **out, struct yaml_tree *t, yaml_node_t *node, const char *field);
void conda_free(struct conda_env *env);

/* Canonical forms (malloc'd into *out). On a malformed entry they return
 * ERR_INVALID and set *why to a static explanation, without touching err_set,
 * so callers can add the position. */
int conda_canon_spec(char **out, const char *spec, const char **why);
int conda_canon_pip(char **out, const char *req, const char **why);
/* An environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
int conda_valid_var_name(const char *s);
/* PEP 503 project name normalisation: lower case, runs of "-_." become "-". */
char *conda_pep503_name(const char *name, size_t len);

#endif
