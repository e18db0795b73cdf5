#include "scorer_onnx.h"

#include "common/err.h"
#include "common/json.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/model_files.h"
#include "runtime/engine/servable.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Models this small (linear models, small trees) score in microseconds. */
#define SMALL_MODEL_BYTES (256 * 1024)

/* One served model. name/version come from Azure ML's layout
 * <model dir>/<name>/<version>/<file>, or for a single model from a model dir
 * that is .../azureml-models/<name>/<version> itself (as Azure ML and amlpkg
 * set it); elsewhere the file's stem, no version. */
struct served_model {
    struct engine_model *model;
    char *path, *name, *version;
};

/* The model set is swapped whole on SIGHUP: scoring holds the read lock for
 * a request, a reload takes the write lock only to swap the pointers. */
struct onnx_state {
    pthread_rwlock_t lock;
    char *model_dir;
    struct served_model *models; /* sorted by name, then version */
    struct scorer_model *views;  /* the same models as visit_models shows them */
    size_t count;
};

/* Reads a rectangular nested JSON array of numbers into t (shape and data). */
static int json_shape(struct tensor *t, const struct json_value *v)
{
    t->rank = 0;
    while (v->type == JSON_ARRAY) {
        if (t->rank == TENSOR_MAX_RANK)
            return err_set(ERR_INVALID, "array nesting deeper than %d", TENSOR_MAX_RANK);
        t->dims[t->rank++] = (int64_t)v->count;
        if (!v->child)
            break;
        v = v->child;
    }
    return 0;
}

static int json_fill(const struct tensor *t, const struct json_value *v, int depth, size_t *pos)
{
    if (depth == t->rank) {
        double x;
        if (v->type == JSON_NUMBER)
            x = v->as.number;
        else if (v->type == JSON_BOOL)
            x = v->as.boolean;
        else
            return err_set(ERR_INVALID, "expected a number at line %d column %d, got %s", v->line, v->column,
                           json_type_name(v->type));
        /* Saturating: a number out of an integer type's range must not be undefined behaviour. */
        tensor_store(t->type, t->data, (int64_t)*pos, x);
        (*pos)++;
        return 0;
    }
    if (v->type != JSON_ARRAY || (int64_t)v->count != t->dims[depth])
        return err_set(ERR_INVALID, "ragged array at line %d column %d: expected %lld items", v->line, v->column,
                       (long long)t->dims[depth]);
    for (const struct json_value *c = v->child; c; c = c->next) {
        int rc = json_fill(t, c, depth + 1, pos);
        if (rc)
            return rc;
    }
    return 0;
}

static int tensor_from_json(struct tensor *out, const struct engine_io *io, const struct json_value *v,
                            struct arena *arena)
{
    memset(out, 0, sizeof *out);
    out->type = io->shape.type;
    size_t elem = tensor_type_size(out->type);
    if (!elem)
        return err_set(ERR_UNSUPPORTED, "input '%s': type %s cannot be sent as JSON", io->name,
                       tensor_type_name(out->type));
    int rc = json_shape(out, v);
    if (rc)
        return rc;
    int64_t count = tensor_element_count(out);
    if (count < 0 || (uint64_t)count > SIZE_MAX / elem)
        return err_set(ERR_INVALID, "input '%s': too many values", io->name);
    out->data = arena_alloc(arena, (size_t)count * elem + 1);
    if (!out->data)
        return err_set(ERR_LIMIT, "input '%s': request memory limit reached", io->name);
    size_t pos = 0;
    rc = json_fill(out, v, 0, &pos);
    if (rc)
        return rc;
    return 0;
}

