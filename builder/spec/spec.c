#include "builder/spec/spec.h"

#include "common/err.h"
#include "builder/spec/conda.h"
#include "builder/spec/conda_lockfile.h"
#include "builder/sys/fsutil.h"
#include "builder/spec/deployment_config.h"
#include "builder/spec/spec_sections.h"
#include "builder/spec/yaml_tree.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const char *const top_fields[] = {"models", "inference", "environment", "service", "output", NULL};
static const char *const model_fields[] = {"name", "version", "path", "framework", "method", "tags", NULL};
static const char *const output_fields[] = {"name", "tag", NULL};
static const char *const environment_fields[] = {"name", "conda_file", "conda",  "base_image", "docker_steps",
                                                 "env",  "gpu",        "python", "lock_file", "allow_scripts",
                                                 NULL};
static const char *const gpu_fields[] = {"enabled", "cuda_version", NULL};
static const char *const python_fields[] = {"interpreter_path", "user_managed", NULL};

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

int spec_framework_is_sklearn(const char *framework)
{
    return framework && (!strcasecmp(framework, "scikit-learn") || !strcasecmp(framework, "sklearn") ||
                         !strcasecmp(framework, "scikitlearn"));
}

int spec_framework_valid(const char *framework)
{
    static const char *const azure[] = {"Custom", "Multi", "Onnx", "PyTorch", "ScikitLearn", "TensorFlow", NULL};
    for (size_t i = 0; azure[i]; i++)
        if (!strcasecmp(framework, azure[i]))
            return 1;
    return spec_framework_is_sklearn(framework);
}

static const char *const method_names[] = {"predict", "predict_proba", "both"};

int spec_method_parse(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, method_names[i]))
            return i;
    return -1;
}

const char *spec_method_name(enum spec_method m)
{
    return (unsigned)m < 3 ? method_names[m] : "?";
}

