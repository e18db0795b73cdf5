/* The optimized CPU backend: float32 MatMul, Gemm, Conv, BatchNormalization,
 * Softmax and the hot elementwise operators on SIMD kernels (sgemm.c,
 * vecmath.c) and the engine's thread pool; int8 MatMulInteger/QLinearMatMul
 * and depthwise Conv in cpu_quant.c; stride-1 Conv directly on the image in
 * conv_direct.c (AVX-512). Anything outside the fast paths (other types,
 * unusual broadcasts, invalid inputs) is declined at run time so the
 * reference kernel answers it, with the reference's error messages. */
#include "backend.h"

#include "common/err.h"
#include "conv_depthwise.h"
#include "conv_direct.h"
#include "cpu_isa.h"
#include "cpu_quant.h"
#include "epilogue.h"
#include "pack_budget.h"
#include "cpu_rows.h"
#include "cpu_transpose.h"
#include "scratch.h"
#include "sgemm.h"
#include "sgemm_unaligned.h"
#include "threadpool.h"
#include "vecmath.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Elementwise work smaller than this stays on the calling thread. */
#define PARALLEL_MIN_ELEMENTS (1 << 16)

/* Whether bytes can be read as floats. A weight borrowed from raw_data in the mapped model may not
 * be (onnx_reader.h): MatMul and Gemm read such a B through sgemm_unaligned.h, as bytes. */
static int float_aligned(const void *p)
{
    return (uintptr_t)p % _Alignof(float) == 0;
}

/* ---- weights packed at load ---- */

/* A constant B packed for sgemm, kept in the node's cache. */
struct packed_weights {
    struct op_cache base;
    const void *b; /* the initializer's bytes it was packed from */
    int trans_b;
    struct sgemm_packed pk;
};

static size_t packed_size(const struct sgemm_packed *pk)
{
    return (size_t)(pk->k * pk->n_pad) * sizeof(float);
}

static void packed_weights_free(struct op_cache *self)
{
    struct packed_weights *pw = (struct packed_weights *)self;
    pack_budget_give(packed_size(&pw->pk));
    sgemm_packed_free(&pw->pk);
    free(pw);
}

/* At load: B of MatMul or Gemm (input 1) when it is a constant rank-2 float, packed into the cache
 * (the integer MatMuls' B in cpu_quant.c). */
static void prepare_gemm(const struct backend_node *info, _Atomic(struct op_cache *) *cache)
{
    const char *op = info->node->op_type;
    if (!strcmp(op, "MatMulInteger") || !strcmp(op, "QLinearMatMul")) {
        cpu_quant_prepare(info, cache);
        return;
    }
    if (!strcmp(op, "Conv")) {
        conv_direct_prepare(info, cache);
        return;
    }
    int matmul = !strcmp(op, "MatMul");
    if ((!matmul && strcmp(op, "Gemm")) || info->n_inputs < 2 || atomic_load(cache))
        return;
    const struct tensor *b = info->inputs[1];
    if (!b || !b->data || !backend_is_float(b) || b->rank != 2 || b->dims[0] < 1 || b->dims[1] < 1)
        return;
    struct op_call call = {.node = info->node};
    int trans_b = matmul ? 0 : ops_attr_int(&call, "transB", 0) != 0;
    int64_t k = trans_b ? b->dims[1] : b->dims[0], n = trans_b ? b->dims[0] : b->dims[1];
    /* past the budget, B is read where it lies */
    if (k > ((int64_t)1 << 40) / n || !pack_budget_take(sgemm_pack_bytes(k, n)))
        return;
    struct packed_weights *pw = calloc(1, sizeof *pw);
    if (!pw || (float_aligned(b->data) ? sgemm_pack(&pw->pk, trans_b, k, n, b->data, b->dims[1])
                                       : sgemm_pack_unaligned(&pw->pk, trans_b, k, n, b->data, b->dims[1]))) {
        pack_budget_give(sgemm_pack_bytes(k, n));
        free(pw);
        return;
    }
    pw->base.free = packed_weights_free;
    pw->b = b->data;
    pw->trans_b = trans_b;
    struct op_cache *expected = NULL;
    if (!atomic_compare_exchange_strong(cache, &expected, &pw->base))
        packed_weights_free(&pw->base);
}

