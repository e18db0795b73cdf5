/* Operator kernels and the table that finds them by ONNX op_type.
 *
 * A kernel receives its input tensors, computes output shapes, allocates the
 * outputs from the per-run arena and fills them. Kernels keep no state between
 * calls beyond what they derive from the node alone, in the model's per-node
 * cache (struct op_cache), and report problems through err_set naming the node: ERR_INVALID
 * for inputs or attributes the operator's definition rejects, ERR_UNSUPPORTED
 * for valid uses (a data type, an attribute value) the engine lacks. An output
 * may alias an input's data (Reshape, Identity): tensors never own memory. */
#ifndef AMLSERVE_OPS_H
#define AMLSERVE_OPS_H

#include "common/arena.h"
#include "onnx.pb-c.h"
#include "runtime/engine/tensor.h"

#include <stdatomic.h>

/* What a kernel derives from a node's attributes alone (a parsed tree
 * ensemble), built on the first run and kept with the loaded model so later
 * runs skip it. The engine frees it with the model through free. */
struct op_cache {
    void (*free)(struct op_cache *self);
};

/* Work the planner folded into a MatMul, Gemm or Conv from the nodes after it
 * (engine_fuse.h): y = act(product + bias + residual). Only backend kernels
 * see it; one that cannot apply it declines, and the engine then runs the
 * reference and the folded nodes as they are. */
enum op_act { OP_ACT_NONE, OP_ACT_RELU, OP_ACT_LEAKY_RELU, OP_ACT_SIGMOID, OP_ACT_GELU, OP_ACT_CLIP };
struct op_fused {
    const struct tensor *bias;     /* MatMul/Gemm: n values along the last axis; Conv: one per channel */
    const struct tensor *residual; /* the output's shape, added element by element */
    enum op_act act;
    float alpha;  /* LeakyRelu's slope */
    float lo, hi; /* Clip's bounds */
};
struct mem_run;

struct op_call {
    const Onnx__NodeProto *node;
    const struct tensor *const *inputs; /* NULL entries for omitted optional inputs */
    int n_inputs;
    struct tensor *outputs;
    int n_outputs;
    struct arena *arena;
    int opset; /* default-domain opset of the model, 0 when it imports none (= newest) */
    /* The node's cache slot in the loaded model, or NULL (kernels then derive per call).
     * Runs share it: publish with a compare-and-swap, never overwrite. */
    _Atomic(struct op_cache *) *cache;
    /* Bit j: input j is one of the model's initializers, the same bytes on every run
     * (so what a kernel derives from it may be cached). 0 outside the engine. */
    uint64_t constant_inputs;
    const struct op_fused *fused; /* NULL unless the planner fused nodes into this one */
    /* The run's memory plan (mem_plan.h) and this node's index in it; NULL outside the main graph. */
    struct mem_run *memory;
    size_t node_index;
};

typedef int (*op_run_fn)(const struct op_call *call);

struct op_kernel {
    const char *domain; /* "" for the default ONNX domain */
    const char *op_type;
    int min_inputs, max_inputs;
    int max_outputs;
    op_run_fn run; /* NULL for control flow, which engine.c runs */
};

/* The kernel for (domain, op_type), or NULL when the engine lacks it. */
const struct op_kernel *ops_find(const char *domain, const char *op_type);

/* Helpers shared by kernels. */
int ops_alloc_output(const struct op_call *call, int index, enum tensor_type type, int rank, const int64_t *dims);
/* Same for a scratch tensor that is not an output (lives in the arena). */
int ops_alloc_tensor(const struct op_call *call, struct tensor *t, enum tensor_type type, int rank,
                     const int64_t *dims);
