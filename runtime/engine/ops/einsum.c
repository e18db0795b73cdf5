/* Einsum by direct summation: every output element sums the product of the
 * inputs over all values of the labels that do not appear in the output.
 * Handles implicit output, repeated labels (diagonals), "..." and size-1
 * broadcasting. Cost is the product of all label sizes: fine for the small
 * contractions models use it for, not a replacement for MatMul. */
#include "ops.h"

#include "common/err.h"

#include <string.h>

#define MAX_LABELS 64 /* 52 letters + up to TENSOR_MAX_RANK ellipsis dimensions */
#define ELLIPSIS_BASE 52

static int label_id(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return 26 + c - 'A';
    return -1;
}

struct term {
    int n;
    int labels[TENSOR_MAX_RANK];
};

/* Parses one comma-separated term, expanding "..." to ell_rank ellipsis labels
 * (right-aligned against the widest ellipsis, ell_max). */
static int parse_term(const char *s, size_t len, int rank, struct term *t, int *ell_max, int count_only)
{
    int explicit = 0, has_ell = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ')
            continue;
        if (s[i] == '.') {
            if (has_ell || i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.')
                return -1;
            has_ell = 1;
            i += 2;
            continue;
        }
        if (label_id(s[i]) < 0)
            return -1;
        explicit ++;
    }
    /* rank < 0: the output term, whose "..." spans the widest input ellipsis */
    int ell = !has_ell ? 0 : rank < 0 ? *ell_max : rank - explicit;
    if (ell < 0 || (!has_ell && rank >= 0 && explicit != rank) || explicit + ell > TENSOR_MAX_RANK)
        return -1;
    if (count_only) {
        if (ell > *ell_max)
            *ell_max = ell;
        return 0;
    }
    t->n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ')
            continue;
        if (s[i] == '.') {
            for (int k = 0; k < ell; k++)
                t->labels[t->n++] = ELLIPSIS_BASE + (*ell_max - ell) + k;
            i += 2;
            continue;
        }
        t->labels[t->n++] = label_id(s[i]);
    }
    return 0;
}

