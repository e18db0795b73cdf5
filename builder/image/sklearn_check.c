#include "builder/image/sklearn_check.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A JSON array of numbers into doubles; nested arrays only where rank 2 says so. */
static int read_numbers(double **out, struct arena *arena, const struct json_value *v, size_t want, const char *source,
                        const char *field)
{
    if (!v || v->type != JSON_ARRAY || v->count != want)
        return err_set(ERR_INVALID, "%s: %s: expected an array of %zu numbers", source, field, want);
    double *d = want ? arena_alloc(arena, want * sizeof *d) : NULL;
    if (want && !d)
        return err_set(ERR_LIMIT, "%s: %s: too large", source, field);
    size_t i = 0;
    for (const struct json_value *e = v->child; e; e = e->next, i++) {
        if (e->type != JSON_NUMBER)
            return err_set(ERR_INVALID, "%s:%d:%d: %s[%zu]: expected a number", source, e->line, e->column, field, i);
        d[i] = e->as.number;
    }
    *out = d;
    return 0;
}

static int read_input(struct sklearn_check *c, struct arena *arena, const struct json_value *in, const char *source)
{
    if (!in || in->type != JSON_ARRAY || in->count == 0 || !in->child || in->child->type != JSON_ARRAY ||
        in->child->count == 0)
        return err_set(ERR_INVALID, "%s: input: expected a non-empty array of rows", source);
    c->rows = (int64_t)in->count;
    c->cols = (int64_t)in->child->count;
    if ((double)c->rows * (double)c->cols > SKLEARN_CHECK_MAX_VALUES)
        return err_set(ERR_LIMIT, "%s: input: more than %d values", source, SKLEARN_CHECK_MAX_VALUES);
    double *x = arena_alloc(arena, (size_t)(c->rows * c->cols) * sizeof *x);
    if (!x)
        return err_set(ERR_LIMIT, "%s: input: too large", source);
    int64_t r = 0;
    for (const struct json_value *row = in->child; row; row = row->next, r++) {
        double *d;
        char field[48];
        snprintf(field, sizeof field, "input[%lld]", (long long)r);
        int rc = read_numbers(&d, arena, row, (size_t)c->cols, source, field);
        if (rc)
            return rc;
        memcpy(x + r * c->cols, d, (size_t)c->cols * sizeof *x);
    }
    c->input = x;
    return 0;
}

static int read_output(struct sklearn_check_output *o, struct arena *arena, const struct json_value *v,
                       const char *source)
{
    char field[96];
    snprintf(field, sizeof field, "outputs.%.60s", v->key);
    const struct json_value *shape = v->type == JSON_OBJECT ? json_member(v, "shape") : NULL;
    if (!shape || shape->type != JSON_ARRAY || shape->count < 1 || shape->count > 2)
        return err_set(ERR_INVALID, "%s: %s.shape: expected [rows] or [rows, columns]", source, field);
    o->rank = (int)shape->count;
    o->dims[1] = 1;
    int i = 0;
    for (const struct json_value *d = shape->child; d; d = d->next, i++) {
        if (d->type != JSON_NUMBER || d->as.number < 0 || d->as.number > SKLEARN_CHECK_MAX_VALUES ||
            d->as.number != floor(d->as.number))
            return err_set(ERR_INVALID, "%s: %s.shape[%d]: expected a size", source, field, i);
        o->dims[i] = (int64_t)d->as.number;
    }
    if ((double)o->dims[0] * (double)o->dims[1] > SKLEARN_CHECK_MAX_VALUES)
        return err_set(ERR_LIMIT, "%s: %s: more than %d values", source, field, SKLEARN_CHECK_MAX_VALUES);
    double *values;
    int rc = read_numbers(&values, arena, json_member(v, "values"), (size_t)(o->dims[0] * o->dims[1]), source, field);
    if (rc)
        return rc;
    o->values = values;
    o->name = arena_strndup(arena, v->key, v->key_len);
    return o->name ? 0 : err_set(ERR_LIMIT, "%s: too large", source);
}

int sklearn_check_parse(struct sklearn_check *out, struct arena *arena, const char *text, size_t len,
                        const char *source)
{
    memset(out, 0, sizeof *out);
    struct json_value *doc;
    int rc = json_parse(&doc, arena, text, len, source);
    if (rc)
        return rc;
    if (doc->type != JSON_OBJECT)
        return err_set(ERR_INVALID, "%s: expected an object", source);
    if ((rc = read_input(out, arena, json_member(doc, "input"), source)))
        return rc;
    const struct json_value *outs = json_member(doc, "outputs");
    if (!outs || outs->type != JSON_OBJECT || outs->count == 0 || outs->count > 16)
        return err_set(ERR_INVALID, "%s: outputs: expected an object of 1 to 16 outputs", source);
    out->outputs = arena_alloc(arena, outs->count * sizeof *out->outputs);
    if (!out->outputs)
        return err_set(ERR_LIMIT, "%s: too large", source);
    for (const struct json_value *v = outs->child; v; v = v->next) {
        struct sklearn_check_output *o = &out->outputs[out->n_outputs];
        if ((rc = read_output(o, arena, v, source)))
            return rc;
        if (o->dims[0] != out->rows)
            return err_set(ERR_INVALID, "%s: outputs.%s: %lld rows for %lld input rows", source, o->name,
                           (long long)o->dims[0], (long long)out->rows);
        out->n_outputs++;
    }
    return 0;
}

