#include "spec.h"

#include "common/err.h"
#include "fsutil.h"
#include "spec_sections.h"
#include "yaml_tree.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const top_fields[] = {"models", "inference", "environment", "service", "output", NULL};
static const char *const model_fields[] = {"name", "version", "path", "framework", "tags", NULL};
static const char *const output_fields[] = {"name", "tag", NULL};

int spec_valid_model_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 255 || !isalnum((unsigned char)name[0]))
        return 0;
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '-' && c != '.' && c != '_')
            return 0;
    }
    return 1;
}

/* [a-z0-9]+([._-][a-z0-9]+)* per component, components joined by '/'. */
int spec_valid_image_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 255)
        return 0;
    int need_alnum = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            need_alnum = 0;
        } else if (c == '.' || c == '_' || c == '-' || c == '/') {
            if (need_alnum)
                return 0;
            need_alnum = 1;
        } else {
            return 0;
        }
    }
    return !need_alnum;
}

int spec_valid_tag(const char *tag)
{
    size_t n = strlen(tag);
    if (n == 0 || n > 128 || tag[0] == '.' || tag[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tag[i];
        if (!isalnum(c) && c != '_' && c != '.' && c != '-')
            return 0;
    }
    return 1;
}

void spec_free(struct spec *spec)
{
    if (!spec)
        return;
    for (size_t i = 0; i < spec->n_models; i++) {
        free(spec->models[i].name);
        free(spec->models[i].path);
        free(spec->models[i].framework);
    }
    free(spec->models);
    free(spec->file);
    free(spec->dir);
    free(spec->image_name);
    free(spec->image_tag);
    spec_sections_release(spec);
    free(spec);
}

static int read_model(struct spec *spec, struct yaml_tree *t, yaml_node_t *node, size_t index)
{
    char field[64];
    snprintf(field, sizeof field, "models[%zu]", index);
    int rc = yaml_tree_check_keys(t, node, field, model_fields);
    if (rc)
        return rc;
    struct spec_model *m = &spec->models[index];
    m->line = yaml_tree_line(node);
    char sub[96];
    const char *s;

    yaml_node_t *name = yaml_tree_get(t, node, "name");
    if (!name)
        return err_set(ERR_INVALID, "%s:%d: %s.name: required field is missing", t->file, m->line, field);
    snprintf(sub, sizeof sub, "%s.name", field);
    if ((rc = yaml_tree_string(t, name, sub, &s)))
        return rc;
    if (!spec_valid_model_name(s))
        return err_set(ERR_INVALID,
                       "%s:%d: %s: '%s' is not a valid model name (letters, digits, '-', '.', '_'; "
                       "starting with a letter or digit; at most 255 characters)",
                       t->file, yaml_tree_line(name), sub, s);
    if (!(m->name = strdup(s)))
        return err_set(ERR_NOMEM, "out of memory");

    yaml_node_t *version = yaml_tree_get(t, node, "version");
    if (!version)
        return err_set(ERR_INVALID, "%s:%d: %s.version: required field is missing", t->file, m->line, field);
    snprintf(sub, sizeof sub, "%s.version", field);
    if ((rc = yaml_tree_int(t, version, sub, 1, 2147483647, &m->version)))
        return rc;

    yaml_node_t *path = yaml_tree_get(t, node, "path");
    if (!path)
        return err_set(ERR_INVALID, "%s:%d: %s.path: required field is missing", t->file, m->line, field);
    snprintf(sub, sizeof sub, "%s.path", field);
    if ((rc = yaml_tree_string(t, path, sub, &s)))
        return rc;
    if (!(m->path = fs_resolve(spec->dir, s)))
        return err_set(ERR_NOMEM, "out of memory");
    struct stat st;
    if (stat(m->path, &st) != 0)
        return err_set(ERR_NOTFOUND, "%s:%d: %s: no such file or directory '%s'", t->file, yaml_tree_line(path),
                       sub, m->path);
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return err_set(ERR_INVALID, "%s:%d: %s: '%s' is neither a file nor a directory", t->file,
                       yaml_tree_line(path), sub, m->path);
    m->is_dir = S_ISDIR(st.st_mode);

    yaml_node_t *framework = yaml_tree_get(t, node, "framework");
    if (framework) {
        snprintf(sub, sizeof sub, "%s.framework", field);
        if ((rc = yaml_tree_string(t, framework, sub, &s)))
            return rc;
        if (!(m->framework = strdup(s)))
            return err_set(ERR_NOMEM, "out of memory");
    }
    yaml_node_t *tags = yaml_tree_get(t, node, "tags");
    if (tags) {
        snprintf(sub, sizeof sub, "%s.tags", field);
        if ((rc = yaml_tree_expect(t, tags, YAML_MAPPING_NODE, sub)))
            return rc;
    }
    for (size_t i = 0; i < index; i++)
        if (!strcmp(spec->models[i].name, m->name) && spec->models[i].version == m->version)
            return err_set(ERR_INVALID, "%s:%d: %s: model %s:%lld is listed twice (first on line %d)", t->file,
                           m->line, field, m->name, m->version, spec->models[i].line);
    return 0;
}

static int read_output(struct spec *spec, struct yaml_tree *t, yaml_node_t *node)
{
    int rc = yaml_tree_check_keys(t, node, "output", output_fields);
    if (rc)
        return rc;
    const char *s;
    yaml_node_t *name = yaml_tree_get(t, node, "name");
    if (name) {
        if ((rc = yaml_tree_string(t, name, "output.name", &s)))
            return rc;
        if (!spec_valid_image_name(s))
            return err_set(ERR_INVALID,
                           "%s:%d: output.name: '%s' is not a valid image name (lower-case letters, digits, "
                           "'.', '_', '-' and '/')",
                           t->file, yaml_tree_line(name), s);
        if (!(spec->image_name = strdup(s)))
            return err_set(ERR_NOMEM, "out of memory");
    }
    yaml_node_t *tag = yaml_tree_get(t, node, "tag");
    if (tag) {
        if ((rc = yaml_tree_string(t, tag, "output.tag", &s)))
            return rc;
        if (!spec_valid_tag(s))
            return err_set(ERR_INVALID, "%s:%d: output.tag: '%s' is not a valid tag", t->file,
                           yaml_tree_line(tag), s);
        if (!(spec->image_tag = strdup(s)))
            return err_set(ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* Image name and tag default to the first model: lower-cased, with characters
 * outside the image-name alphabet turned into '-'. */
int spec_finish(struct spec *spec)
{
    const struct spec_model *first = &spec->models[0];
    if (!spec->image_name) {
        char *n = strdup(first->name);
        if (!n)
            return err_set(ERR_NOMEM, "out of memory");
        for (char *p = n; *p; p++) {
            *p = (char)tolower((unsigned char)*p);
            if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
                *p = '-';
        }
        spec->image_name = n;
        if (!spec_valid_image_name(n))
            return err_set(ERR_INVALID, "%s: cannot derive an image name from model '%s'; set output.name",
                           spec->file, first->name);
    }
    if (!spec->image_tag) {
        char tag[32];
        snprintf(tag, sizeof tag, "%lld", first->version);
        if (!(spec->image_tag = strdup(tag)))
            return err_set(ERR_NOMEM, "out of memory");
    }
    return 0;
}

int spec_load(struct spec **out, const char *path)
{
    *out = NULL;
    struct yaml_tree t;
    int rc = yaml_tree_load(&t, path);
    if (rc)
        return rc;
    struct spec *spec = calloc(1, sizeof *spec);
    if (!spec || !(spec->file = strdup(path)) || !(spec->dir = fs_dirname(path))) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    yaml_node_t *root = yaml_tree_root(&t);
    if ((rc = yaml_tree_check_keys(&t, root, "", top_fields)))
        goto done;
    /* Known to the v1 schema, not yet built into this version: refuse rather than ignore. */
    static const char *const pending[] = {"environment", NULL};
    for (size_t i = 0; pending[i]; i++) {
        yaml_node_t *n = yaml_tree_key(&t, root, pending[i]);
        if (n) {
            rc = err_set(ERR_UNSUPPORTED, "%s:%d: %s: not supported by this version of amlpkg yet", path,
                         yaml_tree_line(n), pending[i]);
            goto done;
        }
    }
    yaml_node_t *models = yaml_tree_get(&t, root, "models");
    if (!models) {
        rc = err_set(ERR_INVALID, "%s:%d: models: required field is missing", path, yaml_tree_line(root));
        goto done;
    }
    if ((rc = yaml_tree_expect(&t, models, YAML_SEQUENCE_NODE, "models")))
        goto done;
    size_t n = (size_t)(models->data.sequence.items.top - models->data.sequence.items.start);
    if (n == 0 || n > SPEC_MAX_MODELS) {
        rc = err_set(ERR_INVALID, "%s:%d: models: expected 1 to %d models, found %zu", path,
                     yaml_tree_line(models), SPEC_MAX_MODELS, n);
        goto done;
    }
    spec->models = calloc(n, sizeof *spec->models);
    if (!spec->models) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        yaml_node_t *item = yaml_document_get_node(&t.doc, models->data.sequence.items.start[i]);
        spec->n_models = i + 1;
        rc = read_model(spec, &t, item, i);
    }
    if (rc)
        goto done;
    yaml_node_t *output = yaml_tree_get(&t, root, "output");
    if (output && (rc = read_output(spec, &t, output)))
        goto done;
    yaml_node_t *inference = yaml_tree_get(&t, root, "inference");
    if (inference && (rc = spec_read_inference(spec, &t, inference)))
        goto done;
    yaml_node_t *service = yaml_tree_get(&t, root, "service");
    if (service && (rc = spec_read_service(spec, &t, service)))
        goto done;
    rc = spec_finish(spec);
done:
    yaml_tree_release(&t);
    if (rc)
        spec_free(spec);
    else
        *out = spec;
    return rc;
}
