/* Plan-time fusion: a MatMul, Gemm or Conv followed by an Add of a constant
 * (bias), an Add of another tensor (residual) and an activation (Relu,
 * LeakyRelu, Sigmoid, Clip, Gelu as one node or as exporters write it with
 * Erf) becomes one node whose kernel applies them to each block of its output
 * while it is in cache (ops.h's struct op_fused): no intermediate tensors, no
 * extra passes. Only values with a single consumer that are not graph outputs
 * are folded, and only in the main graph of a model without control flow
 * (whose bodies could read any value). The folded nodes stay in the plan: when
 * the kernel declines a call the engine runs them as usual. */
#ifndef AMLSERVE_ENGINE_FUSE_H
#define AMLSERVE_ENGINE_FUSE_H

#include "ops/ops.h"

struct fuse_plan {
    int folded_into; /* a folded node: its producer's index; -1 otherwise */
    int n_folded;    /* a producer: how many nodes are folded into it (0: none) */
    /* A producer's fused work, by value name (NULL: none), and the output it now writes. */
    const char *bias, *residual, *output;
    enum op_act act;
    float alpha, lo, hi;
};

/* What the planner knows about the graph's values and nodes. */
struct fuse_graph {
    const Onnx__GraphProto *g;
    int opset;
    /* The initializer named so (a constant the caller cannot feed), or NULL. */
    const struct tensor *(*constant)(void *ctx, const char *name);
    /* Whether node i's kernel applies struct op_fused (the optimized CPU backend claims it). */
    int (*can_fuse)(void *ctx, size_t node);
    void *ctx;
};

/* Fills plans[0 .. g->n_node); returns how many producers got fused work. */
int fuse_plan_graph(const struct fuse_graph *fg, struct fuse_plan *plans);

#endif
