/* Runs ONNX backend test cases (model.onnx + test_data_set_N/{input,output}_K.pb,
 * every data set) through the engine and compares results with the expected outputs.
 *
 * One line per test directory, for tests/conformance/run.sh to count:
 *   PASS name
 *   FAIL name: detail            (the engine has every operator, the result is wrong)
 *   UNSUPPORTED name: Op1,Op2    (operators the engine lacks)
 *   NOTIMPL name: detail         (operators present, a type or attribute value is not)
 * Floats compare with |got - want| <= atol + rtol * |want| (rtol 1e-3, atol 1e-5);
 * integers and bools exactly. Exit status 0 unless the runner itself fails. */
#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "onnx.pb-c.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/onnx_reader.h"
#include "runtime/engine/ops/ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_IO 32
#define RTOL 1e-3
#define ATOL 1e-5

/* Frees a value read from a .pb file (a sequence's items too). */
static void free_value(struct tensor *t)
{
    if (t->type == TENSOR_SEQUENCE && t->data) {
        struct tensor_sequence *s = t->data;
        for (int64_t i = 0; i < s->count; i++)
            free_value((struct tensor *)&s->items[i]);
        free((void *)s->items);
    }
    free(t->data);
    t->data = NULL;
}

static int read_tensor(struct tensor *out, const uint8_t *data, size_t len, const char *path)
{
    Onnx__TensorProto *p = onnx__tensor_proto__unpack(NULL, len, data);
    if (!p)
        return err_set(ERR_PARSE, "%s: not a TensorProto", path);
    int rc = onnx_reader_tensor(out, p, path, NULL);
    onnx__tensor_proto__free_unpacked(p, NULL);
    return rc;
}