int ops_fail(const struct op_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ops_unsupported(const struct op_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Input i, or NULL when it is omitted or beyond the node's inputs. */
const struct tensor *ops_input(const struct op_call *call, int i);

/* Attributes by name; NULL / the default when absent. */
const Onnx__AttributeProto *ops_attr(const struct op_call *call, const char *name);
int64_t ops_attr_int(const struct op_call *call, const char *name, int64_t def);
float ops_attr_float(const struct op_call *call, const char *name, float def);
/* The ints of a list attribute (borrowed from the node), *n = 0 and NULL when absent. */
const int64_t *ops_attr_ints(const struct op_call *call, const char *name, size_t *n);

/* Reads a rank-0/1 int64 or int32 tensor (shapes, axes) into out (at most max values). */
int ops_read_ints(const struct op_call *call, const struct tensor *t, int64_t *out, int max, int *n);
/* Normalizes a possibly negative axis against rank; ERR_INVALID when out of range. */
int ops_axis(const struct op_call *call, int64_t axis, int rank, int *out);
/* Copies a TensorProto (Constant's value) into an arena tensor. */
int ops_tensor_from_proto(const struct op_call *call, struct tensor *out, const Onnx__TensorProto *p);

/* numpy broadcasting over up to OPS_MAX_BCAST inputs: output shape, and per input
 * element strides in the output's rank (0 along broadcast dimensions). */
#define OPS_MAX_BCAST 3
struct ops_bcast {
    int rank;
    int64_t dims[TENSOR_MAX_RANK];
    int n;
    int64_t strides[OPS_MAX_BCAST][TENSOR_MAX_RANK];
    int64_t total;
};
int ops_broadcast(const struct op_call *call, struct ops_bcast *out, int n, const struct tensor *const *ts);
/* Calls row for each run of the innermost dimension: out_offset is the
 * output's element offset, in_offsets[i] input i's, steps[i] its innermost stride. */
typedef void (*ops_row_fn)(void *ctx, int64_t out_offset, const int64_t *in_offsets, const int64_t *steps,
                           int64_t count);
void ops_broadcast_walk(const struct ops_bcast *b, ops_row_fn row, void *ctx);

/* Element access through double, for kernels where speed matters less than
 * type coverage (reductions, Clip on integers, Pow with mixed types). */
double ops_load(enum tensor_type type, const void *data, int64_t i);
void ops_store(enum tensor_type type, void *data, int64_t i, double v);
int ops_is_numeric(enum tensor_type type);

/* Sliding-window geometry shared by Conv and the pools, for 1 to 3 spatial
 * dimensions. Fewer than 3 are padded in front with size-1 dimensions
 * (kernel 1, stride 1, no pads) so one 3-D loop serves all. */
#define OPS_MAX_SPATIAL 3
struct ops_window {
    int n_spatial;
    int64_t in[OPS_MAX_SPATIAL], kernel[OPS_MAX_SPATIAL], stride[OPS_MAX_SPATIAL], dilation[OPS_MAX_SPATIAL];
    int64_t pad_begin[OPS_MAX_SPATIAL], pad_end[OPS_MAX_SPATIAL], out[OPS_MAX_SPATIAL];
};
/* x is [N, C, spatial...]; kernel gives the window (Conv: from the weights) or
 * NULL to read kernel_shape. Reads strides, dilations, pads, auto_pad, ceil_mode. */
int ops_window_init(const struct op_call *call, struct ops_window *w, const struct tensor *x, const int64_t *kernel);

/* Cast to or from strings (text.c): numbers print as the shortest text that
 * reads back to the same value; strings parse with strtod/strtoll. */
int ops_cast_string(const struct op_call *call, enum tensor_type to);

/* c[m,n] = a[m,k] · b[k,n], all row-major float32 (matmul.c). */
void ops_gemm_f32(float *c, const float *a, const float *b, int64_t m, int64_t k, int64_t n);

/* The string attribute (class labels, categories) an ai.onnx.ml node needs
 * string tensors for, or NULL: the engine refuses such nodes when it loads the
 * model (ml_common.c). */
const char *ops_ml_string_attribute(const Onnx__NodeProto *node);

/* Kernels, one file per family, declared from the one operator list. */
#define OP_KERNEL(domain, op_type, min_inputs, max_inputs, max_outputs, kernel) int kernel(const struct op_call *call);
#define OP_ALIAS(domain, op_type, min_inputs, max_inputs, max_outputs, kernel)
#define OP_CONTROL(domain, op_type, min_inputs, max_inputs, max_outputs)
#include "runtime/engine/ops/op_list.h"
#undef OP_KERNEL
#undef OP_ALIAS
#undef OP_CONTROL

#endif
