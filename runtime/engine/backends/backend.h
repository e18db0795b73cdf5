/* Backends: alternative kernels for the nodes they claim.
 *
 * At plan time the engine offers each node to the enabled backends in order;
 * the first one that claims it runs it, the CPU reference (ops/) runs the
 * rest and stays the oracle the others are tested against. Plan time knows
 * only part of the picture (initializers and graph inputs have types and
 * shapes, intermediate values do not), so a claimed kernel may still decline
 * a call at run time by returning BACKEND_DECLINE before it allocates or
 * writes anything; the engine then runs the reference kernel.
 *
 * Selection and the thread count are process-wide settings made once, before
 * models are loaded (backend_configure); without it every backend that is
 * built and usable is enabled ("auto"). Backends are static tables: nothing
 * here is owned by the caller. */
#ifndef AMLSERVE_BACKEND_H
#define AMLSERVE_BACKEND_H

#include "runtime/engine/ops/ops.h"

/* Returned by a backend kernel that leaves this call to the reference. */
#define BACKEND_DECLINE 1

/* What plan time knows about a node. inputs[i].type is TENSOR_UNDEFINED and
 * rank -1 when unknown; data is non-NULL only for constants (weights). NULL
 * entries for omitted optional inputs. */
struct backend_node {
    const Onnx__NodeProto *node;
    const struct tensor *const *inputs;
    int n_inputs;
    int opset;
};

struct engine_backend {
    const char *name;
    /* Whether this build and this machine can run it (CPU features, a GPU). */
    int (*usable)(void);
    int (*claims)(const struct backend_node *info);
    /* The kernel for a claimed node. */
    op_run_fn (*kernel)(const Onnx__NodeProto *node);
    /* Optional, at load for a claimed node: derive what the kernel wants from
     * constant inputs (weights packed for the GEMM micro-kernel) into the node's
     * cache. Failure is not an error: the kernel then works from the inputs. */
    void (*prepare)(const struct backend_node *info, _Atomic(struct op_cache *) *cache);
};

/* "auto" (default: every usable backend, best first), "cpu" (the optimized
 * CPU backend), "cpu-ref" (reference kernels only) or "cuda". threads: the
 * engine's pool for one operator's work, 0 = one per CPU. ERR_INVALID for an
 * unknown name, ERR_UNSUPPORTED for a backend this build or machine lacks. */
/* A backend's kernel table: op_type → kernel, default ONNX domain only. */
struct backend_kernel {
    const char *op_type;
    op_run_fn run;
};
op_run_fn backend_kernel_find(const struct backend_kernel *table, size_t n, const Onnx__NodeProto *node);
/* t is present and float32. */
int backend_is_float(const struct tensor *t);
/* A convolution's window: x's spatial dims with the weight's kernel (wt->dims + 2) and the call's
 * pads, strides and dilations. 0, or BACKEND_DECLINE when the attributes are bad (the reference kernel
 * reports them) or kernel_shape disagrees with the weight. */
int backend_conv_window(const struct op_call *call, struct ops_window *w, const struct tensor *x,
                        const struct tensor *wt);
/* A float32 Gemm's operands and attributes, read and checked once for every
 * backend: A and B of rank 2, C (optional) float, the inner sizes equal. For
 * a MatMul (matmul set) there is no C and no transposing or scaling. */
struct backend_gemm {
    const struct tensor *a, *b, *c;
    int ta, tb;
    float alpha, beta;
    int64_t m, n, k;
};
/* 0, or BACKEND_DECLINE when the call is not such a Gemm. */
int backend_gemm_args(const struct op_call *call, int matmul, struct backend_gemm *g);
/* Gemm's output Y [m, n] allocated and, when C is given and beta is not 0,
 * filled with beta·C (C broadcasts one way to [m, n]); *accumulate then says
 * the product must be added to Y. BACKEND_DECLINE when C does not broadcast. */
int backend_gemm_output(const struct op_call *call, const struct tensor *c, float beta, int64_t m, int64_t n, float **y,
                        int *accumulate);
/* 1 when every input whose type is known at load is float32 (the rest are checked per call). */
int backend_inputs_float(const struct backend_node *info);

int backend_configure(const char *choice, int threads);
/* The backend for a node, or NULL for the reference. Returns its index for
 * the counters in *index (-1 for the reference). */
const struct engine_backend *backend_assign(const struct backend_node *info, op_run_fn *run, int *index);

/* Counters for /metrics, index -1 = the reference, 0.. = backend_at(i). */
#define BACKEND_MAX 4
int backend_count(void);
const char *backend_name(int index);
/* delta: +1 when a model with the node is loaded, -1 when it is freed. */
void backend_count_planned(int index, int delta);
void backend_count_run(int index);
unsigned long backend_planned(int index);
unsigned long backend_runs(int index);
/* The choice in effect ("auto", "cpu", ...) and the pool size. */
const char *backend_choice(void);
int backend_threads(void);

/* The backends themselves. */
extern const struct engine_backend backend_cpu_opt;
extern const struct engine_backend backend_cuda;
/* Whether this program was linked with the CUDA kernels (amlserve built where nvcc exists). */
int backend_cuda_built(void);

#endif
