#include "builder/spec/azure_environment.h"

#include "common/buf.h"
#include "common/err.h"
#include "builder/spec/conda.h"
#include "common/path.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *const top_keys[] = {
    "name",       "version", "environmentVariables",    "python",  "docker",      "spark",
    "databricks", "r",       "inferencingStackVersion", "assetId", "description", "tags",
    "properties", NULL};
static const char *const python_keys[] = {"userManagedDependencies", "interpreterPath",      "condaDependenciesFile",
                                          "condaDependencies",       "baseCondaEnvironment", NULL};
static const char *const docker_keys[] = {"enabled", "baseImage", "baseDockerfile",    "platform",     "sharedVolumes",
                                          "shmSize", "arguments", "baseImageRegistry", "buildContext", "gpuSupport",
                                          NULL};

static int is_null(const yaml_node_t *n)
{
    if (!n)
        return 1;
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = (const char *)n->data.scalar.value;
    return !v[0] || !strcmp(v, "null") || !strcmp(v, "~");
}

yaml_node_t *azure_get(struct yaml_tree *t, yaml_node_t *map, const char *key)
{
    yaml_node_t *n = map ? yaml_tree_get(t, map, key) : NULL;
    return is_null(n) ? NULL : n;
}

int azure_image_ref(struct yaml_tree *t, yaml_node_t *node, const char *field, char **out)
{
    const char *s;
    int rc = yaml_tree_string(t, node, field, &s);
    if (rc)
        return rc;
    if (!s[0] || strpbrk(s, " \t\r\n"))
        return err_set(ERR_INVALID, "%s:%d: %s: not an image reference (empty, or has spaces)", t->file,
                       yaml_tree_line(node), field);
    free(*out);
    return (*out = strdup(s)) ? 0 : err_set(ERR_NOMEM, "out of memory");
}

/* A base Dockerfile: its single FROM is the base image, every other line a Docker step. */
static int read_base_dockerfile(struct spec_environment *e, const char *text, const char *source)
{
    struct buf steps;
    buf_init(&steps, 1u << 20);
    int rc = 0, froms = 0, line_no = 0;
    for (const char *p = text; *p && !rc;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        line_no++;
        const char *q = p;
        while (q < p + len && isspace((unsigned char)*q))
            q++;
        if ((size_t)(p + len - q) > 5 && !strncasecmp(q, "FROM", 4) && isspace((unsigned char)q[4])) {
            if (++froms > 1) {
                rc = err_set(ERR_UNSUPPORTED,
                             "%s:%d: a base Dockerfile with several FROM lines (multi-stage) is "
                             "not supported; build that image first and name it in baseImage",
                             source, line_no);
                break;
            }
            q += 5;
            while (q < p + len && isspace((unsigned char)*q))
                q++;
            size_t n = strcspn(q, " \t\r\n");
            if (n == 0 || (q + n < p + len && strncasecmp(q + n + strspn(q + n, " \t"), "AS", 2) == 0)) {
                rc = err_set(ERR_INVALID, "%s:%d: expected FROM IMAGE", source, line_no);
                break;
            }
            free(e->base_image);
            if (!(e->base_image = strndup(q, n)))
                rc = err_set(ERR_NOMEM, "out of memory");
        } else if (len) {
            rc = buf_append(&steps, p, len);
            rc = rc ? rc : buf_append(&steps, "\n", 1);
        }
        p = nl ? nl + 1 : p + len;
    }
    if (!rc && !froms)
        rc = err_set(ERR_INVALID, "%s: the base Dockerfile has no FROM line", source);
    if (!rc && steps.len) {
        if (!(e->docker_steps = calloc(1, sizeof *e->docker_steps)) || !(e->docker_steps[0] = strdup(steps.data)))
            rc = err_set(ERR_NOMEM, "out of memory");
        else
            e->n_docker_steps = 1;
    }
    buf_release(&steps);
    return rc;
}

static int read_env_vars(struct spec_environment *e, struct yaml_tree *t, yaml_node_t *vars)
{
    int rc = yaml_tree_expect(t, vars, YAML_MAPPING_NODE, "environmentVariables");
    size_t n = rc ? 0 : (size_t)(vars->data.mapping.pairs.top - vars->data.mapping.pairs.start);
    if (!rc && n && !(e->env = calloc(n, sizeof *e->env)))
        rc = err_set(ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        yaml_node_t *k = yaml_document_get_node(&t->doc, vars->data.mapping.pairs.start[i].key);
        yaml_node_t *v = yaml_document_get_node(&t->doc, vars->data.mapping.pairs.start[i].value);
        const char *name, *value;
        if ((rc = yaml_tree_string(t, k, "environmentVariables", &name)) ||
            (rc = yaml_tree_string(t, v, "environmentVariables", &value)))
            break;
        if (!conda_valid_var_name(name)) {
            rc = err_set(ERR_INVALID, "%s:%d: environmentVariables: a key is not a variable name", t->file,
                         yaml_tree_line(k));
            break;
        }
        if (!(e->env[i].name = strdup(name)) || !(e->env[i].value = strdup(value)))
            rc = err_set(ERR_NOMEM, "out of memory");
        e->n_env = i + 1;
    }
    return rc;
}

