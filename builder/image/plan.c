#include "builder/image/plan.h"
#include "builder/image/plan_app.h"
#include "builder/image/plan_model.h"

#include "common/err.h"
#include "common/parse_number.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "version.h"

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

void plan_free(struct plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_layers; i++) {
        plan_entries_free(p->layers[i].entries, p->layers[i].n_entries);
        free(p->layers[i].created_by);
    }
    free(p->layers);
    for (size_t i = 0; i < p->n_env; i++)
        free(p->env[i]);
    free(p->env);
    for (size_t i = 0; i < p->n_labels; i++) {
        free(p->labels[i].key);
        free(p->labels[i].value);
    }
    free(p->labels);
    free(p->entrypoint);
    free(p->workdir);
    free(p->image_name);
    free(p->image_tag);
    free(p->created_text);
    plan_env_release(&p->environment);
    free(p);
}

/* The spec's service section as the environment amlserve reads. Keys are
 * never baked into an image: with auth on, amlserve refuses to start until
 * keys are given at run time. The TLS private key neither: the image points
 * amlserve at a mount point and refuses to start without the pair there.
 * Returns the number added, or -1 on no memory. */
static int add_service_env(struct plan *p, const struct spec *spec)
{
    const struct spec_service *s = &spec->service;
    size_t before = p->n_env;
    if (s->workers)
        p->env[p->n_env++] = format("WORKER_COUNT=%d", s->workers);
    if (s->timeout_ms)
        p->env[p->n_env++] = format("SCORING_TIMEOUT_MS=%ld", s->timeout_ms);
    if (s->max_request_mb)
        p->env[p->n_env++] = format("AMLSERVE_MAX_BODY_MB=%d", s->max_request_mb);
    if (s->max_concurrent_requests)
        p->env[p->n_env++] = format("AMLSERVE_MAX_QUEUE=%d", s->max_concurrent_requests);
    if (s->max_queue_wait_ms)
        p->env[p->n_env++] = format("AMLSERVE_MAX_QUEUE_WAIT_MS=%ld", s->max_queue_wait_ms);
    if (s->cors_origins)
        p->env[p->n_env++] = format("AML_CORS_ORIGINS=%s", s->cors_origins);
    if (s->auth_enabled)
        p->env[p->n_env++] = strdup("AMLSERVE_AUTH_REQUIRED=1");
    if (s->input_sample)
        p->env[p->n_env++] = strdup("AMLSERVE_INPUT_SAMPLE=" PLAN_APP_ROOT "/" PLAN_INPUT_SAMPLE);
    if (s->output_sample)
        p->env[p->n_env++] = strdup("AMLSERVE_OUTPUT_SAMPLE=" PLAN_APP_ROOT "/" PLAN_OUTPUT_SAMPLE);
    if (s->tls_cert_file) {
        p->env[p->n_env++] = strdup("AMLSERVE_TLS_CERT=" PLAN_TLS_DIR "/tls.crt");
        p->env[p->n_env++] = strdup("AMLSERVE_TLS_KEY=" PLAN_TLS_DIR "/tls.key");
    }
    for (size_t i = before; i < p->n_env; i++)
        if (!p->env[i])
            return -1;
    return (int)(p->n_env - before);
}

/* The swagger samples, in one small app layer under the app root. */
static int add_samples_layer(struct plan *p, const struct spec_service *s)
{
    struct plan_layer *l = &p->layers[p->n_layers++];
    l->created_by = format("amlpkg: service samples");
    l->gzip_level = 6;
    l->entries = calloc(2, sizeof *l->entries);
    if (!l->created_by || !l->entries)
        return err_set(ERR_NOMEM, "out of memory");
    const char *hosts[2] = {s->input_sample, s->output_sample};
    const char *names[2] = {PLAN_INPUT_SAMPLE, PLAN_OUTPUT_SAMPLE};
    for (int i = 0; i < 2; i++) {
        if (!hosts[i])
            continue;
        struct plan_entry *e = &l->entries[l->n_entries++];
        e->image_path = format(PLAN_APP_ROOT_REL "/%s", names[i]);
        e->host_path = strdup(hosts[i]);
        if (!e->image_path || !e->host_path)
            return err_set(ERR_NOMEM, "out of memory");
    }
    return 0;
}

/* A layer with a single entry: the shape of both the runtime and model layers. */
static int add_layer(struct plan *p, char *created_by, char *image_path, const char *host_path, int level)
{
    struct plan_layer *l = &p->layers[p->n_layers++];
    l->created_by = created_by;
    l->gzip_level = level;
    l->entries = calloc(1, sizeof *l->entries);
    if (!created_by || !image_path || !l->entries) {
        free(image_path);
        return err_set(ERR_NOMEM, "out of memory");
    }
    l->entries[0].image_path = image_path;
    l->entries[0].host_path = strdup(host_path);
    l->n_entries = 1;
    return l->entries[0].host_path ? 0 : err_set(ERR_NOMEM, "out of memory");
}