/* One protobuf wire field: its number and, for length-delimited fields, the bytes. */
static int next_field(const uint8_t **pos, const uint8_t *end, uint32_t *field, const uint8_t **sub, size_t *sub_len)
{
    uint64_t key = 0, v = 0;
    for (int shift = 0;; shift += 7) {
        if (*pos >= end || shift > 63)
            return -1;
        uint8_t b = *(*pos)++;
        key |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    *field = (uint32_t)(key >> 3);
    *sub = NULL;
    switch (key & 7) {
    case 0:
    case 2:
        for (int shift = 0;; shift += 7) {
            if (*pos >= end || shift > 63)
                return -1;
            uint8_t b = *(*pos)++;
            v |= (uint64_t)(b & 0x7f) << shift;
            if (!(b & 0x80))
                break;
        }
        if ((key & 7) == 2) {
            if (v > (uint64_t)(end - *pos))
                return -1;
            *sub = *pos;
            *sub_len = (size_t)v;
            *pos += v;
        }
        return 0;
    case 1: return end - *pos < 8 ? -1 : (*pos += 8, 0);
    case 5: return end - *pos < 4 ? -1 : (*pos += 4, 0);
    default: return -1;
    }
}

/* Reads a value whose protobuf message depends on the model's declaration:
 * TensorProto, SequenceProto (tensors in field 3, sequences in field 5) or
 * OptionalProto (a tensor in field 3 or a sequence in field 5; neither: no value). */
static int read_value(struct tensor *out, const uint8_t *data, size_t len, enum tensor_type type, int optional,
                      const char *path, int depth)
{
    memset(out, 0, sizeof *out);
    if (!optional && type != TENSOR_SEQUENCE)
        return read_tensor(out, data, len, path);
    if (depth > 8)
        return err_set(ERR_UNSUPPORTED, "%s: values nest too deeply", path);
    const uint8_t *pos = data, *end = data + len, *sub;
    size_t sub_len = 0;
    uint32_t field;
    if (optional) {
        out->type = TENSOR_NONE;
        while (pos < end) {
            if (next_field(&pos, end, &field, &sub, &sub_len))
                return err_set(ERR_PARSE, "%s: not an OptionalProto", path);
            if (sub && (field == 3 || field == 5)) {
                free_value(out);
                int rc = read_value(out, sub, sub_len, field == 3 ? TENSOR_FLOAT : TENSOR_SEQUENCE, 0, path, depth + 1);
                if (rc)
                    return rc;
            }
        }
        return 0;
    }
    struct tensor_sequence *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(ERR_NOMEM, "out of memory");
    out->type = TENSOR_SEQUENCE;
    out->data = s;
    int64_t cap = 0;
    while (pos < end) {
        if (next_field(&pos, end, &field, &sub, &sub_len))
            return err_set(ERR_PARSE, "%s: not a SequenceProto", path);
        if (!sub || (field != 3 && field != 5))
            continue;
        if (s->count == cap) {
            cap = cap ? cap * 2 : 8;
            struct tensor *grown = realloc((void *)s->items, (size_t)cap * sizeof *grown);
            if (!grown)
                return err_set(ERR_NOMEM, "out of memory");
            s->items = grown;
        }
        struct tensor *item = (struct tensor *)&s->items[s->count];
        int rc = read_value(item, sub, sub_len, field == 3 ? TENSOR_FLOAT : TENSOR_SEQUENCE, 0, path, depth + 1);
        s->count += item->data != NULL; /* a failed item holds nothing to free */
        if (rc)
            return rc;
        s->elem_type = item->type;
    }
    return 0;
}

static int read_value_file(struct tensor *out, const char *path, const struct engine_io *io)
{
    struct buf file;
    buf_init(&file, (size_t)1 << 30);
    int rc = buf_read_file(&file, path);
    if (!rc)
        rc = read_value(out, (const uint8_t *)file.data, file.len, io ? io->shape.type : TENSOR_FLOAT,
                        io ? io->optional : 0, path, 0);
    buf_release(&file);
    return rc;
}

/* Appends to out (comma-separated, each once) the operators the engine lacks,
 * subgraphs (If branches, Loop bodies) included. */
static void missing_ops(char *out, size_t out_size, const Onnx__GraphProto *g)
{
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *np = g->node[i];
        for (size_t a = 0; a < np->n_attribute; a++)
            if (np->attribute[a]->g)
                missing_ops(out, out_size, np->attribute[a]->g);
        if (np->op_type && ops_find(np->domain, np->op_type))
            continue;
        char entry[160];
        snprintf(entry, sizeof entry, "%s%s%s", np->domain && np->domain[0] ? np->domain : "",
                 np->domain && np->domain[0] ? "." : "", np->op_type ? np->op_type : "(none)");
        int dup = 0;
        for (const char *s = out; *s && !dup;) {
            size_t len = strcspn(s, ",");
            dup = len == strlen(entry) && strncmp(s, entry, len) == 0;
            s += len + (s[len] == ',');
        }
        size_t used = strlen(out);
        if (!dup && used + 1 < out_size)
            snprintf(out + used, out_size - used, "%s%s", used ? "," : "", entry);
    }
}

