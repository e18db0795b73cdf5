/* The optimized CPU backend against the reference kernels (the oracle): every
 * operator it claims, over odd sizes, broadcasts, batches, Gemm transposes
 * and Conv groups/strides/pads/dilations, on each vector path this CPU has
 * (portable C, AVX2, AVX-512) and with the thread pool on. Values must agree
 * within rtol 1e-4, plus 1e-5 of the output's largest magnitude for sums that
 * cancel to ~0. */
#include "test.h"

#include "common/arena.h"
#include "common/err.h"
#include "runtime/engine/backends/backend.h"
#include "runtime/engine/backends/cpu_isa.h"
#include "runtime/engine/backends/threadpool.h"
#include "runtime/engine/engine.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define MAX_ATTRS 8

struct node_spec {
    const char *op;
    Onnx__AttributeProto attrs[MAX_ATTRS];
    int n_attrs;
};

static void attr_int(struct node_spec *s, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = &s->attrs[s->n_attrs++];
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_i = 1;
    a->i = v;
}

static void attr_float(struct node_spec *s, const char *name, float v)
{
    Onnx__AttributeProto *a = &s->attrs[s->n_attrs++];
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_f = 1;
    a->f = v;
}

static void attr_ints(struct node_spec *s, const char *name, int64_t *v, size_t n)
{
    Onnx__AttributeProto *a = &s->attrs[s->n_attrs++];
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->n_ints = n;
    a->ints = v;
}

static void attr_str(struct node_spec *s, const char *name, const char *v)
{
    Onnx__AttributeProto *a = &s->attrs[s->n_attrs++];
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_s = 1;
    a->s.data = (uint8_t *)v;
    a->s.len = strlen(v);
}

static uint64_t rng = 88172645463325252ull;
static float rand_unit(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) & 0xffffff) / (float)0x800000 - 1.0f; /* [-1, 1) */
}

static struct tensor random_tensor(struct arena *ar, int rank, const int64_t *dims, float scale)
{
    struct tensor t = {.type = TENSOR_FLOAT, .rank = rank};
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= t.dims[i] = dims[i];
    float *d = arena_alloc(ar, (size_t)(n ? n : 1) * sizeof *d);
    for (int64_t i = 0; i < n; i++)
        d[i] = rand_unit() * scale;
    t.data = d;
    return t;
}

static int checks, fast_runs;
static const struct engine_backend *under_test = &backend_cpu_opt;
/* Set by the tests of fused epilogues and of weights packed at load (prepare, input 1 constant). */
static const struct op_fused *fused_under_test;
static uint64_t prepack_under_test; /* the constant inputs (bit j: input j) prepare packs at load */
static enum cpu_isa prepack_from = CPU_ISA_GENERIC; /* the first vector path that packs them */

/* The reference's output with what fused folds in, computed in double: act(y + bias + residual). */
static void apply_fused_reference(const char *op, struct tensor *y, const struct op_fused *f)
{
    float *d = y->data;
    int64_t n = tensor_element_count(y), inner = 1, axis_len = y->dims[y->rank - 1];
    if (!strcmp(op, "Conv")) {
        axis_len = y->dims[1];
        for (int i = 2; i < y->rank; i++)
            inner *= y->dims[i];
    }
    for (int64_t i = 0; i < n; i++) {
        double v = d[i];
        if (f->bias)
            v += ((const float *)f->bias->data)[(i / inner) % axis_len];
        if (f->residual)
            v += ((const float *)f->residual->data)[i];
        switch (f->act) {
        case OP_ACT_RELU: v = v > 0 ? v : 0; break;
        case OP_ACT_LEAKY_RELU: v = v < 0 ? f->alpha * v : v; break;
        case OP_ACT_SIGMOID: v = 1 / (1 + exp(-v)); break;
        case OP_ACT_GELU: v = 0.5 * v * (1 + erf(v / sqrt(2.0))); break;
        case OP_ACT_CLIP: v = v < f->lo ? f->lo : v > f->hi ? f->hi : v; break;
        case OP_ACT_NONE: break;
        }
        d[i] = (float)v;
    }
}

/* Runs node on the reference and on the backend at every ISA level; returns
 * a description of the first mismatch or NULL. expect_fast: the backend must
 * not decline. */
static const char *compare(struct node_spec *s, struct tensor *in, int n_in, int expect_fast)
{
    static char why[256];
    Onnx__AttributeProto *pattrs[MAX_ATTRS];
    for (int i = 0; i < s->n_attrs; i++)
        pattrs[i] = &s->attrs[i];
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
    node.op_type = (char *)s->op;
    node.name = (char *)s->op;
    node.n_attribute = (size_t)s->n_attrs;
    node.attribute = pattrs;
    const struct tensor *args[8];
    for (int i = 0; i < n_in; i++)
        args[i] = in[i].data ? &in[i] : NULL;
    struct backend_node info = {.node = &node, .inputs = args, .n_inputs = n_in};
    if (!under_test->claims(&info)) {
        snprintf(why, sizeof why, "%s: not claimed", s->op);
        return why;
    }
    op_run_fn fast = under_test->kernel(&node);
    const struct op_kernel *ref = ops_find("", s->op);
    struct arena ar;
    arena_init(&ar, 1 << 20, 0);
    struct tensor want = {0};
    struct op_call call = {
        .node = &node, .inputs = args, .n_inputs = n_in, .outputs = &want, .n_outputs = 1, .arena = &ar};
    int rc = ref->run(&call);
    if (rc) {
        snprintf(why, sizeof why, "%s: reference failed: %s", s->op, err_message(rc));
        arena_release(&ar);
        return why;
    }
    if (fused_under_test)
        apply_fused_reference(s->op, &want, fused_under_test);
    why[0] = 0;
    for (int isa = CPU_ISA_GENERIC; isa <= (int)cpu_isa_detected() && !why[0]; isa++) {
        cpu_isa_limit((enum cpu_isa)isa);
        struct tensor got = {0};
        call.outputs = &got;
        /* Packed at load for this ISA's micro-kernel, as the engine does, into a fresh cache. */
        _Atomic(struct op_cache *) cache = NULL;
        if (prepack_under_test && isa >= (int)prepack_from) {
            under_test->prepare(&info, &cache);
            if (!atomic_load(&cache)) {
                snprintf(why, sizeof why, "%s [%s]: nothing packed at load", s->op, cpu_isa_name(isa));
                break;
            }
            call.cache = &cache;
            call.constant_inputs = prepack_under_test;
        }
        call.fused = fused_under_test;
        rc = fast(&call);
        if (atomic_load(&cache))
            atomic_load(&cache)->free(atomic_load(&cache));
        call.cache = NULL;
        call.constant_inputs = 0;
        if (rc == BACKEND_DECLINE) {
            if (expect_fast)
                snprintf(why, sizeof why, "%s: declined", s->op);
            continue;
        }
        fast_runs++;
        if (rc) {
            snprintf(why, sizeof why, "%s [%s]: failed: %s", s->op, cpu_isa_name(isa), err_message(rc));
            break;
        }
        int same = got.rank == want.rank && got.type == want.type;
        for (int i = 0; same && i < got.rank; i++)
            same = got.dims[i] == want.dims[i];
        if (!same) {
            char a[96], b[96];
            tensor_format_shape(a, sizeof a, got.dims, got.rank);
            tensor_format_shape(b, sizeof b, want.dims, want.rank);
            snprintf(why, sizeof why, "%s [%s]: shape %s, reference %s", s->op, cpu_isa_name(isa), a, b);
            break;
        }
        int64_t n = tensor_element_count(&want);
        if (want.type != TENSOR_FLOAT) { /* integer kernels must agree exactly */
            for (int64_t i = 0; i < n && !why[0]; i++) {
                checks++;
                double gv = tensor_load(got.type, got.data, i), wv = tensor_load(want.type, want.data, i);
                if (gv != wv)
                    snprintf(why, sizeof why, "%s [%s]: element %lld is %.17g, reference %.17g", s->op,
                             cpu_isa_name(isa), (long long)i, gv, wv);
            }
            continue;
        }
        const float *g = got.data, *w = want.data;
        /* Sums that cancel to near 0 differ by rounding relative to their terms, not to the result:
         * the absolute slack scales with the output's largest magnitude. */
        float scale = 1;
        for (int64_t i = 0; i < n; i++)
            if (isfinite(w[i]) && fabsf(w[i]) > scale)
                scale = fabsf(w[i]);
        for (int64_t i = 0; i < n; i++) {
            checks++;
            if ((isnan(w[i]) && isnan(g[i])) || (isinf(w[i]) && g[i] == w[i]))
                continue;
            if (!(fabsf(g[i] - w[i]) <= 1e-4f * fabsf(w[i]) + 1e-5f * scale)) {
                snprintf(why, sizeof why, "%s [%s]: element %lld is %.9g, reference %.9g", s->op, cpu_isa_name(isa),
                         (long long)i, g[i], w[i]);
                break;
            }
        }
    }
    cpu_isa_limit(CPU_ISA_AVX512);
    arena_release(&ar);
    return why[0] ? why : NULL;
}