/* The packed B for this call, or NULL (B fed at run time, or not the bytes packed at load). */
static const struct sgemm_packed *packed_b(const struct op_call *call, const struct tensor *b, int trans_b)
{
    if (!call->cache || !(call->constant_inputs & 2))
        return NULL;
    const struct op_cache *c = atomic_load(call->cache);
    if (!c || c->free != packed_weights_free)
        return NULL;
    const struct packed_weights *pw = (const struct packed_weights *)c;
    return pw->b == b->data && pw->trans_b == trans_b ? &pw->pk : NULL;
}

/* ---- MatMul and Gemm ---- */

static int fast_matmul(const struct op_call *call)
{
    const struct tensor *a = call->inputs[0], *b = call->inputs[1];
    if (!backend_is_float(a) || !backend_is_float(b) || a->rank < 1 || b->rank < 2)
        return BACKEND_DECLINE;
    int64_t k = a->dims[a->rank - 1], n = b->dims[b->rank - 1];
    if (b->dims[b->rank - 2] != k)
        return BACKEND_DECLINE;
    int64_t dims[TENSOR_MAX_RANK];
    int rank = a->rank == 1 ? 1 : a->rank;
    int64_t batch = 1, m = a->rank == 1 ? 1 : a->dims[a->rank - 2];
    if (b->rank == 2) {
        /* Weights: every leading dimension of A folds into the rows. */
        for (int i = 0; i < a->rank - 1; i++)
            dims[i] = a->dims[i];
        for (int i = 0; i < a->rank - 2; i++)
            m *= a->dims[i];
    } else {
        if (a->rank != b->rank)
            return BACKEND_DECLINE;
        for (int i = 0; i < a->rank - 2; i++) {
            if (a->dims[i] != b->dims[i])
                return BACKEND_DECLINE;
            dims[i] = a->dims[i];
            batch *= a->dims[i];
        }
        dims[a->rank - 2] = m;
    }
    dims[rank - 1] = n;
    struct epilogue e;
    if (epilogue_from_call(call, &e, rank, dims, rank - 1, n, NULL, 0))
        return BACKEND_DECLINE;
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, rank, dims);
    if (rc)
        return rc;
    const float *ad = a->data;
    const unsigned char *bytes = b->data;
    int aligned = float_aligned(bytes);
    float *c = call->outputs[0].data;
    const struct sgemm_packed *pk = b->rank == 2 ? packed_b(call, b, 0) : NULL;
    if (aligned) { /* the heads of an attention product (batch > 1) go over the pool a product per task */
        struct sgemm_job job = {.m = m, .n = n, .k = k, .alpha = 1.0f, .a = ad, .lda = k, .b = (const float *)bytes,
                                .ldb = n, .packed_b = pk, .c = c, .ldc = n, .epi = &e};
        sgemm_run_batched(&job, batch, m * k, k * n, m * n);
        return 0;
    }
    for (int64_t t = 0; t < batch; t++) { /* misaligned weights: read a slice at a time (sgemm_unaligned.h) */
        struct epilogue et = e;
        if (et.residual)
            et.residual += t * m * n;
        const unsigned char *bt = bytes + (size_t)(t * k * n) * sizeof(float);
        struct sgemm_job job = {.m = m, .n = n, .k = k, .alpha = 1.0f, .a = ad + t * m * k, .lda = k, .b = NULL,
                                .ldb = n, .packed_b = pk, .c = c + t * m * n, .ldc = n, .epi = &et};
        if (sgemm_run_unaligned_b(&job, bt))
            return err_set(ERR_NOMEM, "MatMul: out of memory for a slice of the weights");
    }
    return 0;
}