static const char *base_name(const char *path);

/* A model's layer: its file or tree, symbolic links resolved to their content (plan_model.h). */
static int add_model_layer(struct plan *p, const struct spec_model *m)
{
    struct plan_layer *l = &p->layers[p->n_layers++];
    l->created_by = format("amlpkg: model %s:%lld", m->name, m->version);
    l->gzip_level = 1;
    char *image_path = format(PLAN_MODELS_ROOT_REL "/%s/%lld/%s", m->name, m->version, base_name(m->path));
    int rc = l->created_by && image_path ? plan_model_entries(&l->entries, &l->n_entries, image_path, m->path)
                                         : err_set(ERR_NOMEM, "out of memory");
    free(image_path);
    return rc;
}

static const char *base_name(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    const char *end = path + n;
    const char *p = end;
    while (p > path && p[-1] != '/')
        p--;
    return p;
}

static int add_label(struct plan *p, const char *key, char *value)
{
    struct plan_label *l = &p->labels[p->n_labels++];
    l->key = strdup(key);
    l->value = value;
    return l->key && l->value ? 0 : err_set(ERR_NOMEM, "out of memory");
}

static int compare_labels(const void *a, const void *b)
{
    return strcmp(((const struct plan_label *)a)->key, ((const struct plan_label *)b)->key);
}

int plan_set_label(struct plan *p, const char *key, const char *value)
{
    char *v = strdup(value);
    if (!v)
        return err_set(ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < p->n_labels; i++)
        if (!strcmp(p->labels[i].key, key)) {
            free(p->labels[i].value);
            p->labels[i].value = v;
            return 0;
        }
    struct plan_label *labels = realloc(p->labels, (p->n_labels + 1) * sizeof *labels);
    if (!labels) {
        free(v);
        return err_set(ERR_NOMEM, "out of memory");
    }
    p->labels = labels;
    int rc = add_label(p, key, v);
    if (rc) {
        p->n_labels--; /* add_label counted it; free what it made */
        free(p->labels[p->n_labels].key);
        free(v);
        return rc;
    }
    qsort(p->labels, p->n_labels, sizeof *p->labels, compare_labels);
    return 0;
}

int plan_source_date_epoch(long long *out)
{
    *out = 0;
    const char *s = getenv("SOURCE_DATE_EPOCH");
    if (!s || !s[0])
        return 0;
    /* Seconds since 1970, up to the end of year 9999. */
    return parse_number_int(out, "SOURCE_DATE_EPOCH", s, 0, 253402300799LL);
}

