#include "builder/spec/spec_azure.h"

#include "common/err.h"
#include "common/parse_number.h"
#include "builder/spec/azure_environment.h"
#include "builder/spec/conda.h"
#include "builder/spec/deployment_config.h"
#include "builder/sys/fsutil.h"
#include "builder/spec/spec_sections.h"
#include "builder/spec/yaml_tree.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const char *const inference_keys[] = {
    "entryScript",     "runtime",     "condaFile",  "extraDockerfileSteps", "extraDockerFileSteps",
    "sourceDirectory", "enableGpu",   "baseImage",  "baseImageRegistry",    "cudaVersion",
    "environment",     "description", "schemaFile", "dependencies",         NULL};

/* Keys Azure uses for its own platform (TLS, regions, probes...): accepted, meaningless off Azure. */
static const char *const deployment_keys[] = {"computeType",
                                              "port",
                                              "authEnabled",
                                              "tokenAuthEnabled",
                                              "keys",
                                              "scoringTimeoutMs",
                                              "maxConcurrentRequestsPerContainer",
                                              "maxQueueWaitMs",
                                              "containerResourceRequirements",
                                              "autoScaler",
                                              "numReplicas",
                                              "sslEnabled",
                                              "sslCertificate",
                                              "sslKey",
                                              "cname",
                                              "appInsightsEnabled",
                                              "location",
                                              "dnsNameLabel",
                                              "namespace",
                                              "gpuCores",
                                              "livenessProbeRequirements",
                                              "description",
                                              "tags",
                                              "properties",
                                              "computeTargetName",
                                              "versionName",
                                              "trafficPercentile",
                                              "type",
                                              "isDefault",
                                              "isControlVersion",
                                              "collectModelData",
                                              "enableAppInsights",
                                              "cpuCores",
                                              "memoryGb",
                                              NULL};

/* Azure: the script is a .py file whose name is a Python identifier. */
static int valid_entry_script_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n < 4 || strcmp(base + n - 3, ".py") || isdigit((unsigned char)base[0]))
        return 0;
    for (size_t i = 0; i + 3 < n; i++)
        if (!isalnum((unsigned char)base[i]) && base[i] != '_')
            return 0;
    return 1;
}

/* The environment keys of inferenceconfig.json, as the spec's environment section. `environment`
 * (a registered environment's name and version, or its definition) and `baseImageRegistry` (credentials
 * belong in AMLPKG_REGISTRY_AUTH or an auth file, not in a project file) stay refused. */
static int read_environment_keys(struct spec *spec, struct yaml_tree *t, yaml_node_t *root, const char *dir)
{
    struct spec_environment *e = &spec->environment;
    yaml_node_t *registry = azure_get(t, root, "baseImageRegistry");
    if (registry)
        return err_set(ERR_UNSUPPORTED,
                       "%s:%d: baseImageRegistry: not supported by this version of amlpkg; put the "
                       "credentials in AMLPKG_REGISTRY_AUTH or a registry auth file",
                       t->file, yaml_tree_line(registry));
    int rc = 0;
    /* An inline definition; Azure allows it only without the separate keys below. */
    yaml_node_t *definition = azure_get(t, root, "environment");
    if (definition) {
        static const char *const exclusive[] = {
            "condaFile", "extraDockerfileSteps", "extraDockerFileSteps", "baseImage", "enableGpu", "cudaVersion", NULL};
        for (size_t i = 0; exclusive[i]; i++) {
            yaml_node_t *n = azure_get(t, root, exclusive[i]);
            if (n && !(n->type == YAML_SCALAR_NODE && !strcmp((const char *)n->data.scalar.value, "false")))
                return err_set(ERR_INVALID, "%s:%d: %s: must be empty when environment is set (as in Azure ML)",
                               t->file, yaml_tree_line(n), exclusive[i]);
        }
        return azure_environment_read(e, t, definition, NULL);
    }
    const char *s;
    yaml_node_t *n;
    e->line = yaml_tree_line(root);
    if ((n = azure_get(t, root, "baseImage")) && (rc = azure_image_ref(t, n, "baseImage", &e->base_image)))
        return rc;
    if ((n = azure_get(t, root, "condaFile"))) {
        if ((rc = spec_existing_path(t, n, "condaFile", dir, 0, &e->conda_file)) ||
            (rc = conda_load(&e->conda, e->conda_file)))
            return rc;
    }
    /* Azure writes both spellings; either holds Dockerfile lines in one string. */
    yaml_node_t *steps = azure_get(t, root, "extraDockerfileSteps");
    if (!steps)
        steps = azure_get(t, root, "extraDockerFileSteps");
    if (steps) {
        if ((rc = yaml_tree_string(t, steps, "extraDockerfileSteps", &s)))
            return rc;
        if (s[0]) {
            if (!(e->docker_steps = calloc(1, sizeof *e->docker_steps)) || !(e->docker_steps[0] = strdup(s)))
                return err_set(ERR_NOMEM, "out of memory");
            e->n_docker_steps = 1;
        }
    }
    if ((n = azure_get(t, root, "enableGpu")) && (rc = yaml_tree_bool(t, n, "enableGpu", &e->gpu_enabled)))
        return rc;
    if ((n = azure_get(t, root, "cudaVersion"))) {
        if ((rc = yaml_tree_string(t, n, "cudaVersion", &s)))
            return rc;
        if (!e->gpu_enabled)
            return err_set(ERR_INVALID, "%s:%d: cudaVersion: set only with enableGpu: true", t->file,
                           yaml_tree_line(n));
        if (!spec_valid_cuda_version(s))
            return err_set(ERR_INVALID, "%s:%d: cudaVersion: not a version such as '11.3'", t->file,
                           yaml_tree_line(n));
        if (!(e->cuda_version = strdup(s)))
            return err_set(ERR_NOMEM, "out of memory");
    }
    return 0;
}