static int fast_gemm(const struct op_call *call)
{
    struct backend_gemm g;
    float *y;
    int add_c;
    int rc = backend_gemm_args(call, 0, &g);
    if (rc)
        return rc;
    struct epilogue e;
    int64_t dims[2] = {g.m, g.n};
    /* C as one row (a Linear layer's bias, beta 1) is added by the epilogue, not copied into Y first */
    const struct tensor *c = g.c;
    int c_row = c && g.beta == 1.0f && backend_is_float(c) && c->rank >= 1 && c->rank <= 2 &&
                c->dims[c->rank - 1] == g.n && (c->rank == 1 || c->dims[0] == 1);
    if (epilogue_from_call(call, &e, 2, dims, 1, g.n, c_row ? c->data : NULL, 0))
        return BACKEND_DECLINE;
    if ((rc = backend_gemm_output(call, c_row ? NULL : c, g.beta, g.m, g.n, &y, &add_c)))
        return rc;
    int aligned = float_aligned(g.b->data);
    struct sgemm_job job = {.trans_a = g.ta, .trans_b = g.tb, .m = g.m, .n = g.n, .k = g.k, .alpha = g.alpha,
                            .a = g.a->data, .lda = g.a->dims[1], .b = aligned ? g.b->data : NULL,
                            .ldb = g.b->dims[1], .packed_b = packed_b(call, g.b, g.tb), .beta = add_c ? 1.0f : 0.0f,
                            .c = y, .ldc = g.n, .epi = &e};
    if (aligned)
        sgemm_run(&job);
    else if (sgemm_run_unaligned_b(&job, g.b->data))
        return err_set(ERR_NOMEM, "Gemm: out of memory for a slice of the weights");
    return 0;
}

/* ---- Conv ---- */

/* col[(c, kd, kh, kw), (od, oh, ow)] for channels [c0, c0 + cg) of one image. */
static void im2col(float *col, const float *x, const struct ops_window *w, int64_t cg)
{
    int64_t in_size = w->in[0] * w->in[1] * w->in[2];
    for (int64_t c = 0; c < cg; c++) {
        const float *xc = x + c * in_size;
        for (int64_t kd = 0; kd < w->kernel[0]; kd++)
            for (int64_t kh = 0; kh < w->kernel[1]; kh++)
                for (int64_t kw = 0; kw < w->kernel[2]; kw++)
                    for (int64_t od = 0; od < w->out[0]; od++) {
                        int64_t id = od * w->stride[0] - w->pad_begin[0] + kd * w->dilation[0];
                        for (int64_t oh = 0; oh < w->out[1]; oh++) {
                            int64_t ih = oh * w->stride[1] - w->pad_begin[1] + kh * w->dilation[1];
                            if (id < 0 || id >= w->in[0] || ih < 0 || ih >= w->in[1]) {
                                memset(col, 0, (size_t)w->out[2] * sizeof *col);
                                col += w->out[2];
                                continue;
                            }
                            const float *xr = xc + (id * w->in[1] + ih) * w->in[2];
                            int64_t off = kw * w->dilation[2] - w->pad_begin[2], s = w->stride[2];
                            /* ow in [lo, hi) reads inside the row */
                            int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
                            int64_t hi = w->in[2] - off <= 0 ? 0 : (w->in[2] - off + s - 1) / s;
                            if (hi > w->out[2])
                                hi = w->out[2];
                            if (lo > hi)
                                lo = hi;
                            for (int64_t ow = 0; ow < lo; ow++)
                                col[ow] = 0;
                            if (s == 1)
                                memcpy(col + lo, xr + lo + off, (size_t)(hi - lo) * sizeof *col);
                            else
                                for (int64_t ow = lo; ow < hi; ow++)
                                    col[ow] = xr[ow * s + off];
                            for (int64_t ow = hi; ow < w->out[2]; ow++)
                                col[ow] = 0;
                            col += w->out[2];
                        }
                    }
    }
}