#define CHECK_SAME(spec, inputs, n)                                                                                    \
    do {                                                                                                               \
        const char *why_ = compare(spec, inputs, n, 1);                                                                \
        if (why_) {                                                                                                    \
            printf("FAIL %s: %s:%d: %s\n", test_current, __FILE__, __LINE__, why_);                                    \
            test_failures++;                                                                                           \
            test_current_failed = 1;                                                                                   \
            return;                                                                                                    \
        }                                                                                                              \
    } while (0)

static struct arena inputs_arena;
#define T(...)                                                                                                         \
    random_tensor(&inputs_arena, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__},  \
                  1.0f)
#define NONE ((struct tensor){0})

TEST(matmul_matches_reference)
{
    static const int64_t shapes[][3] = {{1, 7, 5},     {3, 100, 77},    {4, 33, 1},     {67, 130, 45},
                                        {13, 300, 70}, {64, 128, 200},  {6, 16, 32},    {1, 512, 512},
                                        {97, 65, 129}, {130, 260, 150}, {2, 1024, 2100}}; /* the last two: threaded */
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        struct node_spec s = {.op = "MatMul"};
        struct tensor in[2] = {T(shapes[i][0], shapes[i][1]), T(shapes[i][1], shapes[i][2])};
        CHECK_SAME(&s, in, 2);
    }
    struct node_spec s = {.op = "MatMul"};
    struct tensor folded[2] = {T(2, 3, 17), T(17, 33)}; /* leading dims fold into rows */
    CHECK_SAME(&s, folded, 2);
    struct tensor batched[2] = {T(2, 5, 9), T(2, 9, 11)};
    CHECK_SAME(&s, batched, 2);
    struct tensor vector[2] = {T(9), T(9, 4)};
    CHECK_SAME(&s, vector, 2);
    struct tensor bcast[2] = {T(1, 5, 9), T(3, 9, 4)}; /* declined: the reference broadcasts */
    const char *why = compare(&s, bcast, 2, 0);
    CHECK(why == NULL);
}

TEST(gemm_matches_reference_with_transposes_and_bias)
{
    static const int64_t sizes[][3] = {{5, 7, 3},      {1, 300, 512}, {37, 65, 129},
                                       {32, 256, 256}, {2, 3, 1},     {3, 700, 2100}}; /* the last: threaded */
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int64_t m = sizes[i][0], n = sizes[i][1], k = sizes[i][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int bias = 0; bias < 6; bias++) {
                    struct node_spec s = {.op = "Gemm"};
                    attr_int(&s, "transA", ta);
                    attr_int(&s, "transB", tb);
                    if (bias & 1) {
                        attr_float(&s, "alpha", 0.5f);
                        attr_float(&s, "beta", bias == 3 ? 0.0f : 2.0f);
                    }
                    struct tensor in[3] = {ta ? T(k, m) : T(m, k), tb ? T(n, k) : T(k, n), NONE};
                    switch (bias) {
                    case 1: in[2] = T(n); break;
                    case 2: in[2] = T(m, n); break;
                    case 3: in[2] = T(m, 1); break;
                    case 4: in[2] = T(1); break;
                    case 5: in[2] = T(1, n); break;
                    }
                    CHECK_SAME(&s, in, bias ? 3 : 2);
                }
    }
}