static int write_values(struct buf *b, const struct tensor *t, int depth, size_t *pos)
{
    if (depth == t->rank) {
        size_t i = (*pos)++;
        switch (t->type) {
        case TENSOR_FLOAT: return json_write_float(b, ((const float *)t->data)[i]);
        case TENSOR_DOUBLE: return json_write_double(b, ((const double *)t->data)[i]);
        case TENSOR_INT64: return buf_appendf(b, "%lld", (long long)((const int64_t *)t->data)[i]);
        case TENSOR_INT32: return buf_appendf(b, "%d", ((const int32_t *)t->data)[i]);
        case TENSOR_BOOL: return buf_append_str(b, ((const uint8_t *)t->data)[i] ? "true" : "false");
        case TENSOR_INT8: return buf_appendf(b, "%d", ((const int8_t *)t->data)[i]);
        case TENSOR_FLOAT16:
        case TENSOR_BFLOAT16: return json_write_float(b, (float)tensor_load(t->type, t->data, (int64_t)i));
        case TENSOR_INT16: return buf_appendf(b, "%d", ((const int16_t *)t->data)[i]);
        case TENSOR_UINT16: return buf_appendf(b, "%u", ((const uint16_t *)t->data)[i]);
        case TENSOR_UINT32: return buf_appendf(b, "%u", ((const uint32_t *)t->data)[i]);
        case TENSOR_UINT64: return buf_appendf(b, "%llu", (unsigned long long)((const uint64_t *)t->data)[i]);
        default: return buf_appendf(b, "%u", ((const uint8_t *)t->data)[i]);
        }
    }
    int rc = buf_append(b, "[", 1);
    for (int64_t i = 0; i < t->dims[depth] && !rc; i++) {
        if (i)
            rc = buf_append(b, ",", 1);
        if (!rc)
            rc = write_values(b, t, depth + 1, pos);
    }
    return rc ? rc : buf_append(b, "]", 1);
}

/* A ZipMap output: one {label: score} object per row of its [N, C] scores. */
static int write_map_rows(struct buf *b, const struct engine_io *io, const struct tensor *t)
{
    int64_t rows = t->rank == 2 ? t->dims[0] : 0, cols = t->rank == 2 ? t->dims[1] : 0;
    if (t->type != TENSOR_FLOAT || cols != (int64_t)io->n_map_keys)
        return err_set(ERR_INVALID, "output '%s': scores do not match its %zu labels", io->name, io->n_map_keys);
    int rc = buf_append(b, "[", 1);
    for (int64_t r = 0; r < rows && !rc; r++) {
        rc = buf_append_str(b, r ? ",{" : "{");
        for (int64_t k = 0; k < cols && !rc; k++) {
            if (k)
                rc = buf_append(b, ",", 1);
            if (!rc)
                rc = json_write_string(b, io->map_keys[k], strlen(io->map_keys[k]));
            if (!rc)
                rc = buf_append(b, ":", 1);
            if (!rc)
                rc = json_write_float(b, ((const float *)t->data)[r * cols + k]);
        }
        if (!rc)
            rc = buf_append(b, "}", 1);
    }
    return rc ? rc : buf_append(b, "]", 1);
}

static int write_output(struct buf *b, const struct engine_io *io, const struct tensor *t)
{
    size_t pos = 0;
    return io->map_keys ? write_map_rows(b, io, t) : write_values(b, t, 0, &pos);
}

/* Schema of one tensor as nested JSON arrays, with its shape in the description. */
static void tensor_schema(struct buf *b, const struct engine_io *io)
{
    if (io->map_keys) {
        buf_append_str(b, "{\"type\": \"array\", \"items\": {\"type\": \"object\", \"additionalProperties\": "
                          "{\"type\": \"number\", \"format\": \"float\"}}}");
        return;
    }
    const struct tensor *t = &io->shape;
    int rank = t->rank < 0 ? 1 : t->rank;
    const char *item = t->type == TENSOR_BOOL ? "{\"type\": \"boolean\"}"
                       : (t->type == TENSOR_FLOAT || t->type == TENSOR_DOUBLE || t->type == TENSOR_FLOAT16 ||
                          t->type == TENSOR_BFLOAT16)
                           ? "{\"type\": \"number\", \"format\": \"float\"}"
                           : "{\"type\": \"integer\"}";
    for (int i = 0; i < rank; i++)
        buf_append_str(b, "{\"type\": \"array\", \"items\": ");
    buf_append_str(b, item);
    for (int i = 0; i < rank; i++)
        buf_append_str(b, "}");
}