static int fast_conv(const struct op_call *call)
{
    int by_rows = conv_depthwise(call); /* depthwise 3x3 and 5x5, stride 1 or 2, by rows */
    if (by_rows != BACKEND_DECLINE)
        return by_rows;
    int by_taps = conv_direct(call); /* stride 1, rows as wide in as out: no packing of the image */
    if (by_taps != BACKEND_DECLINE)
        return by_taps;
    int depthwise = cpu_depthwise_conv(call); /* one input channel per output: no GEMM to feed */
    if (depthwise != BACKEND_DECLINE)
        return depthwise;
    const struct tensor *x = call->inputs[0], *wt = call->inputs[1], *bias = ops_input(call, 2);
    if (!backend_is_float(x) || !backend_is_float(wt) || (bias && !backend_is_float(bias)) || x->rank < 3 ||
        wt->rank != x->rank)
        return BACKEND_DECLINE;
    struct ops_window w;
    if (backend_conv_window(call, &w, x, wt))
        return BACKEND_DECLINE;
    int64_t group = ops_attr_int(call, "group", 1);
    int64_t batch = x->dims[0], c_in = x->dims[1], m_out = wt->dims[0];
    if (group < 1 || c_in % group || m_out % group || wt->dims[1] != c_in / group ||
        (bias && (bias->rank != 1 || bias->dims[0] != m_out)))
        return BACKEND_DECLINE;
    int64_t cg = c_in / group, mg = m_out / group;
    int64_t ksize = w.kernel[0] * w.kernel[1] * w.kernel[2];
    int64_t in_size = w.in[0] * w.in[1] * w.in[2], out_size = w.out[0] * w.out[1] * w.out[2];
    int64_t rows = cg * ksize;
    if (out_size && rows > ((int64_t)1 << 40) / out_size)
        return BACKEND_DECLINE;
    int direct = ksize == 1 && out_size == in_size;
    for (int i = 0; i < OPS_MAX_SPATIAL; i++)
        direct = direct && w.stride[i] == 1 && w.pad_begin[i] == 0;
    /* 2-D: the GEMM packs its panels straight from the image (implicit GEMM), no im2col copy */
    int implicit = !direct && w.n_spatial == 2;
    /* im2col lives outside the request arena: hold it to the request's memory limit all the same
     * (past it, the reference reports the limit). */
    size_t col_bytes = (size_t)(rows * out_size) * sizeof(float);
    if (!direct && !implicit && call->arena->limit && col_bytes > call->arena->limit - call->arena->used)
        return BACKEND_DECLINE;
    int64_t dims[TENSOR_MAX_RANK] = {batch, m_out};
    for (int i = 0; i < w.n_spatial; i++)
        dims[2 + i] = w.out[OPS_MAX_SPATIAL - w.n_spatial + i];
    struct epilogue e;
    if (epilogue_from_call(call, &e, x->rank, dims, 1, m_out, bias ? bias->data : NULL, 1))
        return BACKEND_DECLINE;
    e.ldr = out_size;
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, x->rank, dims);
    if (rc)
        return rc;
    if (!out_size || !batch || !m_out)
        return 0;
    float *col = NULL;
    if (!direct && !implicit) {
        col = scratch_floats(SCRATCH_IM2COL, (size_t)(rows * out_size));
        if (!col)
            return ops_fail(call, "the im2col buffer does not fit in the request memory limit");
    }
    const float *xd = x->data, *wd = wt->data;
    float *y = call->outputs[0].data;
    for (int64_t n = 0; n < batch; n++)
        for (int64_t g = 0; g < group; g++) {
            const float *xg = xd + (n * c_in + g * cg) * in_size;
            if (col)
                im2col(col, xg, &w, cg);
            int hs = OPS_MAX_SPATIAL - 2, ws = OPS_MAX_SPATIAL - 1;
            struct sgemm_conv cv = {.x = xg, .channels = cg, .in_h = w.in[hs], .in_w = w.in[ws],
                                    .out_h = w.out[hs], .out_w = w.out[ws], .kh = w.kernel[hs], .kw = w.kernel[ws],
                                    .stride_h = w.stride[hs], .stride_w = w.stride[ws], .pad_h = w.pad_begin[hs],
                                    .pad_w = w.pad_begin[ws], .dil_h = w.dilation[hs], .dil_w = w.dilation[ws]};
            float *yg = y + (n * m_out + g * mg) * out_size;
            /* this group's rows of the bias and of the residual */
            struct epilogue eg = e;
            if (eg.bias)
                eg.bias += g * mg;
            if (eg.residual)
                eg.residual += (n * m_out + g * mg) * out_size;
            struct sgemm_job job = {.m = mg, .n = out_size, .k = rows, .alpha = 1.0f, .a = wd + g * mg * rows,
                                    .lda = rows, .b = direct ? xg : col, .ldb = out_size,
                                    .conv_b = implicit ? &cv : NULL, .c = yg, .ldc = out_size, .epi = &eg};
            sgemm_run(&job);
        }
    return 0;
}

/* ---- elementwise ---- */

struct chunked {
    enum vec_op op;
    enum vec_act act;
    int binary;
    float *out;
    const float *a, *b;
    int a_step, b_step;
    float alpha;
    int64_t n, chunk;
};