TEST(conv_matches_reference)
{
    struct {
        int64_t x[5], w[5];
        int rank;
        int64_t group, strides[3], pads[6], dilations[3];
        const char *auto_pad;
        int bias;
    } cases[] = {
        {{1, 3, 9, 11}, {4, 3, 3, 3}, 4, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}, NULL, 1},
        {{2, 3, 9, 11}, {5, 3, 3, 2}, 4, 1, {2, 2}, {0, 1, 2, 1}, {1, 1}, NULL, 0},
        {{1, 2, 12, 10}, {3, 2, 3, 3}, 4, 1, {1, 2}, {2, 2, 2, 2}, {2, 2}, NULL, 1},
        {{2, 4, 8, 8}, {6, 2, 3, 3}, 4, 2, {1, 1}, {1, 1, 1, 1}, {1, 1}, NULL, 1},
        {{1, 6, 7, 7}, {6, 1, 3, 3}, 4, 6, {2, 2}, {1, 1, 1, 1}, {1, 1}, NULL, 1},  /* depthwise */
        {{2, 8, 5, 7}, {16, 8, 1, 1}, 4, 1, {1, 1}, {0, 0, 0, 0}, {1, 1}, NULL, 1}, /* 1x1: no im2col */
        {{1, 8, 6, 6}, {4, 8, 1, 1}, 4, 1, {2, 2}, {0, 0, 0, 0}, {1, 1}, NULL, 0},  /* 1x1 strided */
        {{1, 3, 10, 9}, {4, 3, 4, 3}, 4, 1, {3, 2}, {0}, {1, 1}, "SAME_UPPER", 1},
        {{1, 3, 10, 9}, {4, 3, 4, 3}, 4, 1, {1, 1}, {0}, {1, 1}, "SAME_LOWER", 0},
        {{1, 2, 10}, {3, 2, 3}, 3, 1, {2}, {1, 1}, {1}, NULL, 1},                                    /* 1-D */
        {{1, 2, 4, 5, 6}, {2, 2, 2, 2, 2}, 5, 1, {1, 1, 2}, {0, 1, 0, 1, 0, 1}, {1, 1, 1}, NULL, 1}, /* 3-D */
        {{3, 16, 14, 14}, {32, 16, 3, 3}, 4, 1, {1, 1}, {1, 1, 1, 1}, {1, 1}, NULL, 1},              /* threads */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int ns = cases[i].rank - 2;
        struct node_spec s = {.op = "Conv"};
        attr_int(&s, "group", cases[i].group);
        attr_ints(&s, "strides", cases[i].strides, (size_t)ns);
        attr_ints(&s, "dilations", cases[i].dilations, (size_t)ns);
        if (cases[i].auto_pad)
            attr_str(&s, "auto_pad", cases[i].auto_pad);
        else
            attr_ints(&s, "pads", cases[i].pads, (size_t)(2 * ns));
        struct tensor in[3] = {
            random_tensor(&inputs_arena, cases[i].rank, cases[i].x, 1.0f),
            random_tensor(&inputs_arena, cases[i].rank, cases[i].w, 1.0f),
            cases[i].bias ? T(cases[i].w[0]) : NONE,
        };
        CHECK_SAME(&s, in, cases[i].bias ? 3 : 2);
    }
}

TEST(elementwise_matches_reference)
{
    static const char *ops[] = {"Add", "Sub", "Mul", "Div"};
    for (size_t o = 0; o < 4; o++) {
        struct node_spec s = {.op = ops[o]};
        struct tensor pairs[][2] = {
            {T(3, 17), T(3, 17)}, {T(5, 7), T(1)},      {T(1), T(4, 9)},           {T(2, 3, 4, 5), T(3, 1, 1)},
            {T(4, 1), T(1, 5)},   {T(70000), T(70000)}, {T(2, 3, 1), T(1, 3, 19)}, {T(1), T(1, 1, 1)},
            /* one operand repeating along the other's leading dims: bias, attention mask, threaded rows */
            {T(7, 33), T(33)},    {T(9), T(5, 9)},      {T(1, 4, 6, 16), T(1, 1, 1, 16)}, {T(100, 1000), T(1, 1000)},
            {T(3, 12), T(2, 3, 12)}, {T(2, 12), T(1, 1, 12)},
        };
        for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
            CHECK_SAME(&s, pairs[i], 2);
    }
    static const char *acts[] = {"Relu", "LeakyRelu", "Sigmoid", "Exp"};
    for (size_t o = 0; o < 4; o++) {
        struct node_spec s = {.op = acts[o]};
        if (o == 1)
            attr_float(&s, "alpha", 0.2f);
        int64_t dims[2] = {3, 1001};
        struct tensor x = random_tensor(&inputs_arena, 2, dims, 30.0f);
        float *d = x.data;
        d[0] = 87.0f, d[1] = -87.0f, d[2] = 0.0f, d[3] = -1e-6f, d[4] = 150.0f, d[5] = -150.0f;
        d[6] = NAN, d[7] = INFINITY, d[8] = -INFINITY, d[9] = 88.6f, d[10] = 89.0f, d[11] = -100.0f;
        CHECK_SAME(&s, &x, 1);
        struct tensor big[1] = {T(100000)};
        CHECK_SAME(&s, big, 1);
    }
}

TEST(batch_norm_and_softmax_match_reference)
{
    struct node_spec bn = {.op = "BatchNormalization"};
    attr_float(&bn, "epsilon", 1e-3f);
    int64_t c = 5;
    struct tensor in[5] = {T(2, 5, 7, 9), T(5), T(5), T(5), T(5)};
    float *var = in[4].data;
    for (int i = 0; i < c; i++)
        var[i] = fabsf(var[i]) + 0.1f;
    CHECK_SAME(&bn, in, 5);
    struct tensor flat[5] = {T(3, 5), T(5), T(5), T(5), T(5)};
    for (int i = 0; i < c; i++)
        ((float *)flat[4].data)[i] = fabsf(((float *)flat[4].data)[i]) + 0.1f;
    CHECK_SAME(&bn, flat, 5);
    struct node_spec sm = {.op = "Softmax"};
    int64_t dims[2] = {7, 1003};
    struct tensor x[1] = {random_tensor(&inputs_arena, 2, dims, 20.0f)};
    ((float *)x[0].data)[3] = -INFINITY;
    ((float *)x[0].data)[1003 + 5] = NAN;            /* a NaN row */
    ((float *)x[0].data)[2 * 1003 + 600] = INFINITY; /* a row whose maximum is infinite */
    ((float *)x[0].data)[3 * 1003 + 17] = -200.0f;   /* an exponential past the polynomial's range */
    CHECK_SAME(&sm, x, 1);
    struct tensor one[1] = {T(10)}, three[1] = {T(2, 3, 33)};
    CHECK_SAME(&sm, one, 1);
    CHECK_SAME(&sm, three, 1);
    struct node_spec mid = {.op = "Softmax"};
    attr_int(&mid, "axis", 1); /* opset 13: a middle axis is left to the reference */
    CHECK(compare(&mid, three, 1, 0) == NULL);
}