static int read_inference_config(struct spec *spec, const char *path)
{
    struct yaml_tree t;
    int rc = yaml_tree_load(&t, path);
    if (rc)
        return rc;
    yaml_node_t *root = yaml_tree_root(&t);
    char *dir = fs_dirname(path);
    char *source = NULL;
    if (!dir) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = yaml_tree_check_keys(&t, root, "", inference_keys)) || (rc = read_environment_keys(spec, &t, root, dir)))
        goto done;
    yaml_node_t *runtime = azure_get(&t, root, "runtime");
    const char *s;
    if (runtime) {
        if ((rc = yaml_tree_string(&t, runtime, "runtime", &s)))
            goto done;
        if (strcasecmp(s, "python")) {
            rc = err_set(ERR_UNSUPPORTED, "%s:%d: runtime: only python is supported", path,
                         yaml_tree_line(runtime));
            goto done;
        }
    }
    /* Azure resolves the entry script inside sourceDirectory when one is given. */
    yaml_node_t *src = azure_get(&t, root, "sourceDirectory");
    if (src && (rc = spec_existing_path(&t, src, "sourceDirectory", dir, 1, &source)))
        goto done;
    yaml_node_t *script = azure_get(&t, root, "entryScript");
    if (!script) {
        rc = err_set(ERR_INVALID, "%s:%d: entryScript: required field is missing", path, yaml_tree_line(root));
        goto done;
    }
    if ((rc = spec_existing_path(&t, script, "entryScript", source ? source : dir, 0, &spec->inference.entry_script)))
        goto done;
    if (!valid_entry_script_name(spec->inference.entry_script)) {
        rc = err_set(ERR_INVALID, "%s:%d: entryScript: '%s' must be a .py file named like a Python module", path,
                     yaml_tree_line(script), spec->inference.entry_script);
        goto done;
    }
    spec->inference.source_directory = source;
    spec->inference.python = 1;
    source = NULL;
done:
    free(source);
    free(dir);
    yaml_tree_release(&t);
    return rc;
}

static int read_int_key(struct yaml_tree *t, yaml_node_t *map, const char *key, long long min, long long max,
                        long long *out)
{
    yaml_node_t *n = azure_get(t, map, key);
    return n ? yaml_tree_int(t, n, key, min, max, out) : 0;
}