void spec_free(struct spec *spec)
{
    if (!spec)
        return;
    for (size_t i = 0; i < spec->n_models; i++) {
        free(spec->models[i].name);
        free(spec->models[i].path);
        free(spec->models[i].framework);
        free(spec->models[i].source_path);
    }
    if (spec->generated_dir)
        fs_remove_tree(spec->generated_dir);
    free(spec->generated_dir);
    free(spec->models);
    free(spec->file);
    free(spec->dir);
    free(spec->image_name);
    free(spec->image_tag);
    spec_sections_release(spec);
    deployment_config_release(&spec->deploy);
    struct spec_environment *e = &spec->environment;
    free(e->name);
    free(e->conda_file);
    free(e->lock_file);
    conda_free(e->conda);
    free(e->base_image);
    for (size_t i = 0; i < e->n_docker_steps; i++)
        free(e->docker_steps[i]);
    free(e->docker_steps);
    for (size_t i = 0; i < e->n_env; i++) {
        free(e->env[i].name);
        free(e->env[i].value);
    }
    free(e->env);
    free(e->cuda_version);
    free(e->python_interpreter);
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
        return err_set(ERR_NOTFOUND, "%s:%d: %s: no such file or directory '%s'", t->file, yaml_tree_line(path), sub,
                       m->path);
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return err_set(ERR_INVALID, "%s:%d: %s: '%s' is neither a file nor a directory", t->file, yaml_tree_line(path),
                       sub, m->path);
    m->is_dir = S_ISDIR(st.st_mode);

    yaml_node_t *framework = yaml_tree_get(t, node, "framework");
    if (framework) {
        snprintf(sub, sizeof sub, "%s.framework", field);
        if ((rc = yaml_tree_string(t, framework, sub, &s)))
            return rc;
        if (!(m->framework = strdup(s)))
            return err_set(ERR_NOMEM, "out of memory");
        m->sklearn = spec_framework_is_sklearn(s);
    }
    yaml_node_t *method = yaml_tree_get(t, node, "method");
    if (method) {
        snprintf(sub, sizeof sub, "%s.method", field);
        if ((rc = yaml_tree_string(t, method, sub, &s)))
            return rc;
        if (!m->sklearn)
            return err_set(ERR_INVALID, "%s:%d: %s: only a scikit-learn model (framework: scikit-learn) has a method",
                           t->file, yaml_tree_line(method), sub);
        int v = spec_method_parse(s);
        if (v < 0)
            return err_set(ERR_INVALID, "%s:%d: %s: '%s' is not one of predict, predict_proba, both", t->file,
                           yaml_tree_line(method), sub, s);
        m->method = (enum spec_method)v;
    }
    yaml_node_t *tags = yaml_tree_get(t, node, "tags");
    if (tags) {
        snprintf(sub, sizeof sub, "%s.tags", field);
        if ((rc = yaml_tree_expect(t, tags, YAML_MAPPING_NODE, sub)))
            return rc;
    }
    for (size_t i = 0; i < index; i++)
        if (!strcmp(spec->models[i].name, m->name) && spec->models[i].version == m->version)
            return err_set(ERR_INVALID, "%s:%d: %s: model %s:%lld is listed twice (first on line %d)", t->file, m->line,
                           field, m->name, m->version, spec->models[i].line);
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
            return err_set(ERR_INVALID, "%s:%d: output.tag: '%s' is not a valid tag", t->file, yaml_tree_line(tag), s);
        if (!(spec->image_tag = strdup(s)))
            return err_set(ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int dup_into(char **dst, const char *s)
{
    free(*dst);
    if (!(*dst = strdup(s)))
        return err_set(ERR_NOMEM, "out of memory");
    return 0;
}

static int no_space_or_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return 0;
    return 1;
}

static int read_docker_steps(struct spec_environment *e, struct yaml_tree *t, yaml_node_t *node)
{
    const char *s;
    int rc;
    if (node->type == YAML_SCALAR_NODE) {
        if ((rc = yaml_tree_string(t, node, "environment.docker_steps", &s)))
            return rc;
        if (!(e->docker_steps = calloc(1, sizeof *e->docker_steps)))
            return err_set(ERR_NOMEM, "out of memory");
        e->n_docker_steps = 1;
        return dup_into(&e->docker_steps[0], s);
    }
    if ((rc = yaml_tree_expect(t, node, YAML_SEQUENCE_NODE, "environment.docker_steps")))
        return rc;
    size_t n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (n > 10000)
        return err_set(ERR_LIMIT, "%s:%d: environment.docker_steps: more than 10000 steps", t->file,
                       yaml_tree_line(node));
    if (n && !(e->docker_steps = calloc(n, sizeof *e->docker_steps)))
        return err_set(ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(&t->doc, node->data.sequence.items.start[i]);
        char field[64];
        snprintf(field, sizeof field, "environment.docker_steps[%zu]", i);
        if ((rc = yaml_tree_string(t, item, field, &s)))
            return rc;
        e->n_docker_steps = i + 1;
        if ((rc = dup_into(&e->docker_steps[i], s)))
            return rc;
    }
    return 0;
}

static int read_env_vars(struct spec_environment *e, struct yaml_tree *t, yaml_node_t *node)
{
    int rc = yaml_tree_expect(t, node, YAML_MAPPING_NODE, "environment.env");
    if (rc)
        return rc;
    size_t n = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
    if (n > 10000)
        return err_set(ERR_LIMIT, "%s:%d: environment.env: more than 10000 variables", t->file, yaml_tree_line(node));
    if (n && !(e->env = calloc(n, sizeof *e->env)))
        return err_set(ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *p = &node->data.mapping.pairs.start[i];
        yaml_node_t *key = yaml_document_get_node(&t->doc, p->key);
        yaml_node_t *value = yaml_document_get_node(&t->doc, p->value);
        const char *name, *v;
        if (!key || !value)
            return err_set(ERR_INVALID, "%s:%d: environment.env: malformed entry", t->file, yaml_tree_line(node));
        if ((rc = yaml_tree_string(t, key, "environment.env", &name)))
            return rc;
        char field[300];
        snprintf(field, sizeof field, "environment.env.%.200s", name);
        if (!conda_valid_var_name(name))
            return err_set(ERR_INVALID,
                           "%s:%d: %s: not a valid variable name (letters, digits and '_', not "
                           "starting with a digit)",
                           t->file, yaml_tree_line(key), field);
        for (size_t j = 0; j < e->n_env; j++)
            if (!strcmp(e->env[j].name, name))
                return err_set(ERR_INVALID, "%s:%d: %s: set twice", t->file, yaml_tree_line(key), field);
        if ((rc = yaml_tree_string(t, value, field, &v)))
            return rc;
        e->n_env = i + 1;
        if ((rc = dup_into(&e->env[i].name, name)) || (rc = dup_into(&e->env[i].value, v)))
            return rc;
    }
    return 0;
}

int spec_valid_cuda_version(const char *s)
{
    int ok = isdigit((unsigned char)s[0]) && strlen(s) <= 16;
    for (const char *p = s; ok && *p; p++)
        ok = isdigit((unsigned char)*p) || (*p == '.' && p[1] && p[1] != '.');
    return ok;
}

static int read_gpu(struct spec_environment *e, struct yaml_tree *t, yaml_node_t *node)
{
    int rc = yaml_tree_check_keys(t, node, "environment.gpu", gpu_fields);
    if (rc)
        return rc;
    yaml_node_t *enabled = yaml_tree_get(t, node, "enabled");
    if (enabled && (rc = yaml_tree_bool(t, enabled, "environment.gpu.enabled", &e->gpu_enabled)))
        return rc;
    yaml_node_t *cuda = yaml_tree_get(t, node, "cuda_version");
    if (!cuda)
        return 0;
    const char *s;
    if ((rc = yaml_tree_string(t, cuda, "environment.gpu.cuda_version", &s)))
        return rc;
    if (!spec_valid_cuda_version(s))
        return err_set(ERR_INVALID, "%s:%d: environment.gpu.cuda_version: '%s' is not a version such as '11.8'",
                       t->file, yaml_tree_line(cuda), s);
    if (!e->gpu_enabled)
        return err_set(ERR_INVALID, "%s:%d: environment.gpu.cuda_version: set without gpu.enabled: true", t->file,
                       yaml_tree_line(cuda));
    return dup_into(&e->cuda_version, s);
}

static int read_python(struct spec_environment *e, struct yaml_tree *t, yaml_node_t *node)
{
    int rc = yaml_tree_check_keys(t, node, "environment.python", python_fields);
    if (rc)
        return rc;
    yaml_node_t *interp = yaml_tree_get(t, node, "interpreter_path");
    if (interp) {
        const char *s;
        if ((rc = yaml_tree_string(t, interp, "environment.python.interpreter_path", &s)))
            return rc;
        if (!s[0] || !no_space_or_control(s))
            return err_set(ERR_INVALID, "%s:%d: environment.python.interpreter_path: '%s' is not a command or path",
                           t->file, yaml_tree_line(interp), s);
        if ((rc = dup_into(&e->python_interpreter, s)))
            return rc;
    }
    yaml_node_t *um = yaml_tree_get(t, node, "user_managed");
    if (um && (rc = yaml_tree_bool(t, um, "environment.python.user_managed", &e->python_user_managed)))
        return rc;
    return 0;
}

/* environment.lock_file: a lock written by `amlpkg lock` from this very conda environment; a stale one
 * (resolved from other specs or channels) is refused here, before anything is built. */
static int read_lock_file(struct spec_environment *e, struct yaml_tree *t, yaml_node_t *node, const char *dir)
{
    const char *s = NULL;
    int line = yaml_tree_line(node), rc = yaml_tree_string(t, node, "environment.lock_file", &s);
    if (rc)
        return rc;
    if (!s[0])
        return err_set(ERR_INVALID, "%s:%d: environment.lock_file: empty path", t->file, line);
    if (!e->conda)
        return err_set(ERR_INVALID,
                       "%s:%d: environment.lock_file: give the conda environment it was resolved from "
                       "(conda_file or conda)",
                       t->file, line);
    if (!(e->lock_file = fs_resolve(dir, s)))
        return err_set(ERR_NOMEM, "out of memory");
    struct stat st;
    if (stat(e->lock_file, &st) != 0 || !S_ISREG(st.st_mode))
        return err_set(ERR_NOTFOUND, "%s:%d: environment.lock_file: no such file '%s' (write it with amlpkg lock)",
                       t->file, line, e->lock_file);
    char context[4200];
    snprintf(context, sizeof context, "%s:%d: environment.lock_file", t->file, line);
    return conda_lockfile_check(e->lock_digest, e->lock_file, e->conda, context);
}

static int read_environment(struct spec *spec, struct yaml_tree *t, yaml_node_t *node, unsigned flags)
{
    struct spec_environment *e = &spec->environment;
    int rc = yaml_tree_check_keys(t, node, "environment", environment_fields);
    if (rc)
        return rc;
    e->line = yaml_tree_line(node);
    const char *s;
    yaml_node_t *n;
    if ((n = yaml_tree_get(t, node, "name"))) {
        if ((rc = yaml_tree_string(t, n, "environment.name", &s)) || (rc = dup_into(&e->name, s)))
            return rc;
    }
    if ((n = yaml_tree_get(t, node, "base_image"))) {
        if ((rc = yaml_tree_string(t, n, "environment.base_image", &s)))
            return rc;
        if (!s[0] || !no_space_or_control(s))
            return err_set(ERR_INVALID, "%s:%d: environment.base_image: '%s' is not an image reference", t->file,
                           yaml_tree_line(n), s);
        if ((rc = dup_into(&e->base_image, s)))
            return rc;
    }
    if ((n = yaml_tree_get(t, node, "docker_steps")) && (rc = read_docker_steps(e, t, n)))
        return rc;
    if ((n = yaml_tree_get(t, node, "env")) && (rc = read_env_vars(e, t, n)))
        return rc;
    if ((n = yaml_tree_get(t, node, "gpu")) && (rc = read_gpu(e, t, n)))
        return rc;
    if ((n = yaml_tree_get(t, node, "python")) && (rc = read_python(e, t, n)))
        return rc;
    yaml_node_t *file = yaml_tree_get(t, node, "conda_file");
    yaml_node_t *inline_conda = yaml_tree_get(t, node, "conda");
    if (file && inline_conda) {
        yaml_node_t *later = yaml_tree_line(file) > yaml_tree_line(inline_conda) ? file : inline_conda;
        return err_set(ERR_INVALID, "%s:%d: environment.%s: conda_file and conda are exclusive; use one", t->file,
                       yaml_tree_line(later), later == file ? "conda_file" : "conda");
    }
    if (file) {
        if ((rc = yaml_tree_string(t, file, "environment.conda_file", &s)))
            return rc;
        if (!s[0])
            return err_set(ERR_INVALID, "%s:%d: environment.conda_file: empty path", t->file, yaml_tree_line(file));
        if (!(e->conda_file = fs_resolve(spec->dir, s)))
            return err_set(ERR_NOMEM, "out of memory");
        struct stat st;
        if (stat(e->conda_file, &st) != 0 || !S_ISREG(st.st_mode))
            return err_set(ERR_NOTFOUND, "%s:%d: environment.conda_file: no such file '%s'", t->file,
                           yaml_tree_line(file), e->conda_file);
        if ((rc = conda_load(&e->conda, e->conda_file)))
            return rc;
    }
    if (inline_conda && (rc = conda_from_node(&e->conda, t, inline_conda, "environment.conda")))
        return rc;
    yaml_node_t *lock = yaml_tree_get(t, node, "lock_file");
    if (lock && !(flags & SPEC_READ_NO_LOCK) && (rc = read_lock_file(e, t, lock, spec->dir)))
        return rc;
    yaml_node_t *scripts = yaml_tree_get(t, node, "allow_scripts");
    if (scripts && (rc = yaml_tree_bool(t, scripts, "environment.allow_scripts", &e->allow_scripts)))
        return rc;
    if (e->conda && e->python_user_managed) {
        yaml_node_t *at = file ? file : inline_conda;
        return err_set(ERR_INVALID,
                       "%s:%d: environment.%s: python.user_managed: true means no conda "
                       "environment is built; drop one of them",
                       t->file, yaml_tree_line(at), file ? "conda_file" : "conda");
    }
    return 0;
}

/* What only an image with an interpreter and a shell can run: an entry script (Python workers), conda
 * or pip dependencies to install, Docker steps. A user-managed environment installs nothing. */
static int needs_python_base(const struct spec *spec)
{
    const struct spec_environment *e = &spec->environment;
    int installs = e->conda && !e->python_user_managed && (e->conda->n_deps || e->conda->n_pip);
    return spec->inference.entry_script || installs || e->n_docker_steps;
}

/* No base image: Azure ML's default GPU image with gpu.enabled, its default CPU image when the package
 * needs Python or a shell (as Azure ML builds every environment on one), scratch otherwise (an ONNX
 * package needs nothing below amlserve). The GPU image has one CUDA version, so asking for another
 * needs a base image that has it. */
static int environment_defaults(struct spec_environment *e, const char *file, int needs_python)
{
    if (!e->base_image && e->gpu_enabled && e->cuda_version && strcmp(e->cuda_version, SPEC_DEFAULT_GPU_CUDA_VERSION))
        return err_set(ERR_INVALID,
                       "%s:%d: environment.gpu.cuda_version: '%s': the default GPU base image (%s) "
                       "has CUDA " SPEC_DEFAULT_GPU_CUDA_VERSION
                       "; set environment.base_image to an image with CUDA %s",
                       file, e->line, e->cuda_version, SPEC_DEFAULT_GPU_BASE_IMAGE, e->cuda_version);
    const char *base = e->gpu_enabled  ? SPEC_DEFAULT_GPU_BASE_IMAGE
                       : needs_python ? SPEC_DEFAULT_CPU_BASE_IMAGE
                                      : SPEC_DEFAULT_BASE_IMAGE;
    int rc = e->base_image ? 0 : dup_into(&e->base_image, base);
    return rc || e->python_interpreter ? rc : dup_into(&e->python_interpreter, "python");
}

/* Image name and tag default to the first model: lower-cased, with characters
 * outside the image-name alphabet turned into '-'. */
int spec_finish(struct spec *spec)
{
    int rc = environment_defaults(&spec->environment, spec->file, needs_python_base(spec));
    if (rc)
        return rc;
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
            return err_set(ERR_INVALID, "%s: cannot derive an image name from model '%s'; set output.name", spec->file,
                           first->name);
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
    return spec_read(out, path, 0);
}

int spec_read(struct spec **out, const char *path, unsigned flags)
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
        if (!strcmp(pending[i], "environment") && (flags & SPEC_READ_ENVIRONMENT))
            continue;
        yaml_node_t *n = yaml_tree_key(&t, root, pending[i]);
        if (n) {
            rc = err_set(ERR_UNSUPPORTED, "%s:%d: %s: not supported by this version of amlpkg yet%s", path,
                         yaml_tree_line(n), pending[i],
                         !strcmp(pending[i], "environment") ? " (amlpkg hash reads it)" : "");
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
        rc = err_set(ERR_INVALID, "%s:%d: models: expected 1 to %d models, found %zu", path, yaml_tree_line(models),
                     SPEC_MAX_MODELS, n);
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
    yaml_node_t *environment = yaml_tree_get(&t, root, "environment");
    if (environment && (rc = read_environment(spec, &t, environment, flags)))
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