static int compare(char *why, size_t why_size, const struct tensor *got, const struct tensor *want)
{
    if (want->type == TENSOR_SEQUENCE && got->type == TENSOR_SEQUENCE) {
        const struct tensor_sequence *g = got->data, *w = want->data;
        if (g->count != w->count) {
            snprintf(why, why_size, "sequence of %lld, expected %lld", (long long)g->count, (long long)w->count);
            return 0;
        }
        for (int64_t i = 0; i < w->count; i++) {
            char item_why[256];
            if (!compare(item_why, sizeof item_why, &g->items[i], &w->items[i])) {
                snprintf(why, why_size, "item %lld: %s", (long long)i, item_why);
                return 0;
            }
        }
        return 1;
    }
    if (want->type == TENSOR_NONE || got->type == TENSOR_NONE || want->type == TENSOR_SEQUENCE ||
        got->type == TENSOR_SEQUENCE) {
        if (got->type == want->type)
            return 1;
        snprintf(why, why_size, "%s, expected %s", tensor_type_name(got->type), tensor_type_name(want->type));
        return 0;
    }
    if (got->type != want->type) {
        snprintf(why, why_size, "type %s, expected %s", tensor_type_name(got->type), tensor_type_name(want->type));
        return 0;
    }
    int same = got->rank == want->rank;
    for (int i = 0; same && i < got->rank; i++)
        same = got->dims[i] == want->dims[i];
    if (!same) {
        char g[128], w[128];
        tensor_format_shape(g, sizeof g, got->dims, got->rank);
        tensor_format_shape(w, sizeof w, want->dims, want->rank);
        snprintf(why, why_size, "shape %s, expected %s", g, w);
        return 0;
    }
    int64_t n = tensor_element_count(want);
    for (int64_t i = 0; i < n; i++) {
        int ok;
        double g, w;
        switch (want->type) {
        case TENSOR_FLOAT:
        case TENSOR_FLOAT16:
        case TENSOR_BFLOAT16:
        case TENSOR_DOUBLE:
            g = ops_load(want->type, got->data, i);
            w = ops_load(want->type, want->data, i);
            ok = (isnan(g) && isnan(w)) || g == w || fabs(g - w) <= ATOL + RTOL * fabs(w);
            break;
        case TENSOR_STRING: {
            const struct tensor_string *gs = &((const struct tensor_string *)got->data)[i],
                                       *ws = &((const struct tensor_string *)want->data)[i];
            if (gs->len == ws->len && (!ws->len || memcmp(gs->data, ws->data, ws->len) == 0))
                continue;
            snprintf(why, why_size, "element %lld is '%.*s', expected '%.*s'", (long long)i,
                     (int)(gs->len > 64 ? 64 : gs->len), gs->data ? gs->data : "", (int)(ws->len > 64 ? 64 : ws->len),
                     ws->data ? ws->data : "");
            return 0;
        }
        case TENSOR_INT64:
            ok = ((const int64_t *)got->data)[i] == ((const int64_t *)want->data)[i];
            g = (double)((const int64_t *)got->data)[i];
            w = (double)((const int64_t *)want->data)[i];
            break;
        default:
            g = ops_load(want->type, got->data, i);
            w = ops_load(want->type, want->data, i);
            ok = g == w;
            break;
        }
        if (!ok) {
            snprintf(why, why_size, "element %lld is %.9g, expected %.9g", (long long)i, g, w);
            return 0;
        }
    }
    return 1;
}

static void free_tensors(struct tensor *ts, int n)
{
    for (int i = 0; i < n; i++)
        free_value(&ts[i]);
}

