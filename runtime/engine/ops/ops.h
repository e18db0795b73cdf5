/* Operator kernels and the table that finds them by ONNX op_type.
 *
 * A kernel receives its input tensors, computes output shapes, allocates the
 * outputs from the per-run arena and fills them. Kernels never keep state
 * between calls and report problems through err_set naming the node. */
#ifndef AMLSERVE_OPS_H
#define AMLSERVE_OPS_H

#include "common/arena.h"
#include "onnx.pb-c.h"
#include "runtime/engine/tensor.h"

struct op_call {
    const Onnx__NodeProto *node;
    const struct tensor *const *inputs; /* NULL entries for omitted optional inputs */
    int n_inputs;
    struct tensor *outputs;
    int n_outputs;
    struct arena *arena;
};

typedef int (*op_run_fn)(const struct op_call *call);

struct op_kernel {
    const char *domain; /* "" for the default ONNX domain */
    const char *op_type;
    int min_inputs, max_inputs;
    op_run_fn run;
};

/* The kernel for (domain, op_type), or NULL when the engine lacks it. */
const struct op_kernel *ops_find(const char *domain, const char *op_type);

/* Helpers shared by kernels. */
int ops_alloc_output(const struct op_call *call, int index, enum tensor_type type, int rank,
                     const int64_t *dims);
int ops_fail(const struct op_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Kernels, one file per family. */
int op_add(const struct op_call *call);
int op_sub(const struct op_call *call);
int op_mul(const struct op_call *call);
int op_div(const struct op_call *call);
int op_matmul(const struct op_call *call);

#endif