int azure_environment_read(struct spec_environment *e, struct yaml_tree *t, yaml_node_t *def, const char *dir)
{
    int rc = yaml_tree_check_keys(t, def, "environment", top_keys);
    if (rc)
        return rc;
    yaml_node_t *python = azure_get(t, def, "python"), *docker = azure_get(t, def, "docker"), *n;
    if (!python && !docker && !azure_get(t, def, "environmentVariables"))
        return err_set(ERR_UNSUPPORTED,
                       "%s:%d: environment: a registered environment (name and version) lives in "
                       "Azure; give its definition (python, docker), or condaFile, baseImage and "
                       "extraDockerfileSteps",
                       t->file, yaml_tree_line(def));
    e->line = yaml_tree_line(def);
    const char *s;
    if ((n = azure_get(t, def, "environmentVariables")) && (rc = read_env_vars(e, t, n)))
        return rc;
    if (python && (rc = yaml_tree_check_keys(t, python, "environment.python", python_keys)))
        return rc;
    if (docker && (rc = yaml_tree_check_keys(t, docker, "environment.docker", docker_keys)))
        return rc;
    if ((n = azure_get(t, python, "userManagedDependencies")) &&
        (rc = yaml_tree_bool(t, n, "python.userManagedDependencies", &e->python_user_managed)))
        return rc;
    if ((n = azure_get(t, python, "interpreterPath"))) {
        if ((rc = yaml_tree_string(t, n, "python.interpreterPath", &s)))
            return rc;
        if (!(e->python_interpreter = strdup(s)))
            return err_set(ERR_NOMEM, "out of memory");
    }
    if ((n = azure_get(t, python, "condaDependencies"))) {
        if ((rc = conda_from_node(&e->conda, t, n, "python.condaDependencies")))
            return rc;
    } else if (dir && !e->python_user_managed) {
        char *file = path_join(dir, "conda_dependencies.yml");
        if (!file)
            return err_set(ERR_NOMEM, "out of memory");
        if (access(file, F_OK) == 0 && !(rc = conda_load(&e->conda, file)))
            e->conda_file = file, file = NULL;
        free(file);
        if (rc)
            return rc;
    }
    if ((n = azure_get(t, docker, "baseImageRegistry")) && n->type == YAML_MAPPING_NODE && azure_get(t, n, "address"))
        return err_set(ERR_UNSUPPORTED,
                       "%s:%d: docker.baseImageRegistry: put the credentials in "
                       "AMLPKG_REGISTRY_AUTH or a registry auth file",
                       t->file, yaml_tree_line(n));
    if ((n = azure_get(t, docker, "baseImage")) && (rc = azure_image_ref(t, n, "docker.baseImage", &e->base_image)))
        return rc;
    if ((n = azure_get(t, docker, "baseDockerfile"))) {
        if ((rc = yaml_tree_string(t, n, "docker.baseDockerfile", &s)))
            return rc;
        char source[600];
        snprintf(source, sizeof source, "%s:%d: docker.baseDockerfile", t->file, yaml_tree_line(n));
        return read_base_dockerfile(e, s, source);
    }
    if (dir) { /* save_to_directory writes the base Dockerfile beside the JSON */
        char *file = path_join(dir, "BaseDockerfile");
        struct buf text;
        buf_init(&text, 1u << 20);
        if (!file)
            rc = err_set(ERR_NOMEM, "out of memory");
        else if (access(file, F_OK) == 0 && !(rc = buf_read_file(&text, file)))
            rc = read_base_dockerfile(e, text.data ? text.data : "", file);
        buf_release(&text);
        free(file);
    }
    return rc;
}

int azure_environment_load_dir(struct spec_environment *e, const char *dir)
{
    char *path = path_join(dir, "azureml_environment.json");
    if (!path)
        return err_set(ERR_NOMEM, "out of memory");
    struct yaml_tree t;
    int rc = yaml_tree_load(&t, path);
    if (!rc) {
        rc = azure_environment_read(e, &t, yaml_tree_root(&t), dir);
        yaml_tree_release(&t);
    }
    free(path);
    return rc;
}