static int read_keys(struct spec *spec, struct yaml_tree *t, yaml_node_t *keys)
{
    static const char *const names[] = {"primaryKey", "secondaryKey", NULL};
    int rc = yaml_tree_check_keys(t, keys, "keys", names);
    for (int i = 0; !rc && i < 2; i++) {
        yaml_node_t *k = azure_get(t, keys, names[i]);
        const char *s;
        if (!k)
            continue;
        char field[32];
        snprintf(field, sizeof field, "keys.%s", names[i]);
        if ((rc = yaml_tree_string(t, k, field, &s)))
            break;
        if (!s[0] || strlen(s) > 256 || strpbrk(s, ", \t\r\n"))
            rc = err_set(ERR_INVALID, "%s:%d: %s: a key is 1 to 256 characters without spaces or commas", t->file,
                         yaml_tree_line(k), field);
        else {
            free(spec->service.auth_keys[i]); /* a spec's own keys give way to the config's */
            if (!(spec->service.auth_keys[i] = strdup(s)))
                rc = err_set(ERR_NOMEM, "out of memory");
        }
    }
    if (!rc && !spec->service.auth_keys[0] && spec->service.auth_keys[1]) {
        spec->service.auth_keys[0] = spec->service.auth_keys[1]; /* a lone secondary key still works */
        spec->service.auth_keys[1] = NULL;
    }
    return rc;
}

int spec_azure_read_deployment_config(struct spec *spec, const char *path)
{
    struct yaml_tree t;
    int rc = yaml_tree_load(&t, path);
    if (rc)
        return rc;
    yaml_node_t *root = yaml_tree_root(&t);
    struct spec_service *svc = &spec->service;
    const char *s;
    if ((rc = yaml_tree_check_keys(&t, root, "", deployment_keys)))
        goto done;
    yaml_node_t *compute = azure_get(&t, root, "computeType");
    if (!compute) {
        rc = err_set(ERR_INVALID, "%s:%d: computeType: required field is missing (local, ACI, AKS or AKSENDPOINT)",
                     path, yaml_tree_line(root));
        goto done;
    }
    if ((rc = yaml_tree_string(&t, compute, "computeType", &s)))
        goto done;
    int aks = !strcasecmp(s, "AKS") || !strcasecmp(s, "AKSENDPOINT");
    if (!aks && strcasecmp(s, "local") && strcasecmp(s, "ACI")) {
        rc = err_set(ERR_INVALID, "%s:%d: computeType: not local, ACI, AKS or AKSENDPOINT", path,
                     yaml_tree_line(compute));
        goto done;
    }
    long long v = 0;
    if ((rc = read_int_key(&t, root, "port", 1, 65535, &v)))
        goto done;
    svc->port = (int)v;
    if ((v = 0, rc = read_int_key(&t, root, "scoringTimeoutMs", 1, 86400000, &v)))
        goto done;
    svc->timeout_ms = (long)v;
    if ((v = 0, rc = read_int_key(&t, root, "maxConcurrentRequestsPerContainer", 1, 1000000, &v)))
        goto done;
    svc->max_concurrent_requests = (int)v;
    if ((v = 0, rc = read_int_key(&t, root, "maxQueueWaitMs", 1, 86400000, &v)))
        goto done;
    svc->max_queue_wait_ms = (long)v;
    yaml_node_t *token = azure_get(&t, root, "tokenAuthEnabled");
    int on = 0;
    if (token && (rc = yaml_tree_bool(&t, token, "tokenAuthEnabled", &on)))
        goto done;
    if (on) {
        rc = err_set(ERR_UNSUPPORTED,
                     "%s:%d: tokenAuthEnabled: Azure's tokens come from Azure; for HS256 tokens checked "
                     "by amlserve itself use a spec with service.auth.token",
                     path, yaml_tree_line(token));
        goto done;
    }
    /* Azure's default: keys on for AKS, off for ACI and local. */
    svc->auth_enabled = aks;
    yaml_node_t *auth = azure_get(&t, root, "authEnabled");
    if (auth && (rc = yaml_tree_bool(&t, auth, "authEnabled", &svc->auth_enabled)))
        goto done;
    yaml_node_t *keys = azure_get(&t, root, "keys");
    if (keys && (rc = read_keys(spec, &t, keys)))
        goto done;
    if (svc->auth_keys[0] && !svc->auth_enabled) {
        rc = err_set(ERR_INVALID, "%s:%d: keys: keys are given but authEnabled is false", path, yaml_tree_line(keys));
        goto done;
    }
    yaml_node_t *scaler = azure_get(&t, root, "autoScaler");
    if (scaler && scaler->type == YAML_MAPPING_NODE) {
        if ((v = 0, rc = read_int_key(&t, scaler, "targetUtilization", 1, 100, &v)))
            goto done;
        svc->target_utilization_pct = (int)v;
    }
    rc = deployment_config_read(&spec->deploy, &t, root);
done:
    yaml_tree_release(&t);
    return rc;
}