/* Runs one test directory; prints its line. */
static void run_test(const char *dir)
{
    char path[4096], why[512] = "", name[256];
    /* The test's name is the directory's last component ("dir/" as a shell glob gives it too). */
    size_t dir_len = strlen(dir);
    while (dir_len > 1 && dir[dir_len - 1] == '/')
        dir_len--;
    size_t base = dir_len;
    while (base > 0 && dir[base - 1] != '/')
        base--;
    snprintf(name, sizeof name, "%.*s", (int)(dir_len - base), dir + base);
    struct buf file;
    buf_init(&file, ONNX_READER_MAX_BYTES);
    Onnx__ModelProto *proto = NULL;
    struct engine_model *model = NULL;
    struct tensor inputs[MAX_IO] = {0}, want[MAX_IO] = {0}, got[MAX_IO];
    int n_in = 0, n_want = 0, cases = 0;
    struct arena arena;
    arena_init(&arena, 1 << 16, (size_t)1 << 30);
    err_clear();
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    int rc = buf_read_file(&file, path);
    if (!rc)
        rc = onnx_reader_parse(&proto, file.data, file.len, path);
    if (rc) {
        printf("FAIL %s: %s\n", name, err_message(rc));
        goto done;
    }
    char missing[1024] = "";
    missing_ops(missing, sizeof missing, proto->graph);
    if (missing[0]) {
        printf("UNSUPPORTED %s: %s\n", name, missing);
        goto done;
    }
    /* From the file: the way amlserve loads models (mapped, weights borrowed). */
    rc = engine_model_load_file(&model, path);
    if (rc) {
        printf("%s %s: %s\n", rc == ERR_UNSUPPORTED ? "NOTIMPL" : "FAIL", name, err_message(rc));
        goto done;
    }
    for (int set = 0;; set++) {
        snprintf(path, sizeof path, "%s/test_data_set_%d", dir, set);
        if (access(path, F_OK) != 0)
            break;
        for (n_in = 0; n_in < MAX_IO; n_in++) {
            snprintf(path, sizeof path, "%s/test_data_set_%d/input_%d.pb", dir, set, n_in);
            if (access(path, F_OK) != 0)
                break;
            err_clear();
            rc = read_value_file(&inputs[n_in], path, engine_input(model, (size_t)n_in));
            if (rc) {
                free_value(&inputs[n_in]);
                printf("%s %s: %s\n", rc == ERR_UNSUPPORTED ? "NOTIMPL" : "FAIL", name, err_message(rc));
                goto done;
            }
        }
        for (n_want = 0; n_want < MAX_IO; n_want++) {
            snprintf(path, sizeof path, "%s/test_data_set_%d/output_%d.pb", dir, set, n_want);
            if (access(path, F_OK) != 0)
                break;
            err_clear();
            rc = read_value_file(&want[n_want], path, engine_output(model, (size_t)n_want));
            if (rc) {
                free_value(&want[n_want]);
                printf("%s %s: %s\n", rc == ERR_UNSUPPORTED ? "NOTIMPL" : "FAIL", name, err_message(rc));
                goto done;
            }
        }
        if ((size_t)n_in != engine_input_count(model) || (size_t)n_want != engine_output_count(model)) {
            printf("FAIL %s: data set %d has %d inputs and %d outputs, the model %zu and %zu\n", name, set, n_in,
                   n_want, engine_input_count(model), engine_output_count(model));
            goto done;
        }
        /* The suite writes bfloat16 tensors as uint16 (same bits): take the model's word for it. */
        for (int k = 0; k < n_in; k++)
            if (inputs[k].type == TENSOR_UINT16 && engine_input(model, (size_t)k)->shape.type == TENSOR_BFLOAT16)
                inputs[k].type = TENSOR_BFLOAT16;
        for (int k = 0; k < n_want; k++)
            if (want[k].type == TENSOR_UINT16 && engine_output(model, (size_t)k)->shape.type == TENSOR_BFLOAT16)
                want[k].type = TENSOR_BFLOAT16;
        /* Twice: the second run is the one that uses what the first left with the model
         * (the memory plan, kernels' caches), and must answer the same. */
        for (int pass = 0; pass < 2; pass++) {
            const char *which = pass ? " (second run)" : "";
            err_clear();
            arena_reset(&arena);
            rc = engine_run(model, &arena, inputs, got);
            if (rc) {
                printf("%s %s: data set %d%s: %s\n", rc == ERR_UNSUPPORTED ? "NOTIMPL" : "FAIL", name, set, which,
                       err_message(rc));
                goto done;
            }
            for (int k = 0; k < n_want; k++) {
                if (!compare(why, sizeof why, &got[k], &want[k])) {
                    printf("FAIL %s: data set %d%s output %d ('%s'): %s\n", name, set, which, k,
                           engine_output(model, (size_t)k)->name, why);
                    goto done;
                }
            }
        }
        free_tensors(inputs, n_in);
        free_tensors(want, n_want);
        n_in = n_want = 0;
        cases++;
    }
    if (cases)
        printf("PASS %s\n", name);
    else
        printf("FAIL %s: no test_data_set_N directories\n", name);
done:
    fflush(stdout);
    free_tensors(inputs, n_in);
    free_tensors(want, n_want);
    arena_release(&arena);
    engine_model_free(model);
    onnx_reader_free(proto);
    buf_release(&file);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: %s TEST_DIR...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++)
        run_test(argv[i]);
    return 0;
}