static char *format_utc(long long t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[32];
    if (!gmtime_r(&tt, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return NULL;
    return strdup(buf);
}

/* What cannot work whatever builds it: an entry script, Docker steps or conda
 * installs on scratch, which has no interpreter and no shell. */
static int check_environment(const struct plan *p, const struct spec *spec)
{
    if (!plan_env_is_scratch(&p->environment))
        return 0;
    if (spec->inference.entry_script)
        return err_set(ERR_INVALID,
                       "%s: inference.entry_script: a Python entry script needs an image with Python: "
                       "set environment.base_image to one (oci-archive:, docker-archive:, oci: or a registry "
                       "image), or run it on this host with amlpkg serve",
                       spec->file);
    if (p->environment.needs_executor)
        return err_set(ERR_INVALID,
                       "%s:%d: environment: %s need a base image with a shell; set "
                       "environment.base_image",
                       spec->file, spec->environment.line, p->environment.needs_executor);
    return 0;
}

/* The entry script and its source directory at the app root (see plan_app.h). */
static int add_app_layer(struct plan *p, const struct spec_inference *inf)
{
    struct plan_layer *l = &p->layers[p->n_layers++];
    l->created_by = format("amlpkg: app %s", plan_app_entry_script(inf));
    l->gzip_level = 6;
    if (!l->created_by)
        return err_set(ERR_NOMEM, "out of memory");
    return plan_app_entries(&l->entries, &l->n_entries, inf);
}

/* AZUREML_ENTRY_SCRIPT is relative to the app root; AZUREML_SOURCE_DIRECTORY goes on sys.path. */
static int add_entry_env(struct plan *p, const struct spec *spec)
{
    const struct spec_inference *inf = &spec->inference;
    if (!inf->entry_script)
        return 0;
    char *script = format("AZUREML_ENTRY_SCRIPT=%s", plan_app_entry_script(inf));
    if (!script)
        return -1;
    p->env[p->n_env++] = script;
    if (inf->source_directory && !(p->env[p->n_env++] = strdup("AZUREML_SOURCE_DIRECTORY=" PLAN_APP_ROOT)))
        return -1;
    return 0;
}

int plan_build(struct plan **out, const struct spec *spec, const char *amlserve_path, long long created)
{
    *out = NULL;
    struct plan *p = calloc(1, sizeof *p);
    int rc = 0;
    if (!p)
        return err_set(ERR_NOMEM, "out of memory");
    if ((rc = plan_env_init(&p->environment, spec, AMLPKG_VERSION)) || (rc = check_environment(p, spec))) {
        plan_free(p);
        return rc;
    }
    p->created = created;
    p->created_text = format_utc(created);
    p->port = PLAN_PORT;
    p->layers = calloc(spec->n_models + 3, sizeof *p->layers);
    p->env = calloc(24 + spec->environment.n_env, sizeof *p->env);
    p->labels = calloc(12, sizeof *p->labels);
    p->entrypoint = strdup(PLAN_AMLSERVE_PATH);
    p->workdir = strdup(PLAN_APP_ROOT);
    p->image_name = strdup(spec->image_name);
    p->image_tag = strdup(spec->image_tag);
    if (!p->layers || !p->env || !p->labels || !p->entrypoint || !p->workdir || !p->image_name || !p->image_tag ||
        !p->created_text) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    /* Runtime first, models last: a new model version touches only its own layer. */
    rc = add_layer(p, format("amlpkg: amlserve " AMLPKG_VERSION " runtime"), strdup(PLAN_AMLSERVE_REL), amlserve_path,
                   6);
    if (!rc && spec->inference.entry_script)
        rc = add_app_layer(p, &spec->inference);
    if (!rc && (spec->service.input_sample || spec->service.output_sample))
        rc = add_samples_layer(p, &spec->service);
    for (size_t i = 0; i < spec->n_models && !rc; i++) {
        const struct spec_model *m = &spec->models[i];
        rc = add_model_layer(p, m);
    }
    if (rc)
        goto done;
    /* One model: its version directory; several: the root, as Azure ML does. */
    char *model_dir = spec->n_models == 1 ? format("AZUREML_MODEL_DIR=" PLAN_MODELS_ROOT "/%s/%lld",
                                                   spec->models[0].name, spec->models[0].version)
                                          : format("AZUREML_MODEL_DIR=" PLAN_MODELS_ROOT);
    const struct plan_environment *e = &p->environment;
    /* A conda environment comes first on PATH, as in Azure ML's environment images. */
    p->env[p->n_env++] = format("PATH=%s%s/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                e->conda_prefix ? e->conda_prefix : "", e->conda_prefix ? "/bin:" : "");
    if (e->conda_prefix)
        p->env[p->n_env++] = format("AZUREML_CONDA_ENVIRONMENT_PATH=%s", e->conda_prefix);
    for (size_t i = 0; i < e->n_env; i++)
        p->env[p->n_env++] = strdup(e->env[i]);
    p->env[p->n_env++] = strdup("AML_APP_ROOT=" PLAN_APP_ROOT);
    p->env[p->n_env++] = model_dir;
    p->env[p->n_env++] = format("SERVER_PORT=%d", PLAN_PORT);
    if (add_entry_env(p, spec) < 0 || add_service_env(p, spec) < 0) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < p->n_env; i++)
        if (!p->env[i]) {
            rc = err_set(ERR_NOMEM, "out of memory");
            goto done;
        }
    rc = add_label(p, "org.opencontainers.image.title", strdup(spec->image_name));
    if (!rc)
        rc = add_label(p, "org.opencontainers.image.version", strdup(spec->image_tag));
    if (!rc)
        rc = add_label(p, "org.opencontainers.image.created", strdup(p->created_text));
    if (!rc)
        rc = add_label(p, "com.amlpkg.version", strdup(AMLPKG_VERSION));
    if (!rc)
        rc = add_label(p, "com.amlpkg.scoring", strdup(spec->inference.entry_script ? "python" : "onnx"));
    if (!rc)
        rc = add_label(p, "com.amlpkg.environment-key", strdup(e->key));
    /* A GPU image says so, for schedulers that place it on a GPU node. */
    if (!rc && e->gpu)
        rc = add_label(p, "com.amlpkg.gpu", strdup("cuda"));
    if (!rc && e->gpu && e->cuda_version)
        rc = add_label(p, "com.amlpkg.cuda-version", strdup(e->cuda_version));
    /* A git source decides the app layer: name the commit it came from. */
    if (!rc && spec->inference.git_commit)
        rc = add_label(p, "org.opencontainers.image.revision", strdup(spec->inference.git_commit));
    if (!rc && spec->inference.git_url)
        rc = add_label(p, "org.opencontainers.image.source", strdup(spec->inference.git_url));
    if (rc)
        goto done;
    qsort(p->labels, p->n_labels, sizeof *p->labels, compare_labels);
done:
    if (rc)
        plan_free(p);
    else
        *out = p;
    return rc;
}