static void chunk_task(void *ctx, int index)
{
    const struct chunked *c = ctx;
    int64_t i0 = index * c->chunk, i1 = i0 + c->chunk < c->n ? i0 + c->chunk : c->n;
    if (i0 >= i1)
        return;
    if (c->binary)
        vec_binary(c->op, c->out + i0, c->a + i0 * c->a_step, c->a_step, c->b + i0 * c->b_step, c->b_step, i1 - i0);
    else
        vec_activation(c->act, c->out + i0, c->a + i0, i1 - i0, c->alpha);
}

/* Splits n elements over the pool when it pays. */
static void run_chunked(struct chunked *c)
{
    int tasks = c->n < PARALLEL_MIN_ELEMENTS ? 1 : pool_threads();
    c->chunk = ((c->n + tasks - 1) / tasks + 15) / 16 * 16;
    pool_run(chunk_task, c, tasks);
}

/* One operand repeats along the leading dims of the other (a bias [C] on [N, C], an attention mask
 * [1, 1, 1, S] on [B, H, S, S]): whole rows, split over the pool. */
struct suffix_ctx {
    enum vec_op op;
    float *out;
    const float *full, *small;
    int small_first; /* small is the left operand */
    int64_t rows, inner, per_task;
};

static void suffix_task(void *ctx, int index)
{
    const struct suffix_ctx *c = ctx;
    int64_t r0 = index * c->per_task, r1 = r0 + c->per_task < c->rows ? r0 + c->per_task : c->rows;
    for (int64_t r = r0; r < r1; r++) {
        const float *f = c->full + r * c->inner;
        if (c->small_first)
            vec_binary(c->op, c->out + r * c->inner, c->small, 1, f, 1, c->inner);
        else
            vec_binary(c->op, c->out + r * c->inner, f, 1, c->small, 1, c->inner);
    }
}

/* Whether small's shape (leading 1s dropped) is a suffix of full's: how many elements repeat, else 0. */
static int64_t suffix_period(const struct tensor *full, const struct tensor *small)
{
    int lead = 0;
    while (lead < small->rank && small->dims[lead] == 1)
        lead++;
    int k = small->rank - lead;
    if (small->rank > full->rank || k == 0)
        return 0;
    int64_t period = 1;
    for (int i = 0; i < k; i++) {
        if (small->dims[lead + i] != full->dims[full->rank - k + i])
            return 0;
        period *= small->dims[lead + i];
    }
    /* small's leading 1s must not widen the result */
    return small->rank <= full->rank ? period : 0;
}

static int suffix_binary(const struct op_call *call, enum vec_op op, const struct tensor *a, const struct tensor *b)
{
    int small_first = tensor_element_count(a) < tensor_element_count(b);
    const struct tensor *full = small_first ? b : a, *small = small_first ? a : b;
    int64_t inner = suffix_period(full, small), total = tensor_element_count(full);
    if (inner < 8 || !total) /* short rows: the generic walk */
        return BACKEND_DECLINE;
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, full->rank, full->dims);
    if (rc)
        return rc;
    struct suffix_ctx c = {.op = op,
                           .out = call->outputs[0].data,
                           .full = full->data,
                           .small = small->data,
                           .small_first = small_first,
                           .rows = total / inner,
                           .inner = inner};
    int tasks = total < PARALLEL_MIN_ELEMENTS ? 1 : pool_threads();
    if (tasks > c.rows)
        tasks = (int)c.rows;
    c.per_task = (c.rows + tasks - 1) / tasks;
    pool_run(suffix_task, &c, tasks);
    return 0;
}

struct bcast_ctx {
    enum vec_op op;
    float *out;
    const float *a, *b;
};

static void bcast_row(void *ctx, int64_t out_offset, const int64_t *in_offsets, const int64_t *steps, int64_t count)
{
    const struct bcast_ctx *c = ctx;
    vec_binary(c->op, c->out + out_offset, c->a + in_offsets[0], (int)steps[0], c->b + in_offsets[1], (int)steps[1],
               count);
}

static int same_shape(const struct tensor *a, const struct tensor *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return 1;
}