int op_einsum(const struct op_call *call)
{
    const Onnx__AttributeProto *eq = ops_attr(call, "equation");
    if (!eq || !eq->has_s)
        return ops_fail(call, "attribute 'equation' is missing");
    const char *s = (const char *)eq->s.data;
    size_t len = eq->s.len;
    int n_in = call->n_inputs;
    enum tensor_type type = call->inputs[0]->type;
    if (type != TENSOR_FLOAT && type != TENSOR_DOUBLE && type != TENSOR_INT64 && type != TENSOR_INT32)
        return ops_unsupported(call, "inputs of type %s are not supported", tensor_type_name(type));
    for (int k = 0; k < n_in; k++)
        if (!call->inputs[k] || call->inputs[k]->type != type)
            return ops_fail(call, "inputs must share one type");
    const char *arrow = NULL;
    for (size_t i = 0; i + 1 < len; i++)
        if (s[i] == '-' && s[i + 1] == '>')
            arrow = s + i;
    size_t lhs_len = arrow ? (size_t)(arrow - s) : len;
    struct term terms[16], out;
    if (n_in > 16)
        return ops_unsupported(call, "more than 16 inputs");
    int ell_max = 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t start = 0;
        int k = 0;
        for (size_t i = 0; i <= lhs_len; i++) {
            if (i < lhs_len && s[i] != ',')
                continue;
            if (k >= n_in || parse_term(s + start, i - start, call->inputs[k]->rank, &terms[k], &ell_max, pass == 0))
                return ops_fail(call, "equation does not match the inputs");
            k++;
            start = i + 1;
        }
        if (k != n_in)
            return ops_fail(call, "equation names %d inputs, the node has %d", k, n_in);
    }
    int64_t size[MAX_LABELS];
    int used[MAX_LABELS] = {0}, seen_count[MAX_LABELS] = {0};
    for (int l = 0; l < MAX_LABELS; l++)
        size[l] = 1;
    for (int k = 0; k < n_in; k++)
        for (int j = 0; j < terms[k].n; j++) {
            int l = terms[k].labels[j];
            int64_t d = call->inputs[k]->dims[j];
            if (used[l] && size[l] != d && size[l] != 1 && d != 1)
                return ops_fail(call, "label sizes disagree");
            if (!used[l] || size[l] == 1)
                size[l] = d;
            used[l] = 1;
            seen_count[l]++;
        }
    if (arrow) {
        if (parse_term(arrow + 2, len - lhs_len - 2, -1, &out, &ell_max, 0))
            return ops_fail(call, "bad output term");
        for (int j = 0; j < out.n; j++)
            if (!used[out.labels[j]])
                return ops_fail(call, "output label is not an input label");
    } else { /* implicit: ellipsis first, then labels seen once, alphabetically */
        out.n = 0;
        for (int l = ELLIPSIS_BASE; l < MAX_LABELS; l++)
            if (used[l])
                out.labels[out.n++] = l;
        for (int l = 0; l < ELLIPSIS_BASE; l++)
            if (used[l] && seen_count[l] == 1)
                out.labels[out.n++] = l;
    }
    if (out.n > TENSOR_MAX_RANK)
        return ops_unsupported(call, "output rank above %d", TENSOR_MAX_RANK);
    int in_out[MAX_LABELS] = {0}, sum_labels[MAX_LABELS], n_sum = 0;
    int64_t dims[TENSOR_MAX_RANK], sum_total = 1;
    for (int j = 0; j < out.n; j++) {
        in_out[out.labels[j]] = 1;
        dims[j] = size[out.labels[j]];
    }
    for (int l = 0; l < MAX_LABELS; l++)
        if (used[l] && !in_out[l]) {
            sum_labels[n_sum++] = l;
            if (size[l] && sum_total > INT64_MAX / size[l])
                return ops_fail(call, "contraction too large");
            sum_total *= size[l];
        }
    int rc = ops_alloc_output(call, 0, type, out.n, dims);
    if (rc)
        return rc;
    /* Per input, the element stride each label contributes (summed when a label repeats). */
    int64_t stride[16][MAX_LABELS];
    memset(stride, 0, sizeof stride);
    for (int k = 0; k < n_in; k++) {
        int64_t st = 1;
        for (int j = terms[k].n - 1; j >= 0; j--) {
            int64_t d = call->inputs[k]->dims[j];
            if (d != 1 || size[terms[k].labels[j]] == 1)
                stride[k][terms[k].labels[j]] += st;
            st *= d;
        }
    }
    /* A repeated label (a diagonal) counts once, with its summed stride. */
    int distinct[16][TENSOR_MAX_RANK], n_distinct[16] = {0};
    for (int k = 0; k < n_in; k++)
        for (int j = 0; j < terms[k].n; j++) {
            int dup = 0;
            for (int i = 0; i < n_distinct[k]; i++)
                dup |= distinct[k][i] == terms[k].labels[j];
            if (!dup)
                distinct[k][n_distinct[k]++] = terms[k].labels[j];
        }
    int64_t total = tensor_element_count(&call->outputs[0]);
    /* Direct summation: bound the work a request can ask for. */
    if (sum_total && total > ((int64_t)1 << 32) / sum_total)
        return err_set(ERR_LIMIT, "node '%s' (Einsum): the contraction is too large for direct summation",
                       call->node->name ? call->node->name : "");
    int64_t val[MAX_LABELS] = {0};
    for (int64_t o = 0; o < total; o++) {
        int64_t rem = o;
        for (int j = out.n - 1; j >= 0; j--) {
            val[out.labels[j]] = rem % dims[j];
            rem /= dims[j];
        }
        double acc = 0;
        for (int64_t q = 0; q < sum_total; q++) {
            int64_t r2 = q;
            for (int j = n_sum - 1; j >= 0; j--) {
                val[sum_labels[j]] = r2 % size[sum_labels[j]];
                r2 /= size[sum_labels[j]];
            }
            double prod = 1;
            for (int k = 0; k < n_in; k++) {
                int64_t off = 0;
                for (int j = 0; j < n_distinct[k]; j++)
                    off += val[distinct[k][j]] * stride[k][distinct[k][j]];
                prod *= ops_load(type, call->inputs[k]->data, off);
            }
            acc += prod;
        }
        ops_store(type, call->outputs[0].data, o, acc);
    }
    return 0;
}
