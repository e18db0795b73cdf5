/* Walks forward from each MatMul/Gemm/Conv along single-consumer values:
 * bias Add, then residual Add, then one activation, in that order (the order
 * the fused kernel applies them). Names are compared as strings: the planner
 * maps them to slots afterwards. */
#include "fuse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Per value name: how many node inputs read it, the first two readers and the writer. */
struct value_use {
    const char *name; /* NULL: a free entry */
    int uses;
    int producer;    /* node index, -1 for graph inputs and initializers */
    int readers[2];  /* the first two nodes reading it */
};

/* Open addressing over every name the graph's nodes mention (cap: a power of two, twice that many). */
struct fuse_ctx {
    const struct fuse_graph *fg;
    struct value_use *v;
    size_t cap;
};

static size_t name_hash(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct value_use *value_slot(const struct fuse_ctx *c, const char *name)
{
    for (size_t i = name_hash(name) & (c->cap - 1);; i = (i + 1) & (c->cap - 1))
        if (!c->v[i].name || !strcmp(c->v[i].name, name))
            return &c->v[i];
}

static struct value_use *value_find(const struct fuse_ctx *c, const char *name)
{
    struct value_use *u = value_slot(c, name);
    return u->name ? u : NULL;
}

static struct value_use *value_get(struct fuse_ctx *c, const char *name)
{
    struct value_use *u = value_slot(c, name);
    if (!u->name)
        *u = (struct value_use){.name = name, .producer = -1, .readers = {-1, -1}};
    return u;
}

static const Onnx__NodeProto *node_at(const struct fuse_ctx *c, int i)
{
    return c->fg->g->node[i];
}

static int is_op(const Onnx__NodeProto *np, const char *op)
{
    return np->op_type && !strcmp(np->op_type, op) && (!np->domain || !np->domain[0] || !strcmp(np->domain, "ai.onnx"));
}

/* The one node reading value name, when it is read once and is not a graph output; else -1. */
static int sole_consumer(struct fuse_ctx *c, const char *name)
{
    const struct value_use *u = value_find(c, name);
    if (!u || u->uses != 1)
        return -1;
    for (size_t i = 0; i < c->fg->g->n_output; i++)
        if (c->fg->g->output[i]->name && !strcmp(c->fg->g->output[i]->name, name))
            return -1;
    return u->readers[0];
}

/* The float value of a one-element constant, or NAN. */
static float constant_scalar(struct fuse_ctx *c, const char *name)
{
    const struct tensor *t = name && name[0] ? c->fg->constant(c->fg->ctx, name) : NULL;
    if (!t || t->type != TENSOR_FLOAT || tensor_element_count(t) != 1)
        return NAN;
    return *(const float *)t->data;
}

static int near(float v, double want)
{
    return fabs(v - want) <= 1e-6 * fabs(want);
}

/* The other input of a two-input node reading `from`, or NULL (both inputs are `from`). */
static const char *other_input(const Onnx__NodeProto *np, const char *from)
{
    if (np->n_input != 2)
        return NULL;
    if (!strcmp(np->input[0], from))
        return strcmp(np->input[1], from) ? np->input[1] : NULL;
    return np->input[0];
}

/* Whether np computes x / √2 (Div by √2, or Mul by 1/√2). */
static int scales_by_inv_sqrt2(struct fuse_ctx *c, const Onnx__NodeProto *np, const char *x)
{
    if (is_op(np, "Div"))
        return np->n_input == 2 && !strcmp(np->input[0], x) && near(constant_scalar(c, np->input[1]), sqrt(2.0));
    return is_op(np, "Mul") && near(constant_scalar(c, other_input(np, x)), sqrt(0.5));
}

/* Whether node n is Mul(from, 0.5) in either operand order. */
static int halves(struct fuse_ctx *c, int n, const char *from)
{
    const Onnx__NodeProto *np = n >= 0 ? node_at(c, n) : NULL;
    return np && is_op(np, "Mul") && near(constant_scalar(c, other_input(np, from)), 0.5);
}

/* The sole consumer of node n's one output, or -1. */
static int next_of(struct fuse_ctx *c, int n)
{
    return node_at(c, n)->n_output == 1 ? sole_consumer(c, node_at(c, n)->output[0]) : -1;
}

/* Gelu as exporters write it from value x (read by exactly two nodes): the erf branch
 * x / √2 (Div, or Mul by 1/√2) → Erf → Add(1) = a, and the 0.5 · x · a product in any of the
 * orders exporters use: Mul(x, a) → Mul(0.5); Mul(x, 0.5) then Mul(·, a); Mul(a, 0.5) then
 * Mul(x, ·). Returns the last node, or -1; folded[] gets the five node indices. */
static int match_gelu(struct fuse_ctx *c, const char *x, int *folded)
{
    const struct value_use *u = value_find(c, x);
    if (!u || u->uses != 2)
        return -1;
    for (size_t i = 0; i < c->fg->g->n_output; i++)
        if (c->fg->g->output[i]->name && !strcmp(c->fg->g->output[i]->name, x))
            return -1;
    int scale = -1, other = -1;
    for (int r = 0; r < 2; r++) {
        int rd = u->readers[r], e = next_of(c, rd);
        if (scale < 0 && e >= 0 && is_op(node_at(c, e), "Erf") && scales_by_inv_sqrt2(c, node_at(c, rd), x))
            scale = rd;
        else
            other = rd;
    }
    if (scale < 0 || other < 0 || !is_op(node_at(c, other), "Mul") || node_at(c, other)->n_output != 1)
        return -1;
    int erf = next_of(c, scale), add = next_of(c, erf);
    if (add < 0 || !is_op(node_at(c, add), "Add") || node_at(c, add)->n_output != 1 ||
        !near(constant_scalar(c, other_input(node_at(c, add), node_at(c, erf)->output[0])), 1.0))
        return -1;
    const char *a = node_at(c, add)->output[0], *o = other_input(node_at(c, other), x);
    const char *other_out = node_at(c, other)->output[0];
    int mid, last;
    if (!o)
        return -1;
    if (!strcmp(o, a)) { /* (x · a) · 0.5 */
        mid = other, last = next_of(c, other);
        if (next_of(c, add) != other || !halves(c, last, other_out))
            return -1;
    } else if (near(constant_scalar(c, o), 0.5)) { /* (0.5 · x) · a */
        mid = other, last = next_of(c, add);
        if (last < 0 || next_of(c, other) != last || !is_op(node_at(c, last), "Mul") ||
            !other_input(node_at(c, last), a) || strcmp(other_input(node_at(c, last), a), other_out))
            return -1;
    } else { /* x · (0.5 · a) */
        mid = next_of(c, add), last = other;
        if (!halves(c, mid, a) || node_at(c, mid)->n_output != 1 || next_of(c, mid) != other ||
            strcmp(o, node_at(c, mid)->output[0]))
            return -1;
    }
    if (node_at(c, last)->n_output != 1)
        return -1;
    folded[0] = scale, folded[1] = erf, folded[2] = add, folded[3] = mid, folded[4] = last;
    return last;
}

static float attr_float(const Onnx__NodeProto *np, const char *name, float def)
{
    for (size_t i = 0; i < np->n_attribute; i++)
        if (np->attribute[i]->name && !strcmp(np->attribute[i]->name, name) && np->attribute[i]->has_f)
            return np->attribute[i]->f;
    return def;
}

static const char *attr_string(const Onnx__NodeProto *np, const char *name)
{
    for (size_t i = 0; i < np->n_attribute; i++)
        if (np->attribute[i]->name && !strcmp(np->attribute[i]->name, name) && np->attribute[i]->has_s)
            return (const char *)np->attribute[i]->s.data;
    return NULL;
}

/* An activation node as op_fused's act; 0 when it is not one the kernels apply. */
static int activation_of(struct fuse_ctx *c, const Onnx__NodeProto *np, struct fuse_plan *p)
{
    if (np->n_output != 1)
        return 0;
    if (is_op(np, "Relu"))
        p->act = OP_ACT_RELU;
    else if (is_op(np, "Sigmoid"))
        p->act = OP_ACT_SIGMOID;
    else if (is_op(np, "LeakyRelu")) {
        p->act = OP_ACT_LEAKY_RELU;
        p->alpha = attr_float(np, "alpha", 0.01f);
    } else if (is_op(np, "Gelu")) {
        const char *approx = attr_string(np, "approximate");
        if (approx && strncmp(approx, "none", 4))
            return 0;
        p->act = OP_ACT_GELU;
    } else if (is_op(np, "Clip")) {
        float lo = -INFINITY, hi = INFINITY;
        if (c->fg->opset && c->fg->opset < 11) {
            lo = attr_float(np, "min", lo);
            hi = attr_float(np, "max", hi);
        } else {
            /* bounds are inputs: constants only, an omitted one is unbounded */
            if (np->n_input > 1 && np->input[1][0] && isnan(lo = constant_scalar(c, np->input[1])))
                return 0;
            if (np->n_input > 2 && np->input[2][0] && isnan(hi = constant_scalar(c, np->input[2])))
                return 0;
        }
        p->act = OP_ACT_CLIP;
        p->lo = lo, p->hi = hi;
    } else
        return 0;
    return 1;
}

/* Folds what follows producer i into plans[i]; marks the folded nodes. */
static void fuse_from(struct fuse_ctx *c, int i, struct fuse_plan *plans)
{
    struct fuse_plan p = {.folded_into = -1};
    const char *v = node_at(c, i)->output[0];
    int folded[16], n = 0;
    for (;;) {
        int next = sole_consumer(c, v);
        const Onnx__NodeProto *np = next > i ? node_at(c, next) : NULL;
        if (np && is_op(np, "Add") && np->n_output == 1 && !p.residual && p.act == OP_ACT_NONE) {
            const char *other = other_input(np, v);
            if (!other || !other[0])
                break;
            const struct value_use *ou = value_find(c, other);
            const struct tensor *k = c->fg->constant(c->fg->ctx, other);
            int spread = 0; /* dimensions of the constant longer than 1: a bias has one */
            for (int d = 0; k && d < k->rank; d++)
                spread += k->dims[d] != 1;
            if (k && spread <= 1) {
                if (p.bias)
                    break;
                p.bias = other;
            } else if (k || (ou && ou->producer < i)) {
                p.residual = other; /* computed before the producer runs */
            } else
                break;
            folded[n++] = next;
            v = np->output[0];
            continue;
        }
        if (np && p.act == OP_ACT_NONE && activation_of(c, np, &p)) {
            folded[n++] = next;
            v = np->output[0];
            break;
        }
        int gelu[5];
        int last = p.act == OP_ACT_NONE ? match_gelu(c, v, gelu) : -1;
        if (last > i) {
            int after = 1;
            for (int k = 0; k < 5; k++)
                after = after && gelu[k] > i;
            if (after) {
                for (int k = 0; k < 5; k++)
                    folded[n++] = gelu[k];
                p.act = OP_ACT_GELU;
                v = node_at(c, last)->output[0];
            }
        }
        break;
    }
    if (!n)
        return;
    p.n_folded = n;
    p.output = v;
    plans[i] = p;
    for (int k = 0; k < n; k++)
        plans[folded[k]].folded_into = i;
}

int fuse_plan_graph(const struct fuse_graph *fg, struct fuse_plan *plans)
{
    const Onnx__GraphProto *g = fg->g;
    for (size_t i = 0; i < g->n_node; i++)
        plans[i] = (struct fuse_plan){.folded_into = -1};
    /* Control flow bodies may read any value by name: leave such models as they are. */
    for (size_t i = 0; i < g->n_node; i++)
        for (size_t a = 0; a < g->node[i]->n_attribute; a++)
            if (g->node[i]->attribute[a]->g || g->node[i]->attribute[a]->n_graphs)
                return 0;
    size_t names = 0;
    for (size_t i = 0; i < g->n_node; i++)
        names += g->node[i]->n_input + g->node[i]->n_output;
    struct fuse_ctx c = {.fg = fg, .cap = 16};
    while (c.cap < names * 2)
        c.cap *= 2;
    int fused = 0;
    c.v = calloc(c.cap, sizeof *c.v);
    if (!c.v)
        return 0; /* no fusion: the plan runs node by node */
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *np = g->node[i];
        for (size_t j = 0; j < np->n_input; j++) {
            if (!np->input[j][0])
                continue;
            struct value_use *u = value_get(&c, np->input[j]);
            if (u->uses < 2)
                u->readers[u->uses] = (int)i;
            u->uses++;
        }
        for (size_t j = 0; j < np->n_output; j++)
            if (np->output[j][0])
                value_get(&c, np->output[j])->producer = (int)i;
    }
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *np = g->node[i];
        if (plans[i].folded_into >= 0 || np->n_output != 1 || !np->output[0][0] ||
            !(is_op(np, "MatMul") || is_op(np, "Gemm") || is_op(np, "Conv")) || !fg->can_fuse(fg->ctx, i))
            continue;
        fuse_from(&c, (int)i, plans);
        fused += plans[i].n_folded > 0;
    }
    free(c.v);
    return fused;
}