static void io_object_schema(struct buf *b, const struct engine_model *m, int inputs)
{
    size_t n = inputs ? engine_input_count(m) : engine_output_count(m);
    buf_append_str(b, "{\"type\": \"object\", \"properties\": {");
    for (size_t i = 0; i < n; i++) {
        const struct engine_io *io = inputs ? engine_input(m, i) : engine_output(m, i);
        if (i)
            buf_append_str(b, ", ");
        const char *name = n == 1 && inputs ? "data" : io->name;
        json_write_string(b, name, strlen(name));
        buf_append_str(b, ": ");
        tensor_schema(b, io);
    }
    buf_append_str(b, "}}");
}

static int onnx_describe(struct scorer *self, struct buf *input_schema, struct buf *output_schema)
{
    struct onnx_state *st = self->state;
    pthread_rwlock_rdlock(&st->lock);
    const struct engine_model *m = st->models[0].model; /* several models: the first describes the service */
    io_object_schema(input_schema, m, 1);
    if (engine_output_count(m) == 1)
        tensor_schema(output_schema, engine_output(m, 0));
    else
        io_object_schema(output_schema, m, 0);
    pthread_rwlock_unlock(&st->lock);
    return 0;
}

static int fail_request(struct scorer_response *resp, int code)
{
    resp->status = code == ERR_LIMIT ? 413 : 400;
    buf_reset(resp->body);
    buf_append_str(resp->body, "{\"message\": ");
    const char *msg = err_message(code);
    json_write_string(resp->body, msg, strlen(msg));
    buf_append_str(resp->body, "}");
    err_clear();
    return 0;
}