static int fast_binary(const struct op_call *call, enum vec_op op)
{
    const struct tensor *a = call->inputs[0], *b = call->inputs[1];
    if (!backend_is_float(a) || !backend_is_float(b))
        return BACKEND_DECLINE;
    /* Same shapes or a scalar on one side: one flat loop. */
    const struct tensor *shape = NULL;
    int a_step = 1, b_step = 1;
    if (same_shape(a, b))
        shape = a;
    else if (tensor_element_count(b) == 1 && b->rank <= a->rank)
        shape = a, b_step = 0;
    else if (tensor_element_count(a) == 1 && a->rank <= b->rank)
        shape = b, a_step = 0;
    if (shape) {
        int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, shape->rank, shape->dims);
        if (rc)
            return rc;
        struct chunked c = {.binary = 1,
                            .op = op,
                            .out = call->outputs[0].data,
                            .a = a->data,
                            .b = b->data,
                            .a_step = a_step,
                            .b_step = b_step,
                            .n = tensor_element_count(shape)};
        run_chunked(&c);
        return 0;
    }
    int rc = suffix_binary(call, op, a, b);
    if (rc != BACKEND_DECLINE)
        return rc;
    struct ops_bcast bc;
    const struct tensor *ts[2] = {a, b};
    if (ops_broadcast(call, &bc, 2, ts)) {
        err_clear();
        return BACKEND_DECLINE;
    }
    for (int i = 0; i < 2; i++)
        if (bc.rank && bc.strides[i][bc.rank - 1] > 1)
            return BACKEND_DECLINE;
    rc = ops_alloc_output(call, 0, TENSOR_FLOAT, bc.rank, bc.dims);
    if (rc)
        return rc;
    struct bcast_ctx ctx = {.op = op, .out = call->outputs[0].data, .a = a->data, .b = b->data};
    ops_broadcast_walk(&bc, bcast_row, &ctx);
    return 0;
}

static int fast_add(const struct op_call *call)
{
    return fast_binary(call, VEC_ADD);
}
static int fast_sub(const struct op_call *call)
{
    return fast_binary(call, VEC_SUB);
}
static int fast_mul(const struct op_call *call)
{
    return fast_binary(call, VEC_MUL);
}
static int fast_div(const struct op_call *call)
{
    return fast_binary(call, VEC_DIV);
}

static int fast_activation(const struct op_call *call, enum vec_act act, float alpha)
{
    const struct tensor *x = call->inputs[0];
    if (!backend_is_float(x))
        return BACKEND_DECLINE;
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, x->rank, x->dims);
    if (rc)
        return rc;
    struct chunked c = {
        .act = act, .out = call->outputs[0].data, .a = x->data, .alpha = alpha, .n = tensor_element_count(x)};
    run_chunked(&c);
    return 0;
}

static int fast_relu(const struct op_call *call)
{
    return fast_activation(call, VEC_RELU, 0);
}
static int fast_sigmoid(const struct op_call *call)
{
    return fast_activation(call, VEC_SIGMOID, 0);
}
static int fast_exp(const struct op_call *call)
{
    return fast_activation(call, VEC_EXP, 0);
}
static int fast_erf(const struct op_call *call)
{
    return fast_activation(call, VEC_ERF, 0);
}
static int fast_tanh(const struct op_call *call)
{
    return fast_activation(call, VEC_TANH, 0);
}
static int fast_leaky_relu(const struct op_call *call)
{
    return fast_activation(call, VEC_LEAKY_RELU, ops_attr_float(call, "alpha", 0.01f));
}

/* ---- BatchNormalization (inference) ---- */

static int is_channel_vector(const struct tensor *t, int64_t c)
{
    return backend_is_float(t) && t->rank == 1 && t->dims[0] == c;
}

static int fast_batch_norm(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (!backend_is_float(x) || x->rank < 2 || call->n_outputs != 1 || call->n_inputs != 5 ||
        ops_attr_int(call, "training_mode", 0) || !ops_attr_int(call, "spatial", 1))
        return BACKEND_DECLINE;
    int64_t c = x->dims[1], batch = x->dims[0], inner = 1;
    for (int i = 1; i <= 4; i++)
        if (!is_channel_vector(call->inputs[i], c))
            return BACKEND_DECLINE;
    for (int i = 2; i < x->rank; i++)
        inner *= x->dims[i];
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, x->rank, x->dims);
    if (rc)
        return rc;
    float eps = ops_attr_float(call, "epsilon", 1e-5f);
    const float *scale = call->inputs[1]->data, *b = call->inputs[2]->data, *mean = call->inputs[3]->data,
                *var = call->inputs[4]->data, *in = x->data;
    float *y = call->outputs[0].data;
    for (int64_t ch = 0; ch < c; ch++) {
        float k = scale[ch] / sqrtf(var[ch] + eps), off = b[ch] - mean[ch] * k;
        for (int64_t n = 0; n < batch; n++)
            vec_scale_shift(y + (n * c + ch) * inner, in + (n * c + ch) * inner, inner, k, off);
    }
    return 0;
}

