/* Backend selection and the per-backend node counters. */
#include "backend.h"

#include "common/err.h"
#include "threadpool.h"

#include <stdatomic.h>
#include <string.h>

/* Best first: a node goes to the first enabled backend that claims it. */
static const struct engine_backend *const all[] = {&backend_cuda, &backend_cpu_opt};
#define N_BACKENDS (int)(sizeof all / sizeof all[0])

static int enabled[N_BACKENDS] = {1, 1};
static const char *choice = "auto";
static atomic_ulong planned[BACKEND_MAX + 1], runs[BACKEND_MAX + 1]; /* [0] = the reference */

int backend_configure(const char *name, int threads)
{
    int want = -2; /* -1: reference only, -2: auto, else one backend */
    if (!name || !strcmp(name, "auto"))
        want = -2;
    else if (!strcmp(name, "cpu-ref"))
        want = -1;
    else {
        for (int i = 0; i < N_BACKENDS; i++)
            if (!strcmp(all[i]->name, name))
                want = i;
        if (want == -2)
            return err_set(ERR_INVALID, "backend '%s': expected auto, cpu, cpu-ref or cuda", name);
        if (!all[want]->usable())
            return err_set(ERR_UNSUPPORTED, "backend '%s': %s", name,
                           all[want] != &backend_cuda ? "not usable on this machine"
                           : backend_cuda_built()     ? "no GPU (no CUDA device found)"
                                                      : "not built (this amlserve has no CUDA support: "
                                                        "make AMLSERVE_CUDA=1 where nvcc exists)");
    }
    for (int i = 0; i < N_BACKENDS; i++)
        enabled[i] = want == -2 || want == i;
    choice = want == -2 ? "auto" : want == -1 ? "cpu-ref" : all[want]->name;
    pool_set_threads(threads);
    return 0;
}

const struct engine_backend *backend_assign(const struct backend_node *info, op_run_fn *run, int *index)
{
    *run = NULL;
    *index = -1;
    for (int i = 0; i < N_BACKENDS; i++) {
        if (!enabled[i] || !all[i]->usable() || !all[i]->claims(info))
            continue;
        *run = all[i]->kernel(info->node);
        if (!*run)
            continue;
        *index = i;
        return all[i];
    }
    return NULL;
}

int backend_count(void)
{
    return N_BACKENDS;
}
const char *backend_name(int index)
{
    return index < 0 ? "cpu-ref" : all[index]->name;
}
void backend_count_planned(int index, int delta)
{
    atomic_fetch_add(&planned[index + 1], (unsigned long)(long)delta);
}
void backend_count_run(int index)
{
    atomic_fetch_add_explicit(&runs[index + 1], 1, memory_order_relaxed);
}
unsigned long backend_planned(int index)
{
    return atomic_load(&planned[index + 1]);
}
unsigned long backend_runs(int index)
{
    return atomic_load(&runs[index + 1]);
}
const char *backend_choice(void)
{
    return choice;
}
int backend_threads(void)
{
    return pool_threads();
}

op_run_fn backend_kernel_find(const struct backend_kernel *table, size_t n, const Onnx__NodeProto *node)
{
    if (!node->op_type || (node->domain && node->domain[0] && strcmp(node->domain, "ai.onnx") != 0))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].op_type, node->op_type) == 0)
            return table[i].run;
    return NULL;
}

int backend_inputs_float(const struct backend_node *info)
{
    for (int i = 0; i < info->n_inputs; i++) {
        const struct tensor *t = info->inputs[i];
        if (t && t->type != TENSOR_UNDEFINED && t->type != TENSOR_FLOAT)
            return 0;
    }
    return 1;
}

int backend_is_float(const struct tensor *t)
{
    return t && t->type == TENSOR_FLOAT;
}

int backend_conv_window(const struct op_call *call, struct ops_window *w, const struct tensor *x,
                        const struct tensor *wt)
{
    if (ops_window_init(call, w, x, wt->dims + 2)) {
        err_clear(); /* the reference reports it */
        return BACKEND_DECLINE;
    }
    size_t nks;
    const int64_t *ks = ops_attr_ints(call, "kernel_shape", &nks);
    for (size_t i = 0; ks && i < nks && (int)i < w->n_spatial; i++)
        if (ks[i] != wt->dims[2 + i])
            return BACKEND_DECLINE;
    return 0;
}

int backend_gemm_args(const struct op_call *call, int matmul, struct backend_gemm *g)
{
    g->a = call->inputs[0];
    g->b = call->inputs[1];
    g->c = matmul ? NULL : ops_input(call, 2);
    if (!backend_is_float(g->a) || !backend_is_float(g->b) || g->a->rank != 2 || g->b->rank != 2 ||
        (g->c && !backend_is_float(g->c)))
        return BACKEND_DECLINE;
    g->ta = matmul ? 0 : ops_attr_int(call, "transA", 0) != 0;
    g->tb = matmul ? 0 : ops_attr_int(call, "transB", 0) != 0;
    g->alpha = matmul ? 1.0f : ops_attr_float(call, "alpha", 1.0f);
    g->beta = matmul ? 0.0f : ops_attr_float(call, "beta", 1.0f);
    g->m = g->a->dims[g->ta];
    g->k = g->a->dims[!g->ta];
    g->n = g->b->dims[!g->tb];
    return g->b->dims[g->tb] == g->k ? 0 : BACKEND_DECLINE;
}

int backend_gemm_output(const struct op_call *call, const struct tensor *c, float beta, int64_t m, int64_t n, float **y,
                        int *accumulate)
{
    /* C broadcasts one way to [M, N]: element (i, j) is at i·rs + j·cs. */
    int64_t rs = 0, cs = 0;
    if (c) {
        int64_t cm = c->rank == 2 ? c->dims[0] : 1, cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        if (c->rank > 2 || (cm != 1 && cm != m) || (cn != 1 && cn != n))
            return BACKEND_DECLINE;
        rs = cm == 1 ? 0 : cn;
        cs = cn == 1 ? 0 : 1;
    }
    int64_t dims[2] = {m, n};
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, 2, dims);
    if (rc)
        return rc;
    *y = call->outputs[0].data;
    *accumulate = c && beta != 0;
    if (*accumulate) {
        const float *cd = c->data;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                (*y)[i * n + j] = beta * cd[i * rs + j * cs];
    }
    return 0;
}