/* Versions compare as numbers (Azure ML versions are integers), then as text. */
static int version_cmp(const char *a, const char *b)
{
    size_t la = strspn(a, "0123456789"), lb = strspn(b, "0123456789");
    if (la && lb && !a[la] && !b[lb] && la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

/* ?model=NAME[:VERSION] picks a model; without it there must be only one.
 * Without a version, the highest one of that name. */
static int pick_model(const struct served_model **out, const struct onnx_state *st, const char *query,
                      struct arena *arena)
{
    *out = &st->models[0];
    if (st->count == 1 && !strstr(query, "model="))
        return 0;
    const char *want = NULL;
    for (const char *q = query; q && *q;) {
        const char *end = strchr(q, '&');
        if (strncmp(q, "model=", 6) == 0)
            want = arena_strndup(arena, q + 6, end ? (size_t)(end - q - 6) : strlen(q + 6));
        q = end ? end + 1 : NULL;
    }
    if (!want)
        return err_set(ERR_INVALID, "this service has %zu models: choose one with ?model=NAME[:VERSION]", st->count);
    const char *colon = strchr(want, ':');
    size_t name_len = colon ? (size_t)(colon - want) : strlen(want);
    const struct served_model *best = NULL;
    for (size_t i = 0; i < st->count; i++) {
        const struct served_model *m = &st->models[i];
        if (strlen(m->name) != name_len || strncmp(m->name, want, name_len) != 0)
            continue;
        if (colon && strcmp(m->version, colon + 1) != 0)
            continue;
        if (!best || version_cmp(m->version, best->version) > 0)
            best = m;
    }
    if (!best)
        return err_set(ERR_NOTFOUND, "no model '%s' in this service", want);
    *out = best;
    return 0;
}

static int score_locked(struct onnx_state *st, const struct scorer_request *req, struct scorer_response *resp)
{
    const struct served_model *picked;
    int rc = pick_model(&picked, st, req->query ? req->query : "", req->arena);
    if (rc) {
        fail_request(resp, rc);
        if (rc == ERR_NOTFOUND)
            resp->status = 404;
        return 0;
    }
    const struct engine_model *m = picked->model;
    size_t n_in = engine_input_count(m), n_out = engine_output_count(m);
    struct json_value *doc;
    rc = json_parse(&doc, req->arena, req->body, req->body_len, "request body");
    if (rc)
        return fail_request(resp, rc);
    struct tensor *inputs = arena_alloc(req->arena, (n_in + 1) * sizeof *inputs);
    struct tensor *outputs = arena_alloc(req->arena, (n_out + 1) * sizeof *outputs);
    if (!inputs || !outputs)
        return fail_request(resp, err_set(ERR_LIMIT, "request memory limit reached"));
    /* {"inputs": {"name": [...]}} names the inputs explicitly; a tensor is never an object, so this
     * cannot be mistaken for an input called "inputs". */
    const struct json_value *named = doc->type == JSON_OBJECT ? json_member(doc, "inputs") : NULL;
    const struct json_value *holder = named && named->type == JSON_OBJECT ? named : doc;
    for (size_t i = 0; i < n_in; i++) {
        const struct engine_io *io = engine_input(m, i);
        const struct json_value *v = holder->type == JSON_OBJECT ? json_member(holder, io->name) : NULL;
        if (!v && n_in == 1 && holder == doc)
            v = doc->type == JSON_ARRAY ? doc : json_member(doc, "data");
        if (!v)
            return fail_request(resp, err_set(ERR_INVALID, "missing input '%s'%s", io->name,
                                              n_in == 1 ? " (send {\"data\": [...]})"
                                                        : " (send {\"inputs\": {\"<name>\": [...], ...}})"));
        rc = tensor_from_json(&inputs[i], io, v, req->arena);
        if (rc)
            return fail_request(resp, rc);
    }
    req->arena->limit = 0; /* the request's limit bounds its parsing; the model's own needs are the model's */
    rc = engine_run(m, req->arena, inputs, outputs);
    if (rc == ERR_INVALID || rc == ERR_LIMIT)
        return fail_request(resp, rc);
    if (rc)
        return rc;
    struct buf *b = resp->body;
    if (n_out == 1)
        return write_output(b, engine_output(m, 0), &outputs[0]);
    rc = buf_append(b, "{", 1);
    for (size_t i = 0; i < n_out && !rc; i++) {
        const char *name = engine_output(m, i)->name;
        if (i)
            rc = buf_append(b, ", ", 2);
        if (!rc)
            rc = json_write_string(b, name, strlen(name));
        if (!rc)
            rc = buf_append(b, ": ", 2);
        if (!rc)
            rc = write_output(b, engine_output(m, i), &outputs[i]);
    }
    return rc ? rc : buf_append(b, "}", 1);
}

static int onnx_score(struct scorer *self, const struct scorer_request *req, struct scorer_response *resp)
{
    struct onnx_state *st = self->state;
    pthread_rwlock_rdlock(&st->lock);
    int rc = score_locked(st, req, resp);
    pthread_rwlock_unlock(&st->lock);
    return rc;
}

static int onnx_visit_models(struct scorer *self, scorer_models_fn fn, void *arg)
{
    struct onnx_state *st = self->state;
    pthread_rwlock_rdlock(&st->lock);
    int rc = fn(arg, st->views, st->count);
    pthread_rwlock_unlock(&st->lock);
    return rc;
}

/* The public view of loaded models (names and versions borrowed from them). */
static struct scorer_model *model_views_new(const struct served_model *models, size_t count)
{
    struct scorer_model *v = calloc(count ? count : 1, sizeof *v);
    for (size_t i = 0; v && i < count; i++)
        v[i] = (struct scorer_model){.name = models[i].name, .version = models[i].version, .model = models[i].model};
    return v;
}

static void served_models_free(struct served_model *models, size_t count)
{
    for (size_t i = 0; models && i < count; i++) {
        engine_model_free(models[i].model);
        free(models[i].path);
        free(models[i].name);
        free(models[i].version);
    }
    free(models);
}

static void onnx_destroy(struct scorer *self)
{
    struct onnx_state *st = self->state;
    served_models_free(st->models, st->count);
    free(st->views);
    pthread_rwlock_destroy(&st->lock);
    free(st->model_dir);
    free(st);
    free(self);
}

const char *scorer_onnx_model_path(const struct scorer *s)
{
    return ((const struct onnx_state *)s->state)->models[0].path;
}

/* Azure ML's single-model layout: AZUREML_MODEL_DIR is .../azureml-models/NAME/VERSION itself.
 * Sets name and version from it, or leaves them NULL when root is not such a folder. */
static int name_from_root(struct served_model *m, const char *root)
{
    size_t len = strlen(root);
    while (len > 1 && root[len - 1] == '/')
        len--;
    const char *end = root + len, *p = end;
    const char *cut[3];
    for (int i = 0; i < 3; i++) { /* the starts of VERSION, NAME and azureml-models */
        while (p > root && p[-1] != '/')
            p--;
        cut[i] = p;
        if (p == root && i < 2)
            return 0;
        if (p > root)
            p--;
    }
    if ((size_t)(cut[1] - cut[2]) != sizeof "azureml-models" || strncmp(cut[2], "azureml-models/", 15) != 0 ||
        cut[1] + 1 >= cut[0] || cut[0] >= end)
        return 0;
    m->name = strndup(cut[1], (size_t)(cut[0] - cut[1] - 1));
    m->version = strndup(cut[0], (size_t)(end - cut[0]));
    return m->name && m->version ? 0 : err_set(ERR_NOMEM, "out of memory");
}

/* The part of path below root, without leading slashes. */
static const char *below_root(const char *root, const char *path)
{
    size_t root_len = strlen(root);
    const char *rel = strncmp(path, root, root_len) == 0 ? path + root_len : path;
    while (*rel == '/')
        rel++;
    return rel;
}

/* Length of "<name>/<version>/" at the start of rel when the file lies in
 * Azure ML's multi-model layout (at any depth below the version: a registered
 * folder keeps its own sub-folders), else 0. */
static size_t layout_prefix(const char *rel)
{
    const char *first = strchr(rel, '/');
    const char *second = first && first > rel ? strchr(first + 1, '/') : NULL;
    return second && second > first + 1 ? (size_t)(second - rel + 1) : 0;
}

/* Name and version of a model file from where it sits under root: a file
 * alone in its NAME/VERSION folder is that model; several there are named by
 * their stems and keep the version; a file elsewhere is named by its stem
 * (the single model of an image whose root is .../azureml-models/NAME/VERSION
 * is named by that folder). */
static int name_model(struct served_model *m, const char *root, const char *path, int only, int alone_in_version)
{
    const char *rel = below_root(root, path);
    size_t prefix = layout_prefix(rel);
    if (prefix && alone_in_version) {
        const char *first = strchr(rel, '/');
        m->name = strndup(rel, (size_t)(first - rel));
        m->version = strndup(first + 1, prefix - (size_t)(first - rel) - 2);
        return m->name && m->version ? 0 : err_set(ERR_NOMEM, "out of memory");
    }
    if (only && name_from_root(m, root) == 0 && m->name)
        return 0;
    free(m->name);
    free(m->version);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    m->name = strndup(base, dot ? (size_t)(dot - base) : strlen(base));
    if (prefix) {
        const char *first = strchr(rel, '/');
        m->version = strndup(first + 1, prefix - (size_t)(first - rel) - 2);
    } else {
        m->version = strdup("");
    }
    return m->name && m->version ? 0 : err_set(ERR_NOMEM, "out of memory");
}

/* How many of the found files share path i's NAME/VERSION folder. */
static size_t files_in_version(char *const *found, size_t count, size_t i, const char *root)
{
    const char *rel = below_root(root, found[i]);
    size_t prefix = layout_prefix(rel), n = 0;
    for (size_t j = 0; prefix && j < count; j++) {
        const char *other = found[j] ? below_root(root, found[j]) : NULL;
        if (other && layout_prefix(other) == prefix && strncmp(other, rel, prefix) == 0)
            n++;
    }
    return n;
}

static int served_model_cmp(const void *a, const void *b)
{
    const struct served_model *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : version_cmp(x->version, y->version);
}

/* Every .onnx under model_dir, loaded and sorted; *bytes is their total size. */
static int load_models(struct served_model **out, size_t *out_count, off_t *bytes, const char *model_dir)
{
    char **found = NULL;
    size_t count = 0, loaded = 0;
    struct served_model *models = NULL;
    *bytes = 0;
    int rc = model_files_find_onnx(&found, &count, model_dir);
    if (!rc && count == 0)
        rc = err_set(ERR_NOTFOUND, "no .onnx model under '%s' and no entry script", model_dir);
    if (!rc && !(models = calloc(count, sizeof *models)))
        rc = err_set(ERR_NOMEM, "out of memory");
    size_t *alone = rc ? NULL : calloc(count, sizeof *alone);
    if (!rc && !alone)
        rc = err_set(ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count && !rc; i++)
        alone[i] = files_in_version(found, count, i, model_dir) <= 1;
    for (size_t i = 0; i < count && !rc; i++) {
        struct served_model *m = &models[i];
        loaded++;
        m->path = found[i];
        found[i] = NULL;
        rc = name_model(m, model_dir, m->path, count == 1, (int)alone[i]);
        if (!rc)
            rc = engine_model_load_file(&m->model, m->path);
        if (!rc) /* the rule amlpkg applied when it built the package */
            rc = engine_check_servable(m->model);
        struct stat st;
        *bytes += stat(m->path, &st) == 0 ? st.st_size : SMALL_MODEL_BYTES;
    }
    model_files_free(found, count);
    free(alone);
    if (!rc)
        qsort(models, count, sizeof *models, served_model_cmp);
    for (size_t i = 1; i < count && !rc; i++)
        if (served_model_cmp(&models[i - 1], &models[i]) == 0)
            rc = err_set(ERR_INVALID, "two models would both be named '%s'%s%s: '%s' and '%s' (rename one of the files)",
                         models[i].name, models[i].version[0] ? " version " : "", models[i].version,
                         models[i - 1].path, models[i].path);
    if (rc) {
        served_models_free(models, loaded);
        return rc;
    }
    *out = models;
    *out_count = count;
    return 0;
}

/* SIGHUP: the models are read again; on any error the old ones keep serving. */
static void onnx_reload(struct scorer *self)
{
    struct onnx_state *st = self->state;
    struct served_model *models = NULL;
    size_t count = 0;
    off_t bytes;
    int rc = load_models(&models, &count, &bytes, st->model_dir);
    if (rc) {
        fprintf(stderr, "amlserve: SIGHUP: keeping the old models: %s\n", err_message(rc));
        err_clear();
        return;
    }
    struct scorer_model *views = model_views_new(models, count);
    if (!views) {
        fprintf(stderr, "amlserve: SIGHUP: keeping the old models: out of memory\n");
        served_models_free(models, count);
        return;
    }
    pthread_rwlock_wrlock(&st->lock);
    struct served_model *old = st->models;
    struct scorer_model *old_views = st->views;
    size_t old_count = st->count;
    st->models = models;
    st->views = views;
    st->count = count;
    pthread_rwlock_unlock(&st->lock);
    served_models_free(old, old_count);
    free(old_views);
    fprintf(stderr, "amlserve: SIGHUP: %zu model%s reloaded from '%s'\n", count, count == 1 ? "" : "s", st->model_dir);
}

int scorer_onnx_new(struct scorer **out, const char *model_dir)
{
    *out = NULL;
    struct onnx_state *state = calloc(1, sizeof *state);
    struct scorer *s = calloc(1, sizeof *s);
    off_t total_bytes = 0;
    int rc = 0;
    if (!state || !s || !(state->model_dir = strdup(model_dir))) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = load_models(&state->models, &state->count, &total_bytes, model_dir)))
        goto done;
    if (!(state->views = model_views_new(state->models, state->count))) {
        served_models_free(state->models, state->count);
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    pthread_rwlock_init(&state->lock, NULL);
    s->kind = "onnx";
    s->run_inline = total_bytes < SMALL_MODEL_BYTES;
    s->score = onnx_score;
    s->destroy = onnx_destroy;
    s->describe = onnx_describe;
    s->reload = onnx_reload;
    s->visit_models = onnx_visit_models;
    s->state = state;
    *out = s;
    s = NULL;
    state = NULL;
done:
    if (state)
        free(state->model_dir);
    free(state);
    free(s);
    return rc;
}