TEST(max_pool_matches_reference)
{
    struct {
        int64_t x[5];
        int rank;
        int64_t kernel[3], strides[3], pads[6], dilations[3];
        int ceil;
    } cases[] = {
        {{2, 3, 28, 28}, 4, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 0},
        {{1, 4, 13, 11}, 4, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 0},
        {{1, 2, 13, 11}, 4, {3, 2}, {2, 3}, {0, 1, 1, 0}, {1, 1}, 1},
        {{1, 2, 12, 12}, 4, {2, 2}, {1, 1}, {0, 0, 0, 0}, {2, 2}, 0},
        {{3, 2, 17}, 3, {4}, {3}, {1, 2}, {1}, 1},
        {{1, 2, 5, 6, 7}, 5, {2, 2, 3}, {2, 1, 2}, {0, 1, 0, 0, 1, 1}, {1, 1, 1}, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int ns = cases[i].rank - 2;
        struct node_spec s = {.op = "MaxPool"};
        attr_ints(&s, "kernel_shape", cases[i].kernel, (size_t)ns);
        attr_ints(&s, "strides", cases[i].strides, (size_t)ns);
        attr_ints(&s, "pads", cases[i].pads, (size_t)(2 * ns));
        attr_ints(&s, "dilations", cases[i].dilations, (size_t)ns);
        attr_int(&s, "ceil_mode", cases[i].ceil);
        struct tensor x[1] = {random_tensor(&inputs_arena, cases[i].rank, cases[i].x, 1.0f)};
        CHECK_SAME(&s, x, 1);
    }
}

/* uint8/int8 values over the whole range. */
static struct tensor q8_tensor(enum tensor_type type, int rank, const int64_t *dims)
{
    struct tensor t = {.type = type, .rank = rank};
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= t.dims[i] = dims[i];
    uint8_t *d = arena_alloc(&inputs_arena, (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++)
        d[i] = (uint8_t)((rand_unit() + 1.0f) * 127.99f);
    t.data = d;
    return t;
}
#define Q8(type, ...)                                                                                                  \
    q8_tensor(type, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static struct tensor scalar_of(enum tensor_type type, double v)
{
    struct tensor t = {.type = type, .rank = 0};
    t.data = arena_alloc(&inputs_arena, 8);
    tensor_store(type, t.data, 0, v);
    return t;
}

TEST(integer_matmul_matches_reference)
{
    /* Rows in blocks of four and alone, column tiles of 64/32/16/8 and their tails, odd k. */
    static const int64_t shapes[][3] = {{1, 7, 5},  {3, 13, 77},  {17, 64, 33},  {128, 96, 200},
                                        {2, 1, 9},  {8, 31, 100}, {5, 20, 16},   {4, 3, 1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int types = 0; types < 4; types++) {
            enum tensor_type ta = types & 1 ? TENSOR_INT8 : TENSOR_UINT8, tb = types & 2 ? TENSOR_INT8 : TENSOR_UINT8;
            int64_t m = shapes[i][0], k = shapes[i][1], n = shapes[i][2];
            struct node_spec s = {.op = "MatMulInteger"};
            struct tensor in[4] = {Q8(ta, m, k), Q8(tb, k, n), scalar_of(ta, ta == TENSOR_INT8 ? -3 : 131),
                                   scalar_of(tb, tb == TENSOR_INT8 ? 5 : 120)};
            CHECK_SAME(&s, in, 2); /* without zero points */
            CHECK_SAME(&s, in, 4);
            struct node_spec q = {.op = "QLinearMatMul"};
            enum tensor_type ty = types == 3 ? TENSOR_INT8 : TENSOR_UINT8;
            struct tensor qin[8] = {in[0], scalar_of(TENSOR_FLOAT, 0.02), in[2], in[1], scalar_of(TENSOR_FLOAT, 0.01),
                                    in[3], scalar_of(TENSOR_FLOAT, 0.37), scalar_of(ty, ty == TENSOR_INT8 ? 3 : 128)};
            CHECK_SAME(&q, qin, 8);
        }
    /* B minus its zero point within int8 (int8 B without one, uint8 B at 128): the VNNI path where the
     * CPU has it, with k not a multiple of four and n not of 64; rows past the tiles of six (1 to 5 left),
     * more rows than one task's chunk (200), k past a cache block (1100), tasks split over columns. */
    static const int64_t vnni[][3] = {{1, 768, 768}, {5, 13, 70},   {4, 64, 64},    {7, 3, 17},  {130, 101, 129},
                                      {9, 40, 200},  {200, 64, 64}, {8, 1100, 70}, {128, 96, 768}, {6, 4, 1}};
    for (size_t i = 0; i < sizeof vnni / sizeof vnni[0]; i++)
        for (int types = 0; types < 4; types++) {
            enum tensor_type ta = types & 1 ? TENSOR_INT8 : TENSOR_UINT8, tb = types & 2 ? TENSOR_INT8 : TENSOR_UINT8;
            int64_t m = vnni[i][0], k = vnni[i][1], n = vnni[i][2];
            struct node_spec s = {.op = "MatMulInteger"};
            struct tensor in[4] = {Q8(ta, m, k), Q8(tb, k, n), scalar_of(ta, ta == TENSOR_INT8 ? -7 : 100),
                                   scalar_of(tb, tb == TENSOR_INT8 ? 0 : 128)};
            CHECK_SAME(&s, in, 4);
            CHECK_SAME(&s, in, 2); /* zero points 0: uint8 A needs no column-sum correction */
            struct node_spec q = {.op = "QLinearMatMul"};
            struct tensor qin[8] = {in[0], scalar_of(TENSOR_FLOAT, 0.02), in[2], in[1], scalar_of(TENSOR_FLOAT, 0.01),
                                    in[3], scalar_of(TENSOR_FLOAT, 0.5), scalar_of(TENSOR_UINT8, 128)};
            CHECK_SAME(&q, qin, 8);
            /* B (and its zero point) packed at load, as the engine does for initializers */
            prepack_under_test = 2;
            CHECK_SAME(&s, in, 4);
            prepack_under_test = 8;
            CHECK_SAME(&q, qin, 8);
            prepack_under_test = 0;
        }
    struct node_spec s = {.op = "MatMulInteger"};
    struct tensor folded[2] = {Q8(TENSOR_UINT8, 2, 3, 17), Q8(TENSOR_INT8, 17, 33)}; /* leading dims fold into rows */
    CHECK_SAME(&s, folded, 2);
    struct tensor batched[2] = {Q8(TENSOR_UINT8, 2, 3, 5), Q8(TENSOR_INT8, 2, 5, 4)}; /* declined: 3-D B */
    CHECK(compare(&s, batched, 2, 0) == NULL);
    struct tensor per_row[3] = {Q8(TENSOR_UINT8, 3, 5), Q8(TENSOR_INT8, 5, 4), Q8(TENSOR_UINT8, 3)}; /* declined */
    CHECK(compare(&s, per_row, 3, 0) == NULL);
}

/* One or two rows past tiles of six (7, 8, 13, 14, 128 rows): the last tiles go as two of three to five
 * rows; with zero points 0 and without. Run last: its inputs come from the shared random stream, and
 * drawing them earlier would change every later test's data. */
TEST(integer_matmul_row_tails_match_reference)
{
    static const int64_t shapes[][3] = {{7, 12, 64}, {8, 40, 70}, {13, 40, 64}, {14, 8, 130}, {128, 96, 64}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int types = 0; types < 4; types++) {
            enum tensor_type ta = types & 1 ? TENSOR_INT8 : TENSOR_UINT8, tb = types & 2 ? TENSOR_INT8 : TENSOR_UINT8;
            int64_t m = shapes[i][0], k = shapes[i][1], n = shapes[i][2];
            struct node_spec s = {.op = "MatMulInteger"};
            struct tensor in[4] = {Q8(ta, m, k), Q8(tb, k, n), scalar_of(ta, ta == TENSOR_INT8 ? -7 : 100),
                                   scalar_of(tb, tb == TENSOR_INT8 ? 0 : 128)};
            CHECK_SAME(&s, in, 4);
            CHECK_SAME(&s, in, 2);
        }
}

TEST(depthwise_conv_matches_reference)
{
    struct {
        int64_t x[4], k[2], strides[2], pads[4], dilations[2];
        int bias;
    } cases[] = {
        {{1, 32, 30, 29}, {3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1},
        {{1, 6, 9, 10}, {3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1}, /* 3x3 groups of four, then channels one by one */
        {{2, 8, 17, 19}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 0},
        {{1, 4, 12, 11}, {5, 3}, {1, 2}, {2, 1, 0, 2}, {1, 1}, 1},
        {{1, 3, 15, 16}, {3, 3}, {1, 1}, {2, 2, 2, 2}, {2, 2}, 1},
        {{1, 5, 4, 4}, {3, 3}, {3, 3}, {0, 0, 0, 0}, {1, 1}, 0},
        /* the row kernel (conv_depthwise.c, 3x3 with a column of padding each side): rows whole
         * vectors and not, narrower than a vector, one column; input rows above and below the
         * image by uneven padding, an output taller or shorter than the input; few planes split
         * into bands of rows (a band not whole groups of four), a batch of them */
        {{2, 3, 37, 32}, {3, 3}, {1, 1}, {0, 1, 2, 1}, {1, 1}, 1},
        {{1, 2, 23, 48}, {3, 3}, {1, 1}, {2, 1, 0, 1}, {1, 1}, 1},
        {{1, 4, 9, 5}, {3, 3}, {1, 1}, {3, 1, 3, 1}, {1, 1}, 0},
        {{3, 5, 2, 1}, {3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1},
        {{1, 1, 1, 17}, {3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1},
        {{1, 40, 6, 33}, {3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1},
        /* stride 2 by rows: input rows whole vector pairs, odd, shorter than a vector, one column;
         * the last output column reading the padding or not; uneven padding above, below and right */
        {{2, 3, 29, 64}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1},
        {{1, 5, 16, 33}, {3, 3}, {2, 2}, {0, 1, 1, 0}, {1, 1}, 1},
        {{1, 2, 21, 31}, {3, 3}, {2, 2}, {2, 1, 2, 2}, {1, 1}, 0},
        {{1, 6, 7, 9}, {3, 3}, {2, 2}, {1, 1, 0, 1}, {1, 1}, 1},
        {{3, 4, 3, 1}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1},
        {{1, 64, 10, 48}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1},
        /* 5x5 (two columns of padding on the left), stride 1 and 2: neighbours two columns out,
         * taken from the vector before and after; rows in and out of the image */
        {{2, 3, 19, 37}, {5, 5}, {1, 1}, {2, 2, 2, 2}, {1, 1}, 1},
        {{1, 4, 9, 16}, {5, 5}, {1, 1}, {0, 2, 4, 2}, {1, 1}, 0},
        {{1, 2, 6, 3}, {5, 5}, {1, 1}, {2, 2, 2, 2}, {1, 1}, 1},
        {{2, 3, 23, 65}, {5, 5}, {2, 2}, {2, 2, 2, 2}, {1, 1}, 1},
        {{1, 5, 12, 32}, {5, 5}, {2, 2}, {1, 2, 2, 1}, {1, 1}, 1},
        {{1, 40, 7, 2}, {5, 5}, {2, 2}, {2, 2, 2, 2}, {1, 1}, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct node_spec s = {.op = "Conv"};
        int64_t c = cases[i].x[1];
        attr_int(&s, "group", c);
        attr_ints(&s, "strides", cases[i].strides, 2);
        attr_ints(&s, "pads", cases[i].pads, 4);
        attr_ints(&s, "dilations", cases[i].dilations, 2);
        struct tensor in[3] = {T(cases[i].x[0], c, cases[i].x[2], cases[i].x[3]), T(c, 1, cases[i].k[0], cases[i].k[1]),
                               cases[i].bias ? T(c) : NONE};
        CHECK_SAME(&s, in, cases[i].bias ? 3 : 2);
    }
}

/* Stride-1 convolutions whose rows keep their width (conv_direct.c on AVX-512, 3x3 ones with 16
 * channels or more on large enough planes by conv_winograd.c, the implicit GEMM elsewhere): output
 * channels and planes that are not whole tiles, taps reaching into the padding on every side,
 * dilation, kernels wider than tall, a plane shorter than the input, batches, with weights packed
 * at load and per call, and every fused epilogue. */
TEST(direct_conv_matches_reference)
{
    struct {
        int64_t x[4], w[4], pads[4], dilations[2];
    } cases[] = {
        {{1, 64, 20, 19}, {64, 64, 3, 3}, {1, 1, 1, 1}, {1, 1}},
        {{2, 5, 9, 7}, {13, 5, 3, 3}, {1, 1, 1, 1}, {1, 1}},
        {{1, 7, 11, 13}, {9, 7, 5, 5}, {2, 2, 2, 2}, {1, 1}},
        {{1, 6, 12, 10}, {8, 6, 3, 3}, {2, 2, 2, 2}, {2, 2}},
        {{3, 4, 8, 9}, {17, 4, 3, 3}, {2, 0, 0, 2}, {1, 1}},  /* rows lost, columns shifted */
        {{1, 3, 10, 21}, {7, 3, 1, 5}, {0, 2, 0, 2}, {1, 1}}, /* 1x5 */
        {{1, 9, 6, 5}, {3, 9, 4, 1}, {0, 0, 0, 0}, {1, 1}},   /* 4x1: the plane shorter than the input */
        {{2, 32, 17, 15}, {24, 32, 1, 1}, {0, 0, 0, 0}, {1, 1}},
        {{1, 4, 7, 20}, {6, 4, 1, 1}, {1, 0, 2, 0}, {1, 1}}, /* 1x1 with rows of padding: tiles masked and not */
        {{1, 2, 1, 1}, {3, 2, 1, 1}, {0, 0, 0, 0}, {1, 1}},
        {{1, 3, 2, 40}, {8, 3, 3, 3}, {1, 1, 1, 1}, {1, 1}}, /* rows wider than a tile */
        /* Winograd F(2x2, 3x3) (conv_winograd.c, planes of 48 2x2 blocks or more): odd planes (a
         * last block half outside), rows of blocks shorter than a vector, bands not whole, output
         * channels not whole blocks, padding on one side only, a batch, weights transformed per
         * call (planes of 1024 pixels or more) */
        {{2, 16, 21, 11}, {20, 16, 3, 3}, {1, 1, 1, 1}, {1, 1}},
        {{1, 17, 30, 33}, {16, 17, 3, 3}, {2, 0, 0, 2}, {1, 1}},
        {{1, 16, 8, 40}, {16, 16, 3, 3}, {0, 1, 2, 1}, {1, 1}},
        {{1, 24, 56, 56}, {32, 24, 3, 3}, {1, 1, 1, 1}, {1, 1}},
        {{1, 96, 14, 14}, {24, 96, 3, 3}, {1, 1, 1, 1}, {1, 1}}, /* longer sums: the transforms' rounding */
    };
    static const struct op_fused acts[] = {
        {.act = OP_ACT_NONE}, {.act = OP_ACT_RELU}, {.act = OP_ACT_LEAKY_RELU, .alpha = 0.1f},
        {.act = OP_ACT_SIGMOID}, {.act = OP_ACT_GELU}, {.act = OP_ACT_CLIP, .lo = -0.5f, .hi = 0.75f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct node_spec s = {.op = "Conv"};
        attr_ints(&s, "pads", cases[i].pads, 4);
        attr_ints(&s, "dilations", cases[i].dilations, 2);
        int64_t m = cases[i].w[0];
        int64_t out[4] = {cases[i].x[0], m,
                          cases[i].x[2] + cases[i].pads[0] + cases[i].pads[2] -
                              (cases[i].w[2] - 1) * cases[i].dilations[0],
                          cases[i].x[3] + cases[i].pads[1] + cases[i].pads[3] -
                              (cases[i].w[3] - 1) * cases[i].dilations[1]};
        struct tensor in[3] = {random_tensor(&inputs_arena, 4, cases[i].x, 1.0f),
                               random_tensor(&inputs_arena, 4, cases[i].w, 1.0f), T(m)};
        for (int pre = 0; pre < 2; pre++) {
            prepack_under_test = pre ? 2 : 0;
            prepack_from = CPU_ISA_AVX512; /* the direct kernel's weights; the GEMM packs per call */
            CHECK_SAME(&s, in, 3);
            CHECK_SAME(&s, in, 2);
        }
        prepack_under_test = 0;
        prepack_from = CPU_ISA_GENERIC;
        struct tensor bias = T(m, 1, 1), res = random_tensor(&inputs_arena, 4, out, 1.0f);
        for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
            struct op_fused f = acts[a];
            f.bias = a % 2 ? &bias : NULL;
            f.residual = a % 3 ? &res : NULL;
            fused_under_test = &f;
            CHECK_SAME(&s, in, 3);
            fused_under_test = NULL;
        }
    }
}

/* MatMul and Gemm with B packed at load: odd sizes, one to four rows (the GEMV path), K past one
 * KC block and cut in unequal deep blocks (1601 = 534 + 534 + 533), N past one NC column block,
 * transposed B, alpha/beta and Gemm's own bias. */
TEST(prepacked_weights_match_reference)
{
    static const int64_t shapes[][3] = {{1, 784, 2048}, {1, 7, 5},      {2, 300, 33},   {3, 65, 129},
                                        {4, 513, 100},  {5, 100, 47},   {37, 257, 70},  {130, 260, 150},
                                        {13, 1601, 70}, {14, 40, 2100}};
    prepack_under_test = 2;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        int64_t m = shapes[i][0], k = shapes[i][1], n = shapes[i][2];
        struct node_spec s = {.op = "MatMul"};
        struct tensor in[2] = {T(m, k), T(k, n)};
        CHECK_SAME(&s, in, 2);
        struct tensor folded[2] = {T(2, m, k), T(k, n)};
        CHECK_SAME(&s, folded, 2);
        for (int tb = 0; tb < 2; tb++) {
            struct node_spec g = {.op = "Gemm"};
            attr_int(&g, "transB", tb);
            attr_float(&g, "alpha", 0.5f);
            attr_float(&g, "beta", 2.0f);
            struct tensor gin[3] = {T(m, k), tb ? T(n, k) : T(k, n), T(n)};
            CHECK_SAME(&g, gin, 3);
            struct node_spec ta = {.op = "Gemm"};
            attr_int(&ta, "transA", 1);
            attr_int(&ta, "transB", tb);
            struct tensor tin[2] = {T(k, m), tb ? T(n, k) : T(k, n)};
            CHECK_SAME(&ta, tin, 2);
        }
    }
    prepack_under_test = 0;
}

/* A weight whose packed copy would pass the pack budget (pack_budget.h) is not copied at load: the
 * kernel reads it where it lies, with the same answers. */
TEST(weights_past_the_pack_budget_stay_in_place)
{
    struct node_spec s = {.op = "MatMul"};
    struct tensor in[2] = {T(2, 2100), T(2100, 2100)}; /* 17.6 MB > PACK_MAX_BYTES */
    const struct tensor *args[2] = {&in[0], &in[1]};
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
    node.op_type = "MatMul";
    struct backend_node info = {.node = &node, .inputs = args, .n_inputs = 2};
    _Atomic(struct op_cache *) cache = NULL;
    backend_cpu_opt.prepare(&info, &cache);
    CHECK(atomic_load(&cache) == NULL);
    CHECK_SAME(&s, in, 2);
}

/* Bias, residual and every activation folded into MatMul, Gemm and Conv (GEMM, 1x1, depthwise),
 * with and without weights packed at load. */
TEST(fused_epilogues_match_reference)
{
    static const struct op_fused acts[] = {
        {.act = OP_ACT_NONE},    {.act = OP_ACT_RELU}, {.act = OP_ACT_LEAKY_RELU, .alpha = 0.1f},
        {.act = OP_ACT_SIGMOID}, {.act = OP_ACT_GELU}, {.act = OP_ACT_CLIP, .lo = -0.5f, .hi = 0.75f},
    };
    static const int64_t shapes[][3] = {{1, 300, 77}, {3, 33, 20}, {17, 64, 45}, {64, 70, 130}};
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
        for (int parts = 0; parts < 4; parts++) {
            struct op_fused f = acts[a];
            for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
                int64_t m = shapes[i][0], k = shapes[i][1], n = shapes[i][2];
                struct tensor bias = T(n), res = T(m, n);
                f.bias = parts & 1 ? &bias : NULL;
                f.residual = parts & 2 ? &res : NULL;
                fused_under_test = &f;
                for (int pre = 0; pre < 2; pre++) {
                    prepack_under_test = pre ? 2 : 0;
                    struct node_spec s = {.op = "MatMul"};
                    struct tensor in[2] = {T(m, k), T(k, n)};
                    CHECK_SAME(&s, in, 2);
                    struct node_spec g = {.op = "Gemm"};
                    attr_int(&g, "transB", 1);
                    struct tensor gin[3] = {T(m, k), T(n, k), T(1, n)};
                    CHECK_SAME(&g, gin, 3);
                }
                prepack_under_test = 0;
            }
            /* per-head products (attention), spread over the pool a head per task: each head's residual */
            struct tensor hbias = T(17), hres = T(6, 29, 17);
            f.bias = parts & 1 ? &hbias : NULL;
            f.residual = parts & 2 ? &hres : NULL;
            fused_under_test = &f;
            struct node_spec hs = {.op = "MatMul"};
            struct tensor heads[2] = {T(6, 29, 20), T(6, 20, 17)};
            CHECK_SAME(&hs, heads, 2);
            struct {
                int64_t x[4], w[4], group, pads[4], stride;
            } convs[] = {
                {{1, 16, 14, 13}, {24, 16, 3, 3}, 1, {1, 1, 1, 1}, 1}, /* im2col GEMM */
                {{2, 8, 9, 7}, {12, 8, 1, 1}, 1, {0, 0, 0, 0}, 1},     /* 1x1: direct GEMM */
                {{2, 12, 11, 10}, {12, 1, 3, 3}, 12, {1, 1, 1, 1}, 1}, /* depthwise */
                {{2, 3, 13, 21}, {3, 1, 3, 3}, 3, {2, 1, 0, 1}, 1},    /* depthwise in bands of rows */
                {{2, 5, 14, 35}, {5, 1, 3, 3}, 5, {1, 1, 1, 1}, 2},    /* depthwise, stride 2 */
                {{1, 4, 11, 20}, {4, 1, 5, 5}, 4, {2, 2, 2, 2}, 1},    /* depthwise 5x5 */
                {{2, 3, 12, 33}, {3, 1, 5, 5}, 3, {2, 2, 2, 2}, 2},    /* depthwise 5x5, stride 2 */
            };
            for (size_t c = 0; c < sizeof convs / sizeof convs[0]; c++) {
                struct node_spec s = {.op = "Conv"};
                int64_t strides[2] = {convs[c].stride, convs[c].stride};
                attr_ints(&s, "strides", strides, 2);
                attr_int(&s, "group", convs[c].group);
                attr_ints(&s, "pads", convs[c].pads, 4);
                int64_t out_c = convs[c].w[0];
                struct tensor cbias = T(out_c, 1, 1),
                              cres = T(convs[c].x[0], out_c,
                                       (convs[c].x[2] + convs[c].pads[0] + convs[c].pads[2] - convs[c].w[2]) /
                                               convs[c].stride + 1,
                                       (convs[c].x[3] + convs[c].pads[1] + convs[c].pads[3] - convs[c].w[3]) /
                                               convs[c].stride + 1);
                f.bias = parts & 1 ? &cbias : NULL;
                f.residual = parts & 2 ? &cres : NULL;
                fused_under_test = &f;
                struct tensor in[3] = {random_tensor(&inputs_arena, 4, convs[c].x, 1.0f),
                                       random_tensor(&inputs_arena, 4, convs[c].w, 1.0f), T(out_c)};
                CHECK_SAME(&s, in, 3);
                CHECK_SAME(&s, in, 2); /* no bias of its own */
            }
        }
    fused_under_test = NULL;
    /* A residual whose shape is not the output's is declined (the engine then runs the nodes). */
    struct tensor wrong = T(3, 5);
    struct op_fused bad = {.residual = &wrong};
    fused_under_test = &bad;
    struct node_spec s = {.op = "MatMul"};
    struct tensor in[2] = {T(3, 4), T(4, 6)};
    CHECK(compare(&s, in, 2, 0) == NULL);
    fused_under_test = NULL;
}

/* Gelu's erf saturates to ±1 and passes infinities and NaN as libm's does (the vector erf takes its
 * reciprocal by estimate and Newton step, which an unbounded argument would turn into inf · 0). */
TEST(fused_gelu_keeps_extremes)
{
    static const float extremes[] = {INFINITY, -INFINITY, NAN, 1e30f, -1e30f, 1e6f, -1e6f, 5.0f, -5.0f, 3.9f, -3.9f};
    const int64_t n = 40;
    struct tensor bias = T(n);
    float *b = bias.data;
    for (size_t i = 0; i < sizeof extremes / sizeof extremes[0]; i++)
        b[i * 3] = extremes[i];
    struct op_fused f = {.act = OP_ACT_GELU, .bias = &bias};
    fused_under_test = &f;
    for (int pre = 0; pre < 2; pre++) {
        prepack_under_test = pre ? 2 : 0;
        struct node_spec s = {.op = "MatMul"};
        struct tensor in[2] = {T(13, 9), T(9, n)};
        CHECK_SAME(&s, in, 2);
    }
    prepack_under_test = 0;
    fused_under_test = NULL;
}

TEST(non_float_inputs_are_not_claimed)
{
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
    node.op_type = "Add";
    struct tensor ints = {.type = TENSOR_INT64, .rank = 1, .dims = {3}};
    struct tensor unknown = {.type = TENSOR_UNDEFINED, .rank = -1};
    const struct tensor *args[2] = {&ints, &unknown};
    struct backend_node info = {.node = &node, .inputs = args, .n_inputs = 2};
    CHECK(!backend_cpu_opt.claims(&info));
    args[0] = &unknown;
    CHECK(backend_cpu_opt.claims(&info));
    node.op_type = "Softsign";
    CHECK(!backend_cpu_opt.claims(&info));
}

TEST(backend_choice_is_checked)
{
    CHECK(backend_configure("tpu", 0) == ERR_INVALID);
    err_clear();
    CHECK(backend_configure("cuda", 0) == ERR_UNSUPPORTED);
    const char *why = err_message(ERR_UNSUPPORTED);
    CHECK(strstr(why, backend_cuda_built() ? "no GPU" : "not built") != NULL);
    err_clear();
    CHECK(backend_configure("cpu", 2) == 0);
    CHECK_STR(backend_choice(), "cpu");
    CHECK(backend_configure("auto", 2) == 0);
}

/* Only where amlserve's CUDA kernels are built (nvcc) and a device answers. */
static void cuda_matches_reference(void)
{
    test_current = "cuda_matches_reference";
    if (!backend_cuda_built()) {
        printf("SKIP %s: the CUDA backend is not built (no nvcc at build time)\n", test_current);
        return;
    }
    if (!backend_cuda.usable()) {
        printf("SKIP %s: no GPU\n", test_current);
        return;
    }
    test_current_failed = 0;
    under_test = &backend_cuda;
    do {
        struct node_spec mm = {.op = "MatMul"};
        struct tensor ab[2] = {T(37, 65), T(65, 129)};
        CHECK_SAME(&mm, ab, 2);
        for (int t = 0; t < 4; t++) {
            struct node_spec s = {.op = "Gemm"};
            attr_int(&s, "transA", t & 1);
            attr_int(&s, "transB", t >> 1);
            attr_float(&s, "alpha", 0.5f);
            struct tensor in[3] = {t & 1 ? T(300, 3) : T(3, 300), t >> 1 ? T(17, 300) : T(300, 17), T(17)};
            CHECK_SAME(&s, in, 3);
        }
        static const char *bin[] = {"Add", "Sub", "Mul", "Div"};
        for (int o = 0; o < 4; o++) {
            struct node_spec s = {.op = bin[o]};
            struct tensor same[2] = {T(3, 1001), T(3, 1001)}, scalar[2] = {T(5, 7), T(1)};
            CHECK_SAME(&s, same, 2);
            CHECK_SAME(&s, scalar, 2);
        }
        static const char *acts[] = {"Relu", "Sigmoid", "Softmax"};
        for (int o = 0; o < 3; o++) {
            struct node_spec s = {.op = acts[o]};
            struct tensor x[1] = {T(7, 1000)};
            CHECK_SAME(&s, x, 1);
        }
    } while (0);
    under_test = &backend_cpu_opt;
    if (!test_current_failed)
        printf("PASS %s\n", test_current);
}

/* Special values and a sweep over the float range: ±0, denormals, the
 * branch points of the approximations, huge values, ±inf, NaN. */
static struct tensor float_range_tensor(void)
{
    static const float special[] = {0.0f,     -0.0f,    1e-45f,   -1e-45f,  1e-40f,   -1e-40f,  1.17549435e-38f, 1e-20f,
                                    -1e-7f,   0.5f,     0.625f,   -0.625f,  0.62499f, 0.99999f, 1.0f,            -1.0f,
                                    1.00001f, 2.5f,     3.9f,     -3.9f,    9.0f,     44.0f,    -45.0f,          88.0f,
                                    1e10f,    -1e10f,   3.4e38f,  -3.4e38f, INFINITY, -INFINITY, NAN};
    int n_special = (int)(sizeof special / sizeof special[0]);
    int64_t dims[1] = {4000};
    struct tensor x = random_tensor(&inputs_arena, 1, dims, 1.0f);
    float *d = x.data;
    for (int i = 0; i < n_special; i++)
        d[i] = special[i];
    /* magnitudes 1e-38 .. 1e38 in both signs, then a dense sweep of [-6, 6] */
    for (int i = n_special; i < 1000; i++)
        d[i] = (i & 1 ? -1.0f : 1.0f) * powf(10.0f, -38.0f + 76.0f * (float)(i - n_special) / (1000 - n_special));
    for (int i = 1000; i < 4000; i++)
        d[i] = -6.0f + 12.0f * (float)(i - 1000) / 3000;
    return x;
}

TEST(erf_tanh_sigmoid_over_the_float_range)
{
    static const char *ops[] = {"Erf", "Tanh", "Sigmoid", "Exp"};
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        struct node_spec s = {.op = ops[o]};
        struct tensor x[1] = {float_range_tensor()};
        CHECK_SAME(&s, x, 1);
        struct tensor big[1] = {T(3, 70001)}; /* threaded, with a tail */
        CHECK_SAME(&s, big, 1);
    }
}

TEST(layer_norm_matches_reference)
{
    struct node_spec s = {.op = "LayerNormalization"};
    attr_float(&s, "epsilon", 1e-12f);
    struct tensor bert[3] = {T(1, 128, 768), T(768), T(768)}; /* threaded rows */
    CHECK_SAME(&s, bert, 3);
    struct tensor odd[3] = {T(7, 13), T(13), NONE}; /* no bias, a tail */
    CHECK_SAME(&s, odd, 2);
    struct node_spec mid = {.op = "LayerNormalization"};
    attr_int(&mid, "axis", 1);
    struct tensor two[3] = {T(3, 5, 9), T(5, 9), T(5, 9)}; /* over the last two axes */
    CHECK_SAME(&mid, two, 3);
    struct node_spec neg = {.op = "LayerNormalization"};
    attr_int(&neg, "axis", -2);
    CHECK_SAME(&neg, two, 3);
    float *row = two[0].data; /* a constant row (variance 0) and a large offset */
    for (int i = 0; i < 45; i++)
        row[i] = 3.0f, row[45 + i] += 1000.0f;
    CHECK_SAME(&mid, two, 3);
    struct tensor bcast[3] = {T(4, 6), T(1), T(6)}; /* declined: the reference broadcasts scale */
    CHECK(compare(&s, bcast, 3, 0) == NULL);
}

TEST(transpose_matches_reference)
{
    struct {
        int rank;
        int64_t dims[6], perm[6];
        int has_perm;
    } cases[] = {
        {4, {1, 128, 12, 64}, {0, 2, 1, 3}, 1}, /* attention: heads out, rows copied */
        {4, {1, 128, 12, 64}, {0, 2, 3, 1}, 1}, /* K transposed: 8×8 tiles */
        {4, {2, 12, 33, 17}, {0, 2, 1, 3}, 1},
        {4, {2, 5, 19, 23}, {0, 1, 3, 2}, 1},
        {2, {37, 45}, {0}, 0}, /* default perm: reversed */
        {3, {4, 1, 9}, {2, 0, 1}, 1},
        {5, {2, 3, 4, 5, 6}, {4, 2, 0, 3, 1}, 1},
        {1, {17}, {0}, 1},
        {3, {2, 0, 5}, {1, 2, 0}, 1}, /* empty */
        {2, {1024, 100}, {1, 0}, 1},  /* one big plane */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct node_spec s = {.op = "Transpose"};
        if (cases[i].has_perm)
            attr_ints(&s, "perm", cases[i].perm, (size_t)cases[i].rank);
        struct tensor x[1] = {random_tensor(&inputs_arena, cases[i].rank, cases[i].dims, 1.0f)};
        CHECK_SAME(&s, x, 1);
    }
    struct node_spec bad = {.op = "Transpose"};
    int64_t twice[2] = {0, 0};
    attr_ints(&bad, "perm", twice, 2);
    struct tensor x[1] = {T(3, 4)};
    CHECK(compare(&bad, x, 1, 0) != NULL); /* declined, and the reference reports it */
}

TEST(softmax_threads_rows)
{
    struct node_spec sm = {.op = "Softmax"};
    struct tensor scores[1] = {T(1, 12, 128, 128)};
    CHECK_SAME(&sm, scores, 1);
    struct tensor x[1] = {float_range_tensor()}; /* inf, NaN: the whole row NaN, as the reference */
    CHECK_SAME(&sm, x, 1);
}

int main(void)
{
    arena_init(&inputs_arena, 1 << 20, 0);
    pool_set_threads(2); /* exercise the pool even on one CPU */
    RUN(backend_choice_is_checked);
    RUN(non_float_inputs_are_not_claimed);
    RUN(matmul_matches_reference);
    RUN(gemm_matches_reference_with_transposes_and_bias);
    RUN(conv_matches_reference);
    RUN(elementwise_matches_reference);
    RUN(batch_norm_and_softmax_match_reference);
    RUN(max_pool_matches_reference);
    RUN(erf_tanh_sigmoid_over_the_float_range);
    RUN(layer_norm_matches_reference);
    RUN(transpose_matches_reference);
    RUN(softmax_threads_rows);
    RUN(integer_matmul_matches_reference);
    RUN(depthwise_conv_matches_reference);
    RUN(direct_conv_matches_reference);
    RUN(prepacked_weights_match_reference);
    RUN(weights_past_the_pack_budget_stay_in_place);
    RUN(fused_epilogues_match_reference);
    RUN(fused_gelu_keeps_extremes);
    RUN(integer_matmul_row_tails_match_reference);
    cuda_matches_reference();
    printf("# %d values compared over %d backend runs, vector paths up to %s, %d threads\n", checks, fast_runs,
           cpu_isa_name(cpu_isa_detected()), pool_threads());
    arena_release(&inputs_arena);
    return test_failures ? 1 : 0;
}