/* NAME:VERSION=PATH, as `az ml model deploy -m name:version` plus where the file is here. */
static int parse_model_arg(struct spec_model *m, const char *arg)
{
    const char *eq = strchr(arg, '=');
    const char *colon = eq ? memchr(arg, ':', (size_t)(eq - arg)) : NULL;
    if (!eq || !colon || colon == arg || !eq[1])
        return err_set(ERR_INVALID, "--model '%s': expected NAME:VERSION=PATH", arg);
    m->name = strndup(arg, (size_t)(colon - arg));
    if (!m->name)
        return err_set(ERR_NOMEM, "out of memory");
    if (!spec_valid_model_name(m->name))
        return err_set(ERR_INVALID,
                       "--model '%s': '%s' is not a valid model name (letters, digits, '-', '.', '_'; "
                       "starting with a letter or digit; at most 255 characters)",
                       arg, m->name);
    char *version = strndup(colon + 1, (size_t)(eq - colon - 1)), what[300];
    if (!version)
        return err_set(ERR_NOMEM, "out of memory");
    snprintf(what, sizeof what, "--model '%s': version", arg);
    int rc = parse_number_int(&m->version, what, version, 1, 2147483647);
    free(version);
    if (rc)
        return rc;
    if (!(m->path = strdup(eq + 1)))
        return err_set(ERR_NOMEM, "out of memory");
    struct stat st;
    if (stat(m->path, &st) != 0)
        return err_set(ERR_NOTFOUND, "--model '%s': no such file or directory '%s'", arg, m->path);
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return err_set(ERR_INVALID, "--model '%s': '%s' is neither a file nor a directory", arg, m->path);
    m->is_dir = S_ISDIR(st.st_mode);
    return 0;
}

int spec_load_azure(struct spec **out, const struct spec_azure_input *in)
{
    *out = NULL;
    if (in->n_models == 0 || in->n_models > SPEC_MAX_MODELS)
        return err_set(ERR_INVALID, "give 1 to %d models with --model NAME:VERSION=PATH", SPEC_MAX_MODELS);
    struct spec *spec = calloc(1, sizeof *spec);
    int rc = 0;
    /* Without an inference config (Azure's no-code deployment) errors name the --model option. */
    const char *file = in->inference_config ? in->inference_config : "--model";
    if (!spec || !(spec->file = strdup(file)) || !(spec->dir = in->inference_config ? fs_dirname(file) : strdup(".")) ||
        !(spec->models = calloc(in->n_models, sizeof *spec->models))) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    if (in->model_framework && !spec_framework_valid(in->model_framework)) {
        rc = err_set(ERR_INVALID,
                     "--model-framework '%s' is not one of ScikitLearn, Onnx, TensorFlow, PyTorch, Custom, Multi",
                     in->model_framework);
        goto done;
    }
    for (size_t i = 0; i < in->n_models && !rc; i++) {
        spec->n_models = i + 1;
        rc = parse_model_arg(&spec->models[i], in->models[i]);
        for (size_t j = 0; !rc && j < i; j++)
            if (!strcmp(spec->models[j].name, spec->models[i].name) &&
                spec->models[j].version == spec->models[i].version)
                rc = err_set(ERR_INVALID, "--model %s:%lld is given twice", spec->models[i].name,
                             spec->models[i].version);
    }
    for (size_t i = 0; i < spec->n_models && !rc && in->model_framework; i++) {
        if (!(spec->models[i].framework = strdup(in->model_framework)))
            rc = err_set(ERR_NOMEM, "out of memory");
        spec->models[i].sklearn = spec_framework_is_sklearn(in->model_framework);
    }
    if (!rc && in->inference_config)
        rc = read_inference_config(spec, in->inference_config);
    if (!rc && in->environment_dir) {
        const struct spec_environment *e = &spec->environment;
        if (e->base_image || e->conda || e->n_docker_steps || e->n_env)
            rc = err_set(ERR_INVALID,
                         "%s: --environment-dir: the inference config already describes the "
                         "environment; give one or the other",
                         in->inference_config);
        else
            rc = azure_environment_load_dir(&spec->environment, in->environment_dir);
    }
    if (!rc && in->deployment_config)
        rc = spec_azure_read_deployment_config(spec, in->deployment_config);
    if (!rc)
        rc = spec_finish(spec);
done:
    if (rc)
        spec_free(spec);
    else
        *out = spec;
    return rc;
}