/* ---- MaxPool ---- */

/* Same visiting order and tie rule as the reference (the first element in the
 * window, then anything greater), on floats, positions outside the input skipped. */
static int fast_max_pool(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (!backend_is_float(x) || x->rank < 3 || call->n_outputs != 1 || !ops_attr(call, "kernel_shape"))
        return BACKEND_DECLINE;
    struct ops_window w;
    if (ops_window_init(call, &w, x, NULL)) {
        err_clear();
        return BACKEND_DECLINE;
    }
    int64_t dims[TENSOR_MAX_RANK] = {x->dims[0], x->dims[1]};
    for (int i = 0; i < w.n_spatial; i++)
        dims[2 + i] = w.out[OPS_MAX_SPATIAL - w.n_spatial + i];
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, x->rank, dims);
    if (rc)
        return rc;
    const float *in = x->data;
    float *out = call->outputs[0].data;
    int64_t planes = x->dims[0] * x->dims[1], in_size = w.in[0] * w.in[1] * w.in[2];
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = in + p * in_size;
        for (int64_t od = 0; od < w.out[0]; od++)
            for (int64_t oh = 0; oh < w.out[1]; oh++)
                for (int64_t ow = 0; ow < w.out[2]; ow++) {
                    int64_t s0 = od * w.stride[0] - w.pad_begin[0], s1 = oh * w.stride[1] - w.pad_begin[1],
                            s2 = ow * w.stride[2] - w.pad_begin[2];
                    float best = -INFINITY;
                    int seen = 0;
                    for (int64_t kd = 0; kd < w.kernel[0]; kd++) {
                        int64_t d = s0 + kd * w.dilation[0];
                        if (d < 0 || d >= w.in[0])
                            continue;
                        for (int64_t kh = 0; kh < w.kernel[1]; kh++) {
                            int64_t h = s1 + kh * w.dilation[1];
                            if (h < 0 || h >= w.in[1])
                                continue;
                            const float *row = xp + (d * w.in[1] + h) * w.in[2];
                            for (int64_t kw = 0; kw < w.kernel[2]; kw++) {
                                int64_t c = s2 + kw * w.dilation[2];
                                if (c < 0 || c >= w.in[2])
                                    continue;
                                if (!seen || row[c] > best)
                                    best = row[c];
                                seen = 1;
                            }
                        }
                    }
                    *out++ = best;
                }
    }
    return 0;
}

/* ---- the backend ---- */

static const struct backend_kernel kernels[] = {
    {"MatMul", fast_matmul},   {"Gemm", fast_gemm},        {"Conv", fast_conv},
    {"Add", fast_add},         {"Sub", fast_sub},          {"Mul", fast_mul},
    {"Div", fast_div},         {"Relu", fast_relu},        {"LeakyRelu", fast_leaky_relu},
    {"Sigmoid", fast_sigmoid}, {"Exp", fast_exp},          {"BatchNormalization", fast_batch_norm},
    {"Softmax", cpu_softmax}, {"MaxPool", fast_max_pool},  {"MatMulInteger", cpu_matmul_integer},
    {"QLinearMatMul", cpu_qlinear_matmul},
    {"Erf", fast_erf}, {"Tanh", fast_tanh}, {"LayerNormalization", cpu_layer_norm}, {"Transpose", cpu_transpose},
};

static op_run_fn find(const Onnx__NodeProto *node)
{
    return backend_kernel_find(kernels, sizeof kernels / sizeof kernels[0], node);
}

static int claims(const struct backend_node *info)
{
    return find(info->node) && (backend_inputs_float(info) || cpu_quant_claims(info));
}

static int usable(void)
{
    return 1; /* the portable paths run anywhere; cpu_isa picks the widest */
}

const struct engine_backend backend_cpu_opt = {
    .name = "cpu",
    .usable = usable,
    .claims = claims,
    .kernel = find,
    .prepare = prepare_gemm,
};