static const struct sklearn_check_output *find_output(const struct sklearn_check *c, const char *name)
{
    for (size_t i = 0; i < c->n_outputs; i++)
        if (!strcmp(c->outputs[i].name, name))
            return &c->outputs[i];
    return NULL;
}

static int compare_output(const struct sklearn_check_output *want, const struct tensor *got)
{
    int64_t cols = want->rank == 2 ? want->dims[1] : 1;
    int shape_ok =
        got->rank == want->rank && got->dims[0] == want->dims[0] && (want->rank == 1 || got->dims[1] == cols);
    if (!shape_ok) {
        char shape[64];
        if (got->rank == 2)
            snprintf(shape, sizeof shape, "[%lld, %lld]", (long long)got->dims[0], (long long)got->dims[1]);
        else
            snprintf(shape, sizeof shape, "rank %d", got->rank);
        return err_set(ERR_MISMATCH, "output '%s' has shape %s, scikit-learn's has %lld rows of %lld", want->name,
                       shape, (long long)want->dims[0], (long long)cols);
    }
    int exact = got->type == TENSOR_INT64 || got->type == TENSOR_INT32 || got->type == TENSOR_BOOL;
    if (!exact && got->type != TENSOR_FLOAT && got->type != TENSOR_DOUBLE)
        return err_set(ERR_MISMATCH, "output '%s' has element type %d, not numbers", want->name, (int)got->type);
    size_t n = (size_t)(want->dims[0] * cols);
    double largest = 0;
    for (size_t i = 0; i < n; i++)
        largest = fmax(largest, fabs(want->values[i]));
    for (size_t i = 0; i < n; i++) {
        double g = got->type == TENSOR_INT64   ? (double)((const int64_t *)got->data)[i]
                   : got->type == TENSOR_INT32 ? (double)((const int32_t *)got->data)[i]
                   : got->type == TENSOR_BOOL  ? (double)((const uint8_t *)got->data)[i]
                   : got->type == TENSOR_FLOAT ? (double)((const float *)got->data)[i]
                                               : ((const double *)got->data)[i];
        double w = want->values[i];
        int same = exact ? g == w : (isnan(w) ? isnan(g) : fabs(g - w) <= SKLEARN_CHECK_RTOL * fmax(fabs(w), largest));
        if (same)
            continue;
        char where[48] = "";
        if (want->rank == 2)
            snprintf(where, sizeof where, " column %zu", i % (size_t)cols);
        return err_set(ERR_MISMATCH, "output '%s' row %zu%s: the converted model gives %.17g, scikit-learn %.17g%s",
                       want->name, i / (size_t)cols, where, g, w,
                       exact ? " (labels must match exactly)" : " (beyond rtol 1e-5)");
    }
    return 0;
}

int sklearn_check_compare(const struct sklearn_check *c, const struct engine_model *model, struct arena *arena)
{
    if (engine_input_count(model) != 1)
        return err_set(ERR_MISMATCH, "the converted model has %zu inputs, expected 1", engine_input_count(model));
    const struct engine_io *in = engine_input(model, 0);
    if (in->shape.type != TENSOR_DOUBLE || in->shape.rank != 2 ||
        (in->shape.dims[1] >= 0 && in->shape.dims[1] != c->cols))
        return err_set(ERR_MISMATCH, "the converted model's input is not [N, %lld] double", (long long)c->cols);
    struct tensor x = {.type = TENSOR_DOUBLE, .rank = 2, .dims = {c->rows, c->cols}, .data = (void *)c->input};
    size_t n_out = engine_output_count(model);
    struct tensor *outs = arena_alloc(arena, (n_out + 1) * sizeof *outs);
    if (!outs)
        return err_set(ERR_LIMIT, "check: out of arena memory");
    int rc = engine_run(model, arena, &x, outs);
    if (rc)
        return rc;
    for (size_t i = 0; i < n_out && !rc; i++) {
        const char *name = engine_output(model, i)->name;
        const struct sklearn_check_output *want = find_output(c, name);
        rc = want ? compare_output(want, &outs[i])
                  : err_set(ERR_MISMATCH, "the converted model's output '%s' has no scikit-learn counterpart", name);
    }
    return rc;
}

int sklearn_check_files(const char *model_path, const char *check_path, int64_t *rows_out)
{
    struct buf text;
    struct arena arena;
    struct engine_model *model = NULL;
    struct sklearn_check check;
    buf_init(&text, 1024L * 1024 * 1024);
    arena_init(&arena, 1 << 20, (size_t)4 << 30);
    int rc = buf_read_file(&text, check_path);
    if (!rc)
        rc = sklearn_check_parse(&check, &arena, text.data, text.len, check_path);
    if (!rc)
        rc = engine_model_load_file(&model, model_path);
    if (!rc)
        rc = sklearn_check_compare(&check, model, &arena);
    if (!rc && rows_out)
        *rows_out = check.rows;
    engine_model_free(model);
    arena_release(&arena);
    buf_release(&text);
    return rc;
}
