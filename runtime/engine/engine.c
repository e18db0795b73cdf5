/* Model loading (proto → execution plan) and plan execution. */
#include "engine.h"

#include "mem_plan.h"

#include "backends/backend.h"
#include "beneath.h"
#include "common/buf.h"
#include "common/err.h"
#include "fuse.h"
#include "model_map.h"
#include "onnx_reader.h"
#include "onnx_strip.h"
#include "ops/ops.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every named value in the graph gets a slot; nodes refer to slots by index.
 * Subgraphs (If branches, Loop bodies) share the one slot space: ONNX names are
 * unique across a model's graphs, and a subgraph may read its ancestors' values. */
struct plan_graph;

struct plan_node {
    const struct op_kernel *kernel;
    op_run_fn fast; /* the claiming backend's kernel, NULL for the reference */
    int backend;    /* its index for the counters, -1 for the reference */
    int counted;    /* in the backend's planned-node gauge */
    const Onnx__NodeProto *proto;
    int *inputs; /* slot per input, -1 for an omitted optional input */
    int n_inputs;
    int *outputs; /* -1 for an optional output left unnamed */
    int n_outputs;
    enum { CONTROL_NONE, CONTROL_IF, CONTROL_LOOP, CONTROL_SCAN, CONTROL_SEQUENCE_MAP } control;
    struct plan_graph *sub[2]; /* If: then and else branches; Loop, Scan, SequenceMap: the body */
    _Atomic(struct op_cache *) cache; /* the kernel's derived data (ops.h), NULL until its first run */
    /* Fusion (fuse.h), main graph only: the work folded into this node, and for a folded node the
     * index + 1 of the node it is folded into (0: none). */
    struct plan_fusion *fusion;
    size_t folded_into;
};

/* A fused node's folded work by slot (-1: none) and the slot its result now fills. */
struct plan_fusion {
    int bias, residual, output;
    enum op_act act;
    float alpha, lo, hi;
};

struct plan_graph {
    struct plan_node *nodes;
    size_t n_nodes;
    int *inputs; /* formal inputs (a Loop body's iteration number, condition, carried values) */
    size_t n_inputs;
    int *outputs;
    size_t n_outputs;
};

/* Subgraphs nest at most this deep: a model is data, and recursion must stay bounded. */
#define PLAN_MAX_DEPTH 16
/* A Loop with neither a trip count nor a condition that turns false stops here. */
#define LOOP_MAX_ITERATIONS (1 << 20)

struct engine_model {
    int opset;      /* default-domain opset the model imports; 0 when it names none */
    int graph_only; /* initializers checked, never copied: the model can be described, not run */
    Onnx__ModelProto *proto;
    char *source;
    char *dir; /* the model file's directory, for external data; NULL when loaded from memory */
    /* The mapped model file and external data files (files.maps) that
     * constants borrow from; file is NULL when loaded from memory. */
    struct model_map *file;
    struct onnx_reader_files files;
    int n_slots;
    struct tensor *constants;   /* per slot; data != NULL for initializers unless graph_only */
    unsigned char *owned;       /* per slot: constants[slot].data is malloc'd (else borrowed) */
    unsigned char *initialized; /* per slot: an initializer sets it */
    /* Per slot: an aligned copy of a constant borrowed misaligned (misaligned()), made the first
     * time a kernel that reads it as its type needs it; NULL until then. */
    _Atomic(void *) *aligned;
    struct plan_node *nodes;
    size_t n_nodes;
    struct engine_io *inputs;
    int *input_slots;
    size_t n_inputs;
    struct engine_io *outputs;
    int *output_slots;
    size_t n_outputs;
    int max_node_inputs;
    int n_fused; /* main-graph nodes with folded work (fuse.h) */
    struct mem_plan *memory; /* NULL when the main graph has control flow (or no memory) */
};

/* Name → slot map: open addressing, sized at twice the number of names. */
struct slot_map {
    const char **names;
    int *slots;
    size_t cap;
    int count;
    int *owner;  /* per slot: the graph that defines it (0 = the main graph) */
    int *parent; /* per graph: its enclosing graph */
    int n_graphs;
};

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Returns the slot for name, adding it when add is set; -1 when absent. */
static int slot_map_get(struct slot_map *map, const char *name, int add)
{
    size_t i = hash_name(name) & (map->cap - 1);
    while (map->names[i]) {
        if (strcmp(map->names[i], name) == 0)
            return map->slots[i];
        i = (i + 1) & (map->cap - 1);
    }
    if (!add)
        return -1;
    map->names[i] = name;
    map->slots[i] = map->count;
    return map->count++;
}

/* Whether graph g may read a value defined in graph owner (itself or an ancestor). */
static int slot_visible(const struct slot_map *map, int owner, int g)
{
    for (; g > 0; g = map->parent[g])
        if (g == owner)
            return 1;
    return owner == 0;
}

static void plan_nodes_free(struct plan_node *nodes, size_t n);

static void plan_graph_free(struct plan_graph *pg)
{
    if (!pg)
        return;
    plan_nodes_free(pg->nodes, pg->n_nodes);
    free(pg->nodes);
    free(pg->inputs);
    free(pg->outputs);
    free(pg);
}

static void plan_nodes_free(struct plan_node *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (nodes[i].counted)
            backend_count_planned(nodes[i].backend, -1);
        struct op_cache *cache = atomic_load(&nodes[i].cache);
        if (cache)
            cache->free(cache);
        free(nodes[i].inputs);
        free(nodes[i].outputs);
        free(nodes[i].fusion);
        plan_graph_free(nodes[i].sub[0]);
        plan_graph_free(nodes[i].sub[1]);
    }
}

/* Names a graph and its subgraphs define, and how many subgraphs there are. */
static void count_names(const Onnx__GraphProto *g, size_t *names, size_t *graphs, int depth)
{
    *names += g->n_input + g->n_initializer;
    *graphs += 1;
    for (size_t i = 0; i < g->n_node; i++) {
        *names += g->node[i]->n_output;
        for (size_t a = 0; a < g->node[i]->n_attribute && depth < PLAN_MAX_DEPTH; a++)
            if (g->node[i]->attribute[a]->g)
                count_names(g->node[i]->attribute[a]->g, names, graphs, depth + 1);
    }
}

void engine_model_free(struct engine_model *m)
{
    if (!m)
        return;
    if (m->constants && m->owned)
        for (int i = 0; i < m->n_slots; i++)
            if (m->owned[i])
                free(m->constants[i].data);
    free(m->constants);
    free(m->owned);
    for (int i = 0; m->aligned && i < m->n_slots; i++)
        free(atomic_load(&m->aligned[i]));
    free(m->aligned);
    free(m->initialized);
    if (m->nodes)
        plan_nodes_free(m->nodes, m->n_nodes);
    free(m->nodes);
    free(m->inputs);
    free(m->input_slots);
    for (size_t i = 0; m->outputs && i < m->n_outputs; i++) {
        for (size_t k = 0; k < m->outputs[i].n_map_keys; k++)
            free(m->outputs[i].map_keys[k]);
        free(m->outputs[i].map_keys);
    }
    free(m->outputs);
    free(m->output_slots);
    onnx_reader_free(m->proto);
    for (size_t i = 0; i < m->files.n_maps; i++)
        model_map_free(m->files.maps[i]);
    free(m->files.maps);
    model_map_free(m->file);
    mem_plan_free(m->memory);
    free(m->source);
    free(m->dir);
    free(m);
}

static int plan_subgraph(struct plan_graph **out, struct engine_model *m, struct slot_map *map,
                         const Onnx__GraphProto *g, int parent, int depth, const char *label);

/* Offers the node to the backends with what is known now: constants and graph inputs. */
static void plan_backend(const struct engine_model *m, struct plan_node *pn)
{
    static const struct tensor unknown = {.type = TENSOR_UNDEFINED, .rank = -1};
    const struct tensor *known[64];
    int n = pn->n_inputs < 64 ? pn->n_inputs : 64;
    for (int j = 0; j < n; j++) {
        int slot = pn->inputs[j];
        known[j] = slot < 0 ? NULL : m->constants[slot].data ? &m->constants[slot] : &unknown;
        for (size_t i = 0; slot >= 0 && i < m->n_inputs; i++)
            if (m->input_slots[i] == slot)
                known[j] = &m->inputs[i].shape;
    }
    struct backend_node info = {.node = pn->proto, .inputs = known, .n_inputs = n, .opset = m->opset};
    pn->fast = NULL;
    pn->backend = -1;
    if (pn->kernel->run && pn->n_inputs <= 64) {
        const struct engine_backend *be = backend_assign(&info, &pn->fast, &pn->backend);
        if (be && be->prepare)
            be->prepare(&info, &pn->cache); /* weights packed once, at load */
    }
    backend_count_planned(pn->backend, 1);
    pn->counted = 1;
}

/* ---- weights borrowed misaligned ----
 * Protobuf does not align raw_data: most float weights inside a model file lie at addresses that
 * are not multiples of 4. The main graph's initializers are borrowed from the mapping even so
 * (onnx_reader.h's borrow_unaligned), and stay borrowed where every reader takes bytes at any
 * address: input B of a MatMul or Gemm that the optimized CPU backend runs (sgemm_unaligned.h).
 * Any other reader gets an aligned copy at load; a call the backend declines, one on first need. */

static int misaligned(const struct engine_model *m, int slot)
{
    if (slot < 0 || !m->initialized[slot] || m->owned[slot] || !m->constants[slot].data)
        return 0;
    size_t elem = tensor_type_size(m->constants[slot].type);
    return elem > 1 && (uintptr_t)m->constants[slot].data % elem != 0;
}

static int is_gemm(const Onnx__NodeProto *np)
{
    int default_domain = !np->domain || !np->domain[0] || !strcmp(np->domain, "ai.onnx");
    return default_domain && np->op_type && (!strcmp(np->op_type, "MatMul") || !strcmp(np->op_type, "Gemm"));
}

/* Replaces the misaligned constant in slot by an aligned copy the model owns. */
static int copy_aligned(struct engine_model *m, int slot)
{
    struct tensor *t = &m->constants[slot];
    size_t bytes = (size_t)tensor_element_count(t) * tensor_type_size(t->type);
    void *copy = malloc(bytes);
    if (!copy)
        return err_set(ERR_NOMEM, "%s: out of memory for a copy of a weight", m->source);
    onnx_reader_copy_mapped(copy, t->data, bytes);
    t->data = copy;
    m->owned[slot] = 1;
    return 0;
}

/* Readers of misaligned constants in g (a subgraph when depth > 0) that are not a MatMul's or a
 * Gemm's B get aligned copies; by name, before planning, so no backend sees such bytes elsewhere. */
static int copy_for_readers(struct engine_model *m, struct slot_map *map, const Onnx__GraphProto *g, int depth)
{
    int rc = 0;
    for (size_t i = 0; i < g->n_node && !rc; i++) {
        const Onnx__NodeProto *np = g->node[i];
        for (size_t j = 0; j < np->n_input && !rc; j++) {
            int slot = np->input[j] && np->input[j][0] ? slot_map_get(map, np->input[j], 0) : -1;
            if (misaligned(m, slot) && !(depth == 0 && j == 1 && is_gemm(np)))
                rc = copy_aligned(m, slot);
        }
        for (size_t a = 0; a < np->n_attribute && !rc && depth < PLAN_MAX_DEPTH; a++)
            if (np->attribute[a]->g)
                rc = copy_for_readers(m, map, np->attribute[a]->g, depth + 1);
    }
    for (size_t i = 0; i < g->n_output && !rc; i++) {
        int slot = g->output[i]->name ? slot_map_get(map, g->output[i]->name, 0) : -1;
        if (misaligned(m, slot))
            rc = copy_aligned(m, slot);
    }
    return rc;
}

/* After planning: a MatMul or Gemm that the optimized CPU backend does not run (another backend,
 * the reference) reads B as floats, so it gets an aligned copy too. */
static int copy_for_unclaimed(struct engine_model *m)
{
    for (size_t i = 0; i < m->n_nodes; i++) {
        const struct plan_node *pn = &m->nodes[i];
        int cpu = pn->fast && !strcmp(backend_name(pn->backend), "cpu");
        for (int j = 0; j < pn->n_inputs; j++)
            if (misaligned(m, pn->inputs[j]) && !(j == 1 && cpu)) {
                int rc = copy_aligned(m, pn->inputs[j]);
                if (rc)
                    return rc;
            }
    }
    return 0;
}

/* The inputs of a call the reference kernel is about to run (the backend declined it) that are
 * constants borrowed misaligned now point to aligned copies: made once, kept with the model. */
static int align_inputs(const struct engine_model *m, const struct plan_node *pn, struct tensor *values)
{
    for (int j = 0; j < pn->n_inputs; j++) {
        int slot = pn->inputs[j];
        if (!misaligned(m, slot) || values[slot].data != m->constants[slot].data)
            continue;
        void *copy = atomic_load(&m->aligned[slot]);
        if (!copy) {
            const struct tensor *t = &m->constants[slot];
            size_t bytes = (size_t)tensor_element_count(t) * tensor_type_size(t->type);
            void *made = malloc(bytes), *expected = NULL;
            if (!made)
                return err_set(ERR_NOMEM, "%s: out of memory for a copy of a weight", m->source);
            memcpy(made, t->data, bytes);
            if (atomic_compare_exchange_strong(&m->aligned[slot], &expected, made))
                copy = made;
            else {
                free(made); /* another request made it first */
                copy = expected;
            }
        }
        values[slot].data = copy;
    }
    return 0;
}

/* Adds initializers of graph g (graph id gid) as constant slots. */
static int plan_initializers(struct engine_model *m, struct slot_map *map, const Onnx__GraphProto *g, int gid)
{
    const char *src = m->source;
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *init = g->initializer[i];
        if (!init->name || !init->name[0])
            return err_set(ERR_PARSE, "%s: initializer %zu has no name", src, i);
        int slot = slot_map_get(map, init->name, 1);
        map->owner[slot] = gid;
        if (m->owned[slot])
            free(m->constants[slot].data);
        m->owned[slot] = 0;
        int owned = 0;
        int rc = onnx_reader_tensor_from(&m->constants[slot], &owned, init, &m->files, m->graph_only);
        m->owned[slot] = (unsigned char)owned;
        if (rc)
            return rc;
        m->initialized[slot] = 1;
    }
    return 0;
}

/* Plans g's nodes into nodes[] (room for g->n_node); g has graph id gid. */
static int plan_nodes(struct engine_model *m, struct slot_map *map, const Onnx__GraphProto *g, int gid, int depth,
                      struct plan_node *nodes, size_t *n_nodes)
{
    const char *src = m->source;
    /* Nodes are topologically sorted in a valid model: every input must exist by now. */
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *np = g->node[i];
        struct plan_node *pn = &nodes[(*n_nodes)++];
        const char *label = np->name && np->name[0] ? np->name : np->op_type ? np->op_type : "?";
        pn->proto = np;
        pn->kernel = np->op_type ? ops_find(np->domain, np->op_type) : NULL;
        if (!pn->kernel)
            return err_set(ERR_UNSUPPORTED, "%s: node '%s': operator %s%s%s is not supported", src, label,
                           np->domain && np->domain[0] ? np->domain : "", np->domain && np->domain[0] ? "." : "",
                           np->op_type ? np->op_type : "(none)");
        const char *strings = ops_ml_string_attribute(np);
        if (strings)
            return err_set(ERR_UNSUPPORTED,
                           "%s: node '%s': %s with %s is not supported: the engine has no string "
                           "tensors (export the model with integer class labels)",
                           src, label, np->op_type, strings);
        if ((int)np->n_input < pn->kernel->min_inputs || (int)np->n_input > pn->kernel->max_inputs)
            return err_set(ERR_PARSE, "%s: node '%s': %s takes %d to %d inputs, has %zu", src, label, np->op_type,
                           pn->kernel->min_inputs, pn->kernel->max_inputs, np->n_input);
        if (np->n_output < 1 || (int)np->n_output > pn->kernel->max_outputs)
            return err_set(ERR_PARSE, "%s: node '%s': %s has 1 to %d outputs, has %zu", src, label, np->op_type,
                           pn->kernel->max_outputs, np->n_output);
        pn->n_inputs = (int)np->n_input;
        if (pn->n_inputs > m->max_node_inputs)
            m->max_node_inputs = pn->n_inputs;
        pn->n_outputs = (int)np->n_output;
        pn->inputs = calloc(np->n_input ? np->n_input : 1, sizeof *pn->inputs);
        pn->outputs = calloc(np->n_output ? np->n_output : 1, sizeof *pn->outputs);
        if (!pn->inputs || !pn->outputs)
            return err_set(ERR_NOMEM, "%s: out of memory", src);
        for (size_t j = 0; j < np->n_input; j++) {
            if (!np->input[j][0]) {
                if ((int)j < pn->kernel->min_inputs)
                    return err_set(ERR_PARSE, "%s: node '%s': required input %zu of %s is empty", src, label, j,
                                   np->op_type);
                pn->inputs[j] = -1;
                continue;
            }
            pn->inputs[j] = slot_map_get(map, np->input[j], 0);
            if (pn->inputs[j] < 0 || !slot_visible(map, map->owner[pn->inputs[j]], gid))
                return err_set(ERR_PARSE, "%s: node '%s': input '%s' is not produced before it is used", src, label,
                               np->input[j]);
        }
        if (m->graph_only)
            pn->backend = -1; /* never runs: no backend claims it, no gauge counts it */
        else
            plan_backend(m, pn);
        /* Control flow: plan the branches or body before the node's own outputs exist. */
        if (!pn->kernel->run) {
            int is_if = strcmp(np->op_type, "If") == 0;
            pn->control = is_if                              ? CONTROL_IF
                          : strcmp(np->op_type, "Loop") == 0 ? CONTROL_LOOP
                          : strcmp(np->op_type, "Scan") == 0 ? CONTROL_SCAN
                                                             : CONTROL_SEQUENCE_MAP;
            for (int k = 0; k < (is_if ? 2 : 1); k++) {
                const char *attr_name = is_if ? (k ? "else_branch" : "then_branch") : "body";
                const Onnx__GraphProto *sg = NULL;
                for (size_t a = 0; a < np->n_attribute; a++)
                    if (np->attribute[a]->name && strcmp(np->attribute[a]->name, attr_name) == 0)
                        sg = np->attribute[a]->g;
                if (!sg)
                    return err_set(ERR_PARSE, "%s: node '%s': %s has no '%s' graph", src, label, np->op_type,
                                   attr_name);
                int rc = plan_subgraph(&pn->sub[k], m, map, sg, gid, depth + 1, label);
                if (rc)
                    return rc;
            }
            /* Loop body: iteration, condition, carried; Scan (opset 8: after sequence_lens): states, scan
             * slices; SequenceMap: one value per input. */
            size_t want_in = is_if ? 0 : (size_t)np->n_input;
            if (pn->control == CONTROL_SCAN && m->opset > 0 && m->opset < 9)
                want_in = np->n_input ? np->n_input - 1 : 0;
            size_t carried = pn->control == CONTROL_LOOP ? (size_t)np->n_input - 2 : 0;
            for (int k = 0; k < (is_if ? 2 : 1); k++) {
                struct plan_graph *sg = pn->sub[k];
                /* Loop: body outputs are the condition, the carried values and the scan outputs */
                int outs_ok = pn->control == CONTROL_LOOP ? sg->n_outputs == 1 + np->n_output && np->n_output >= carried
                                                          : sg->n_outputs == np->n_output;
                if (sg->n_inputs != want_in || !outs_ok)
                    return err_set(ERR_PARSE, "%s: node '%s': the %s graph's inputs and outputs do not match the node",
                                   src, label, np->op_type);
            }
        }
        for (size_t j = 0; j < np->n_output; j++) {
            if (!np->output[j][0]) {
                pn->outputs[j] = -1; /* an optional output nobody asked for */
                continue;
            }
            if (slot_map_get(map, np->output[j], 0) >= 0)
                return err_set(ERR_PARSE, "%s: node '%s': output '%s' is assigned twice", src, label, np->output[j]);
            pn->outputs[j] = slot_map_get(map, np->output[j], 1);
            map->owner[pn->outputs[j]] = gid;
        }
    }
    return 0;
}

static int plan_subgraph(struct plan_graph **out, struct engine_model *m, struct slot_map *map,
                         const Onnx__GraphProto *g, int parent, int depth, const char *label)
{
    const char *src = m->source;
    if (depth > PLAN_MAX_DEPTH)
        return err_set(ERR_UNSUPPORTED, "%s: node '%s': subgraphs nest deeper than %d", src, label, PLAN_MAX_DEPTH);
    struct plan_graph *pg = calloc(1, sizeof *pg);
    if (!pg)
        return err_set(ERR_NOMEM, "%s: out of memory", src);
    *out = pg;
    int gid = map->n_graphs++;
    map->parent[gid] = parent;
    pg->nodes = calloc(g->n_node ? g->n_node : 1, sizeof *pg->nodes);
    pg->inputs = calloc(g->n_input ? g->n_input : 1, sizeof *pg->inputs);
    pg->outputs = calloc(g->n_output ? g->n_output : 1, sizeof *pg->outputs);
    if (!pg->nodes || !pg->inputs || !pg->outputs)
        return err_set(ERR_NOMEM, "%s: out of memory", src);
    int rc = plan_initializers(m, map, g, gid);
    if (rc)
        return rc;
    for (size_t i = 0; i < g->n_input; i++) {
        const char *name = g->input[i]->name;
        if (!name || !name[0] || slot_map_get(map, name, 0) >= 0)
            return err_set(ERR_UNSUPPORTED, "%s: node '%s': subgraph input '%s' is unnamed or shadows another value",
                           src, label, name ? name : "");
        pg->inputs[pg->n_inputs] = slot_map_get(map, name, 1);
        map->owner[pg->inputs[pg->n_inputs++]] = gid;
    }
    rc = plan_nodes(m, map, g, gid, depth, pg->nodes, &pg->n_nodes);
    if (rc)
        return rc;
    for (size_t i = 0; i < g->n_output; i++) {
        const char *name = g->output[i]->name;
        int slot = name ? slot_map_get(map, name, 0) : -1;
        if (slot < 0 || !slot_visible(map, map->owner[slot], gid))
            return err_set(ERR_PARSE, "%s: node '%s': subgraph output '%s' is never produced", src, label,
                           name ? name : "");
        pg->outputs[pg->n_outputs++] = slot;
    }
    return 0;
}

/* A graph output typed as a sequence of maps must come from a ZipMap: it is
 * held as the ZipMap's [N, C] scores, its labels naming the columns. */
static int plan_map_output(struct engine_model *m, struct engine_io *io, int slot, const Onnx__ValueInfoProto *vi)
{
    const Onnx__NodeProto *zip = NULL;
    for (size_t i = 0; i < m->n_nodes && !zip; i++)
        for (int j = 0; j < m->nodes[i].n_outputs; j++)
            if (m->nodes[i].outputs[j] == slot && strcmp(m->nodes[i].proto->op_type, "ZipMap") == 0)
                zip = m->nodes[i].proto;
    if (!zip)
        return err_set(ERR_UNSUPPORTED,
                       "%s: graph output '%s' is a sequence or map, which the engine holds only "
                       "when a ZipMap produces it",
                       m->source, vi->name);
    const Onnx__AttributeProto *ints = NULL, *strs = NULL;
    for (size_t a = 0; a < zip->n_attribute; a++) {
        const char *name = zip->attribute[a]->name ? zip->attribute[a]->name : "";
        if (strcmp(name, "classlabels_int64s") == 0)
            ints = zip->attribute[a];
        else if (strcmp(name, "classlabels_strings") == 0)
            strs = zip->attribute[a];
    }
    size_t n = ints && ints->n_ints ? ints->n_ints : strs ? strs->n_strings : 0;
    if (!n)
        return err_set(ERR_PARSE, "%s: ZipMap producing '%s' has no classlabels_int64s or classlabels_strings",
                       m->source, vi->name);
    io->shape = (struct tensor){.type = TENSOR_FLOAT, .rank = 2, .dims = {-1, (int64_t)n}};
    if (!(io->map_keys = calloc(n, sizeof *io->map_keys)))
        return err_set(ERR_NOMEM, "%s: out of memory", m->source);
    io->n_map_keys = n;
    for (size_t k = 0; k < n; k++) {
        char num[24];
        if (ints && ints->n_ints)
            snprintf(num, sizeof num, "%lld", (long long)ints->ints[k]);
        io->map_keys[k] =
            ints && ints->n_ints ? strdup(num) : strndup((const char *)strs->strings[k].data, strs->strings[k].len);
        if (!io->map_keys[k])
            return err_set(ERR_NOMEM, "%s: out of memory", m->source);
    }
    return 0;
}

struct fuse_lookup {
    struct engine_model *m;
    struct slot_map *map;
};

static const struct tensor *fuse_constant(void *ctx, const char *name)
{
    struct fuse_lookup *l = ctx;
    int slot = slot_map_get(l->map, name, 0);
    return slot >= 0 && l->m->initialized[slot] && l->m->constants[slot].data ? &l->m->constants[slot] : NULL;
}

static int fuse_claimed(void *ctx, size_t node)
{
    const struct plan_node *pn = &((struct fuse_lookup *)ctx)->m->nodes[node];
    return pn->fast && !strcmp(backend_name(pn->backend), "cpu"); /* the backend that applies op_fused */
}

/* Folds bias/residual Adds and activations into the main graph's MatMul, Gemm and Conv nodes. */
static int plan_fusion(struct engine_model *m, struct slot_map *map, const Onnx__GraphProto *g)
{
    struct fuse_plan *plans = calloc(g->n_node ? g->n_node : 1, sizeof *plans);
    if (!plans)
        return err_set(ERR_NOMEM, "%s: out of memory", m->source);
    struct fuse_lookup l = {.m = m, .map = map};
    struct fuse_graph fg = {
        .g = g, .opset = m->opset, .constant = fuse_constant, .can_fuse = fuse_claimed, .ctx = &l};
    int rc = 0;
    if (fuse_plan_graph(&fg, plans))
        for (size_t i = 0; i < g->n_node && !rc; i++) {
            const struct fuse_plan *p = &plans[i];
            m->nodes[i].folded_into = p->folded_into >= 0 ? (size_t)p->folded_into + 1 : 0;
            if (!p->n_folded)
                continue;
            struct plan_fusion *f = malloc(sizeof *f);
            if (!f) {
                rc = err_set(ERR_NOMEM, "%s: out of memory", m->source);
                break;
            }
            *f = (struct plan_fusion){.bias = p->bias ? slot_map_get(map, p->bias, 0) : -1,
                                      .residual = p->residual ? slot_map_get(map, p->residual, 0) : -1,
                                      .output = slot_map_get(map, p->output, 0),
                                      .act = p->act,
                                      .alpha = p->alpha,
                                      .lo = p->lo,
                                      .hi = p->hi};
            m->nodes[i].fusion = f;
            m->n_fused++;
        }
    free(plans);
    return rc;
}

/* The memory plan's view of the main graph: each node output's last reader.
 * None with control flow, whose bodies read outer values the plan does not see. */
static struct mem_plan *plan_memory(const struct engine_model *m)
{
    if (!m->n_nodes || m->n_slots <= 0)
        return NULL;
    size_t n_outs = 0;
    for (size_t i = 0; i < m->n_nodes; i++) {
        if (m->nodes[i].control != CONTROL_NONE || !m->nodes[i].kernel->run)
            return NULL;
        n_outs += (size_t)m->nodes[i].n_outputs;
    }
    int *last = malloc((size_t)m->n_slots * sizeof *last), *n_out = malloc(m->n_nodes * sizeof *n_out);
    int *flat = malloc((n_outs + 1) * sizeof *flat);
    const int **last_use = malloc(m->n_nodes * sizeof *last_use);
    struct mem_plan *p = NULL;
    if (last && n_out && flat && last_use) {
        for (int s = 0; s < m->n_slots; s++)
            last[s] = -2; /* never read */
        for (size_t i = 0; i < m->n_nodes; i++)
            for (int j = 0; j < m->nodes[i].n_inputs; j++)
                if (m->nodes[i].inputs[j] >= 0)
                    last[m->nodes[i].inputs[j]] = (int)i;
        for (size_t i = 0; i < m->n_outputs; i++)
            last[m->output_slots[i]] = -1;
        int *at = flat;
        for (size_t i = 0; i < m->n_nodes; i++) {
            const struct plan_node *pn = &m->nodes[i];
            n_out[i] = pn->n_outputs;
            last_use[i] = at;
            for (int k = 0; k < pn->n_outputs; k++) {
                int slot = pn->outputs[k], l = slot < 0 ? -2 : last[slot];
                /* A fused run hands this output on as the last folded node's: it lives as long as that one. */
                if (k == 0 && pn->fusion && pn->fusion->output >= 0 && l != -1) {
                    int folded = last[pn->fusion->output];
                    l = folded == -1 ? -1 : folded > l ? folded : l;
                }
                *at++ = l == -1 ? -1 : l > (int)i ? l : (int)i;
            }
        }
        p = mem_plan_new(m->n_nodes, n_out, last_use);
    }
    free(last);
    free(n_out);
    free(flat);
    free(last_use);
    return p;
}

static int build_plan(struct engine_model *m)
{
    const Onnx__GraphProto *g = m->proto->graph;
    const char *src = m->source;
    size_t names = 0, graphs = 0;
    count_names(g, &names, &graphs, 0);
    struct slot_map map = {0};
    map.cap = 16;
    while (map.cap < names * 2)
        map.cap *= 2;
    map.names = calloc(map.cap, sizeof *map.names);
    map.slots = calloc(map.cap, sizeof *map.slots);
    map.owner = calloc(names ? names : 1, sizeof *map.owner);
    map.parent = calloc(graphs ? graphs : 1, sizeof *map.parent);
    map.n_graphs = 1; /* graph 0 is the main graph */
    m->constants = calloc(names ? names : 1, sizeof *m->constants);
    m->initialized = calloc(names ? names : 1, sizeof *m->initialized);
    m->owned = calloc(names ? names : 1, sizeof *m->owned);
    m->aligned = calloc(names ? names : 1, sizeof *m->aligned);
    m->nodes = calloc(g->n_node ? g->n_node : 1, sizeof *m->nodes);
    int rc = 0;
    if (!map.names || !map.slots || !map.owner || !map.parent || !m->constants || !m->initialized || !m->aligned ||
        !m->nodes) {
        rc = err_set(ERR_NOMEM, "%s: out of memory", src);
        goto done;
    }
    /* The opset first: how some nodes are planned depends on it (Scan before 9). */
    for (size_t i = 0; i < m->proto->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *os = m->proto->opset_import[i];
        if (!os->domain || !os->domain[0] || strcmp(os->domain, "ai.onnx") == 0)
            m->opset = os->version > 0 && os->version < 1000 ? (int)os->version : 0;
    }
    /* Initializers first: a graph input with the same name is an overridable default. The main
     * graph's are borrowed even when misaligned, then copied for the readers that need it. */
    m->files.borrow_unaligned = !m->graph_only;
    rc = plan_initializers(m, &map, g, 0);
    m->files.borrow_unaligned = 0;
    if (!rc)
        rc = copy_for_readers(m, &map, g, 0);
    if (rc)
        goto done;
    m->inputs = calloc(g->n_input ? g->n_input : 1, sizeof *m->inputs);
    m->input_slots = calloc(g->n_input ? g->n_input : 1, sizeof *m->input_slots);
    m->outputs = calloc(g->n_output, sizeof *m->outputs);
    m->output_slots = calloc(g->n_output, sizeof *m->output_slots);
    if (!m->inputs || !m->input_slots || !m->outputs || !m->output_slots) {
        rc = err_set(ERR_NOMEM, "%s: out of memory", src);
        goto done;
    }
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *vi = g->input[i];
        if (!vi->name || !vi->name[0]) {
            rc = err_set(ERR_PARSE, "%s: graph input %zu has no name", src, i);
            goto done;
        }
        int slot = slot_map_get(&map, vi->name, 1);
        if (m->initialized[slot])
            continue; /* an initializer: not something callers must feed */
        struct engine_io *io = &m->inputs[m->n_inputs];
        io->name = vi->name;
        rc = onnx_reader_value_info(&io->shape, vi, src);
        if (rc)
            goto done;
        io->optional = vi->type && vi->type->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE;
        if (!tensor_type_size(io->shape.type) && io->shape.type != TENSOR_SEQUENCE) {
            rc = err_set(ERR_UNSUPPORTED, "%s: graph input '%s' has data type %d, which the engine cannot hold", src,
                         vi->name, (int)io->shape.type);
            goto done;
        }
        m->input_slots[m->n_inputs++] = slot;
    }
    rc = plan_nodes(m, &map, g, 0, 0, m->nodes, &m->n_nodes);
    if (rc)
        goto done;
    if (!m->graph_only && (rc = copy_for_unclaimed(m)))
        goto done;
    if (!m->graph_only && (rc = plan_fusion(m, &map, g)))
        goto done;
    for (size_t i = 0; i < g->n_output; i++) {
        const Onnx__ValueInfoProto *vi = g->output[i];
        int slot = vi->name ? slot_map_get(&map, vi->name, 0) : -1;
        if (slot < 0 || map.owner[slot] != 0) {
            rc = err_set(ERR_PARSE, "%s: graph output '%s' is never produced", src, vi->name ? vi->name : "");
            goto done;
        }
        m->outputs[i].name = vi->name;
        m->n_outputs = i + 1; /* so engine_model_free sees the map keys so far */
        /* Maps, or sequences of maps, come from ZipMap; other sequences are engine values. */
        const Onnx__TypeProto *vt = vi->type;
        int map = vt && (vt->value_case == ONNX__TYPE_PROTO__VALUE_MAP_TYPE ||
                         (vt->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE && vt->sequence_type &&
                          vt->sequence_type->elem_type &&
                          vt->sequence_type->elem_type->value_case == ONNX__TYPE_PROTO__VALUE_MAP_TYPE));
        rc = map ? plan_map_output(m, &m->outputs[i], slot, vi) : onnx_reader_value_info(&m->outputs[i].shape, vi, src);
        if (rc)
            goto done;
        m->outputs[i].optional = vi->type && vi->type->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE;
        enum tensor_type out_type = m->outputs[i].shape.type;
        if (!tensor_type_size(out_type) && out_type != TENSOR_UNDEFINED && out_type != TENSOR_SEQUENCE) {
            rc = err_set(ERR_UNSUPPORTED, "%s: graph output '%s' has data type %d, which the engine cannot hold", src,
                         vi->name, (int)out_type);
            goto done;
        }
        m->output_slots[i] = slot;
    }
    m->n_outputs = g->n_output;
    m->n_slots = map.count;
    if (!m->graph_only)
        m->memory = plan_memory(m); /* none (out of memory, control flow): every run on the arena */
done:
    if (!m->n_slots)
        m->n_slots = map.count;
    free(map.names);
    free(map.slots);
    free(map.owner);
    free(map.parent);
    return rc;
}

/* data/len: the serialized model; dir: where external data files live, or
 * NULL to refuse them; file: its mapping (taken over), or NULL when the model
 * comes from the caller's memory. A mapped model is decoded from a copy
 * without its weights (onnx_strip) whose references point into the mapping. */
static int load(struct engine_model **out, const void *data, size_t len, const char *source, const char *dir,
                struct model_map *file, int graph_only)
{
    *out = NULL;
    struct engine_model *m = calloc(1, sizeof *m);
    if (!m) {
        model_map_free(file);
        return err_set(ERR_NOMEM, "%s: out of memory", source);
    }
    m->graph_only = graph_only;
    m->file = file;
    m->source = strdup(source);
    m->dir = dir ? strdup(dir) : NULL;
    m->files = (struct onnx_reader_files){.source = m->source, .data_dir = m->dir};
    struct buf skeleton;
    buf_init(&skeleton, ONNX_READER_MAX_BYTES);
    int rc = 0;
    if (!m->source || (dir && !m->dir))
        rc = err_set(ERR_NOMEM, "%s: out of memory", source);
    else if (file && len && onnx_strip(&skeleton, data, len) > 0) {
        m->files.model = data;
        m->files.model_len = len;
        rc = onnx_reader_parse(&m->proto, skeleton.data, skeleton.len, source);
    } else
        rc = onnx_reader_parse(&m->proto, data, len, source);
    buf_release(&skeleton);
    if (!rc)
        rc = build_plan(m);
    if (rc) {
        engine_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int engine_model_load_buffer(struct engine_model **out, const void *data, size_t len, const char *source)
{
    return load(out, data, len, source, NULL, NULL, 0);
}

static int load_path(struct engine_model **out, const char *path, int graph_only)
{
    *out = NULL;
    /* External data is read beneath the folder the model file really is in:
     * a model linked into place (amlpkg serve, DVC) keeps its data beside it. */
    char real[PATH_MAX];
    const char *where = realpath(path, real) ? real : path;
    const char *slash = strrchr(where, '/');
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash == where ? 1 : slash - where) : 1, slash ? where : ".");
    struct model_map *file;
    int rc = model_map_open(&file, path, ONNX_READER_MAX_BYTES);
    if (rc)
        return rc;
    return load(out, model_map_data(file), model_map_len(file), path, dir, file, graph_only);
}

int engine_model_load_file(struct engine_model **out, const char *path)
{
    return load_path(out, path, 0);
}

int engine_model_load_graph(struct engine_model **out, const char *path)
{
    return load_path(out, path, 1);
}

void engine_memory_plan(const struct engine_model *m, size_t *slab, size_t *unplanned)
{
    mem_plan_sizes(m->memory, slab, unplanned);
}

size_t engine_model_copied_bytes(const struct engine_model *m)
{
    size_t bytes = 0;
    for (int i = 0; i < m->n_slots; i++)
        if (m->owned[i] || atomic_load(&m->aligned[i])) {
            int64_t n = tensor_element_count(&m->constants[i]);
            bytes += n > 0 ? (size_t)n * tensor_type_size(m->constants[i].type) : 0;
        }
    return bytes;
}

const char *engine_model_source(const struct engine_model *m)
{
    return m->source;
}

size_t engine_input_count(const struct engine_model *m)
{
    return m->n_inputs;
}
size_t engine_output_count(const struct engine_model *m)
{
    return m->n_outputs;
}
size_t engine_node_count(const struct engine_model *m)
{
    return m->n_nodes;
}

const struct engine_io *engine_input(const struct engine_model *m, size_t i)
{
    return i < m->n_inputs ? &m->inputs[i] : NULL;
}

const struct engine_io *engine_output(const struct engine_model *m, size_t i)
{
    return i < m->n_outputs ? &m->outputs[i] : NULL;
}

static int check_input(const struct engine_io *io, const struct tensor *t)
{
    char want[128], got[128];
    if (t->type == TENSOR_NONE && io->optional)
        return 0;
    if (t->type == TENSOR_SEQUENCE && io->shape.type == TENSOR_SEQUENCE)
        return t->data ? 0 : err_set(ERR_INVALID, "input '%s': the sequence has no items array", io->name);
    if (t->type != io->shape.type)
        return err_set(ERR_INVALID, "input '%s': expected %s, got %s", io->name, tensor_type_name(io->shape.type),
                       tensor_type_name(t->type));
    int ok = io->shape.rank < 0 || io->shape.rank == t->rank;
    for (int i = 0; ok && io->shape.rank >= 0 && i < t->rank; i++)
        ok = io->shape.dims[i] < 0 || io->shape.dims[i] == t->dims[i];
    if (ok)
        return 0;
    tensor_format_shape(want, sizeof want, io->shape.dims, io->shape.rank);
    tensor_format_shape(got, sizeof got, t->dims, t->rank);
    return err_set(ERR_INVALID, "input '%s': expected shape %s, got %s", io->name, want, got);
}

static int run_nodes(const struct engine_model *m, struct arena *arena, struct tensor *values,
                     const struct tensor **args, const struct plan_node *nodes, size_t n_nodes, int depth);

static int scalar_flag(const struct tensor *t, int *out)
{
    if (!t || (t->type != TENSOR_BOOL && t->type != TENSOR_UINT8) || tensor_element_count(t) != 1)
        return -1;
    *out = *(const uint8_t *)t->data != 0;
    return 0;
}

static int run_if(const struct engine_model *m, struct arena *arena, struct tensor *values, const struct tensor **args,
                  const struct plan_node *pn, struct tensor *results, int depth)
{
    int cond;
    if (scalar_flag(&values[pn->inputs[0]], &cond))
        return err_set(ERR_INVALID, "node '%s' (If): the condition must be one bool",
                       pn->proto->name ? pn->proto->name : "");
    const struct plan_graph *g = pn->sub[cond ? 0 : 1];
    int rc = run_nodes(m, arena, values, args, g->nodes, g->n_nodes, depth + 1);
    for (size_t j = 0; !rc && j < g->n_outputs; j++)
        results[j] = values[g->outputs[j]];
    return rc;
}

/* Loop(M?, cond?, carried...) with body(iteration, cond, carried...) -> (cond, carried..., scans...);
 * scan outputs are stacked along a new first axis. */
static int run_loop(const struct engine_model *m, struct arena *arena, struct tensor *values,
                    const struct tensor **args, const struct plan_node *pn, struct tensor *results, int depth)
{
    const char *name = pn->proto->name ? pn->proto->name : "";
    const struct plan_graph *body = pn->sub[0];
    int n_carried = pn->n_inputs - 2, n_scan = pn->n_outputs - n_carried;
    int64_t trips = LOOP_MAX_ITERATIONS;
    int cond = 1, rc = 0;
    if (pn->inputs[0] >= 0) {
        const struct tensor *t = &values[pn->inputs[0]];
        if (t->type != TENSOR_INT64 || tensor_element_count(t) != 1)
            return err_set(ERR_INVALID, "node '%s' (Loop): M must be one int64", name);
        trips = *(const int64_t *)t->data;
    }
    if (pn->inputs[1] >= 0 && scalar_flag(&values[pn->inputs[1]], &cond))
        return err_set(ERR_INVALID, "node '%s' (Loop): cond must be one bool", name);
    struct tensor *carried = arena_alloc(arena, (size_t)(n_carried + 1) * sizeof *carried);
    struct tensor **scans = arena_alloc(arena, (size_t)(n_scan + 1) * sizeof *scans);
    if (!carried || !scans)
        return err_set(ERR_LIMIT, "request memory limit reached");
    for (int j = 0; j < n_carried; j++) {
        if (pn->inputs[2 + j] < 0)
            return err_set(ERR_INVALID, "node '%s' (Loop): loop-carried input %d is missing", name, j);
        carried[j] = values[pn->inputs[2 + j]];
    }
    int64_t iter = 0, cap = 0;
    for (; iter < trips && cond; iter++) {
        if (iter >= LOOP_MAX_ITERATIONS)
            return err_set(ERR_LIMIT, "node '%s' (Loop): more than %d iterations", name, LOOP_MAX_ITERATIONS);
        int64_t *it = arena_alloc(arena, sizeof *it);
        uint8_t *c = arena_alloc(arena, 1);
        if (!it || !c)
            return err_set(ERR_LIMIT, "request memory limit reached");
        *it = iter;
        *c = 1;
        values[body->inputs[0]] = (struct tensor){.type = TENSOR_INT64, .rank = 0, .data = it};
        values[body->inputs[1]] = (struct tensor){.type = TENSOR_BOOL, .rank = 0, .data = c};
        for (int j = 0; j < n_carried; j++)
            values[body->inputs[2 + j]] = carried[j];
        rc = run_nodes(m, arena, values, args, body->nodes, body->n_nodes, depth + 1);
        if (rc)
            return rc;
        if (scalar_flag(&values[body->outputs[0]], &cond))
            return err_set(ERR_INVALID, "node '%s' (Loop): the body's condition must be one bool", name);
        for (int j = 0; j < n_carried; j++)
            carried[j] = values[body->outputs[1 + j]];
        if (n_scan && iter >= cap) { /* grow every scan output's list of per-iteration values */
            int64_t ncap = cap ? cap * 2 : 16;
            for (int k = 0; k < n_scan; k++) {
                struct tensor *grown = arena_alloc(arena, (size_t)ncap * sizeof *grown);
                if (!grown)
                    return err_set(ERR_LIMIT, "request memory limit reached");
                if (cap)
                    memcpy(grown, scans[k], (size_t)cap * sizeof *grown);
                scans[k] = grown;
            }
            cap = ncap;
        }
        for (int k = 0; k < n_scan; k++)
            scans[k][iter] = values[body->outputs[1 + n_carried + k]];
    }
    for (int j = 0; j < n_carried; j++)
        results[j] = carried[j];
    for (int k = 0; k < n_scan; k++) {
        struct tensor *out = &results[n_carried + k];
        const struct tensor *first = iter ? &scans[k][0] : NULL;
        size_t elem = first ? tensor_type_size(first->type) : sizeof(float);
        int64_t each = first ? tensor_element_count(first) : 0;
        out->type = first ? first->type : TENSOR_FLOAT;
        out->rank = first ? first->rank + 1 : 1;
        if (out->rank > TENSOR_MAX_RANK)
            return err_set(ERR_UNSUPPORTED, "node '%s' (Loop): scan output rank above %d", name, TENSOR_MAX_RANK);
        out->dims[0] = iter;
        for (int d = 0; first && d < first->rank; d++)
            out->dims[d + 1] = first->dims[d];
        for (int64_t i = 1; i < iter; i++) {
            int same = scans[k][i].type == first->type && scans[k][i].rank == first->rank;
            for (int d = 0; same && d < first->rank; d++)
                same = scans[k][i].dims[d] == first->dims[d];
            if (!same)
                return err_set(ERR_INVALID, "node '%s' (Loop): scan output %d changes shape between iterations", name,
                               k);
        }
        if (each < 0 || (iter && (uint64_t)each > SIZE_MAX / elem / (uint64_t)iter))
            return err_set(ERR_LIMIT, "node '%s' (Loop): scan output %d is too large", name, k);
        out->data = arena_alloc(arena, (size_t)(iter * each) * elem + 1);
        if (!out->data)
            return err_set(ERR_LIMIT, "request memory limit reached");
        for (int64_t i = 0; i < iter && each; i++)
            memcpy((uint8_t *)out->data + (size_t)(i * each) * elem, scans[k][i].data, (size_t)each * elem);
    }
    return 0;
}

static const Onnx__AttributeProto *node_attr(const Onnx__NodeProto *np, const char *name)
{
    for (size_t i = 0; i < np->n_attribute; i++)
        if (np->attribute[i]->name && strcmp(np->attribute[i]->name, name) == 0)
            return np->attribute[i];
    return NULL;
}

static int copy_tensor_data(struct arena *arena, struct tensor *out, int64_t count, size_t elem)
{
    out->data = arena_alloc(arena, (size_t)count * elem + 1);
    return out->data ? 0 : err_set(ERR_LIMIT, "request memory limit reached");
}

/* out = x[..., index, ...] along axis (the axis dropped), copied into the arena. */
static int slice_axis(struct arena *arena, const struct tensor *x, int axis, int64_t index, struct tensor *out)
{
    size_t elem = tensor_type_size(x->type);
    *out = (struct tensor){.type = x->type, .rank = x->rank - 1};
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < x->rank; d++) {
        if (d < axis)
            outer *= x->dims[d];
        else if (d > axis)
            inner *= x->dims[d];
        if (d != axis)
            out->dims[d < axis ? d : d - 1] = x->dims[d];
    }
    int rc = copy_tensor_data(arena, out, outer * inner, elem);
    for (int64_t o = 0; !rc && o < outer && inner; o++)
        memcpy((uint8_t *)out->data + (size_t)(o * inner) * elem,
               (const uint8_t *)x->data + (size_t)((o * x->dims[axis] + index) * inner) * elem, (size_t)inner * elem);
    return rc;
}

/* out = the count items (same type and shape) stacked along a new axis, in
 * reverse order when asked. */
static int stack_axis(struct arena *arena, const char *label, const struct tensor *items, int64_t count, int axis,
                      int reverse, struct tensor *out)
{
    const struct tensor *first = &items[0];
    size_t elem = tensor_type_size(first->type);
    if (!elem || first->rank + 1 > TENSOR_MAX_RANK || axis < 0 || axis > first->rank)
        return err_set(ERR_UNSUPPORTED, "node '%s': cannot stack values of type %s and rank %d along axis %d", label,
                       tensor_type_name(first->type), first->rank, axis);
    for (int64_t t = 1; t < count; t++) {
        int same = items[t].type == first->type && items[t].rank == first->rank;
        for (int d = 0; same && d < first->rank; d++)
            same = items[t].dims[d] == first->dims[d];
        if (!same)
            return err_set(ERR_INVALID, "node '%s': a scanned output changes type or shape between iterations", label);
    }
    *out = (struct tensor){.type = first->type, .rank = first->rank + 1};
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < out->rank; d++) {
        out->dims[d] = d < axis ? first->dims[d] : d == axis ? count : first->dims[d - 1];
        if (d < axis)
            outer *= out->dims[d];
        else if (d > axis)
            inner *= out->dims[d];
    }
    if (tensor_element_count(out) < 0)
        return err_set(ERR_LIMIT, "node '%s': a stacked output is too large", label);
    int rc = copy_tensor_data(arena, out, outer * count * inner, elem);
    for (int64_t o = 0; !rc && o < outer && inner; o++)
        for (int64_t t = 0; t < count; t++)
            memcpy((uint8_t *)out->data + (size_t)((o * count + t) * inner) * elem,
                   (const uint8_t *)items[reverse ? count - 1 - t : t].data + (size_t)(o * inner) * elem,
                   (size_t)inner * elem);
    return rc;
}

/* Reads a per-input ints attribute (axes, directions) of n entries, 0 when absent. */
static int scan_attr_ints(const Onnx__NodeProto *np, const char *label, const char *name, int64_t *out, int n)
{
    const Onnx__AttributeProto *a = node_attr(np, name);
    for (int i = 0; i < n; i++)
        out[i] = 0;
    if (!a || !a->n_ints)
        return 0;
    if ((int)a->n_ints != n)
        return err_set(ERR_INVALID, "node '%s' (Scan): %s has %zu entries, expected %d", label, name, a->n_ints, n);
    for (int i = 0; i < n; i++)
        out[i] = a->ints[i];
    return 0;
}

/* One Scan (opset 9 form) over in[0..n_state) states and in[n_state..) scan inputs. */
static int scan_core(const struct engine_model *m, struct arena *arena, struct tensor *values,
                     const struct tensor **args, const struct plan_node *pn, const struct tensor *in, int n_state,
                     int n_scan, const int64_t *axes, const int64_t *dirs, const int64_t *out_axes,
                     const int64_t *out_dirs, struct tensor *results, int depth, const char *label)
{
    const struct plan_graph *body = pn->sub[0];
    int n_out_scan = pn->n_outputs - n_state;
    int64_t steps = -1;
    int *axis = arena_alloc(arena, (size_t)(n_scan + 1) * sizeof *axis);
    struct tensor *state = arena_alloc(arena, (size_t)(n_state + 1) * sizeof *state);
    if (!axis || !state)
        return err_set(ERR_LIMIT, "request memory limit reached");
    for (int j = 0; j < n_scan; j++) {
        const struct tensor *x = &in[n_state + j];
        if (!tensor_type_size(x->type) || axes[j] < -x->rank || axes[j] >= x->rank)
            return err_set(ERR_INVALID, "node '%s' (Scan): scan input %d must be a tensor with axis %lld", label, j,
                           (long long)axes[j]);
        axis[j] = (int)(axes[j] < 0 ? axes[j] + x->rank : axes[j]);
        if (steps >= 0 && x->dims[axis[j]] != steps)
            return err_set(ERR_INVALID, "node '%s' (Scan): scan inputs have different lengths", label);
        steps = x->dims[axis[j]];
    }
    if (steps < 1 && n_out_scan > 0)
        return err_set(ERR_UNSUPPORTED, "node '%s' (Scan): scanning zero steps is not supported", label);
    struct tensor *scans = arena_alloc(arena, (size_t)(n_out_scan * steps + 1) * sizeof *scans);
    if (!scans)
        return err_set(ERR_LIMIT, "request memory limit reached");
    for (int i = 0; i < n_state; i++)
        state[i] = in[i];
    for (int64_t t = 0; t < steps; t++) {
        for (int i = 0; i < n_state; i++)
            values[body->inputs[i]] = state[i];
        for (int j = 0; j < n_scan; j++) {
            int rc = slice_axis(arena, &in[n_state + j], axis[j], dirs[j] ? steps - 1 - t : t,
                                &values[body->inputs[n_state + j]]);
            if (rc)
                return rc;
        }
        int rc = run_nodes(m, arena, values, args, body->nodes, body->n_nodes, depth + 1);
        if (rc)
            return rc;
        for (int i = 0; i < n_state; i++)
            state[i] = values[body->outputs[i]];
        for (int k = 0; k < n_out_scan; k++)
            scans[k * steps + t] = values[body->outputs[n_state + k]];
    }
    for (int i = 0; i < n_state; i++)
        results[i] = state[i];
    for (int k = 0; k < n_out_scan; k++) {
        int rank = scans[k * steps].rank + 1;
        int64_t a = out_axes[k] < 0 ? out_axes[k] + rank : out_axes[k];
        int rc = stack_axis(arena, label, &scans[k * steps], steps, (int)a, out_dirs[k] != 0, &results[n_state + k]);
        if (rc)
            return rc;
    }
    return 0;
}

/* Scan: states are carried through the body, scan inputs sliced along their
 * axes, per-step outputs stacked. Before opset 9 the first input is
 * sequence_lens and every input has a leading batch axis. */
static int run_scan(const struct engine_model *m, struct arena *arena, struct tensor *values,
                    const struct tensor **args, const struct plan_node *pn, struct tensor *results, int depth)
{
    const char *label = pn->proto->name && pn->proto->name[0] ? pn->proto->name : "Scan";
    const Onnx__AttributeProto *ns = node_attr(pn->proto, "num_scan_inputs");
    int legacy = m->opset > 0 && m->opset < 9, first = legacy ? 1 : 0;
    int n_in = pn->n_inputs - first;
    int n_scan = ns && ns->has_i ? (int)ns->i : -1, n_state = n_in - n_scan;
    int n_out_scan = pn->n_outputs - n_state;
    if (n_scan < 1 || n_state < 0 || n_out_scan < 0)
        return err_set(ERR_INVALID, "node '%s' (Scan): num_scan_inputs does not match the inputs and outputs", label);
    if (legacy && pn->inputs[0] >= 0)
        return err_set(ERR_UNSUPPORTED, "node '%s' (Scan): sequence_lens is not supported", label);
    struct tensor *in = arena_alloc(arena, (size_t)(n_in + 1) * sizeof *in);
    int64_t *ints = arena_alloc(arena, (size_t)(2 * n_scan + 2 * n_out_scan + 1) * sizeof *ints);
    if (!in || !ints)
        return err_set(ERR_LIMIT, "request memory limit reached");
    for (int j = 0; j < n_in; j++) {
        if (pn->inputs[first + j] < 0)
            return err_set(ERR_INVALID, "node '%s' (Scan): input %d is missing", label, first + j);
        in[j] = values[pn->inputs[first + j]];
    }
    memset(ints, 0, (size_t)(2 * n_scan + 2 * n_out_scan + 1) * sizeof *ints); /* absent attributes mean 0 */
    int64_t *axes = ints, *dirs = ints + n_scan, *out_axes = dirs + n_scan, *out_dirs = out_axes + n_out_scan;
    int rc = legacy ? scan_attr_ints(pn->proto, label, "directions", dirs, n_scan)
                    : scan_attr_ints(pn->proto, label, "scan_input_directions", dirs, n_scan);
    if (!rc && !legacy)
        rc = scan_attr_ints(pn->proto, label, "scan_input_axes", axes, n_scan);
    if (!rc && !legacy)
        rc = scan_attr_ints(pn->proto, label, "scan_output_axes", out_axes, n_out_scan);
    if (!rc && !legacy)
        rc = scan_attr_ints(pn->proto, label, "scan_output_directions", out_dirs, n_out_scan);
    if (rc)
        return rc;
    if (!legacy)
        return scan_core(m, arena, values, args, pn, in, n_state, n_scan, axes, dirs, out_axes, out_dirs, results,
                         depth, label);
    /* Before opset 9: one scan per batch entry, results stacked along the batch axis. */
    int64_t batch = -1;
    for (int j = 0; j < n_in; j++) {
        if (in[j].rank < 1 || !tensor_type_size(in[j].type) || (batch >= 0 && in[j].dims[0] != batch))
            return err_set(ERR_INVALID, "node '%s' (Scan): every input needs the same leading batch axis", label);
        batch = in[j].dims[0];
    }
    if (batch < 1)
        return err_set(ERR_UNSUPPORTED, "node '%s' (Scan): an empty batch is not supported", label);
    struct tensor *per = arena_alloc(arena, (size_t)(n_in + 1) * sizeof *per);
    struct tensor *outs = arena_alloc(arena, (size_t)(batch * pn->n_outputs + 1) * sizeof *outs);
    struct tensor *column = arena_alloc(arena, (size_t)(batch + 1) * sizeof *column);
    if (!per || !outs || !column)
        return err_set(ERR_LIMIT, "request memory limit reached");
    for (int64_t b = 0; b < batch; b++) {
        for (int j = 0; j < n_in; j++) {
            rc = slice_axis(arena, &in[j], 0, b, &per[j]);
            if (rc)
                return rc;
        }
        rc = scan_core(m, arena, values, args, pn, per, n_state, n_scan, axes, dirs, out_axes, out_dirs,
                       &outs[b * pn->n_outputs], depth, label);
        if (rc)
            return rc;
    }
    for (int o = 0; o < pn->n_outputs; o++) {
        for (int64_t b = 0; b < batch; b++)
            column[b] = outs[b * pn->n_outputs + o];
        rc = stack_axis(arena, label, column, batch, 0, 0, &results[o]);
        if (rc)
            return rc;
    }
    return 0;
}

/* SequenceMap: the body runs once per item of the first input; further inputs
 * are sequences of the same length (item by item) or tensors (whole); each body
 * output becomes a sequence. */
static int run_sequence_map(const struct engine_model *m, struct arena *arena, struct tensor *values,
                            const struct tensor **args, const struct plan_node *pn, struct tensor *results, int depth)
{
    const char *label = pn->proto->name && pn->proto->name[0] ? pn->proto->name : "SequenceMap";
    const struct plan_graph *body = pn->sub[0];
    const struct tensor *first = pn->inputs[0] >= 0 ? &values[pn->inputs[0]] : NULL;
    if (!first || first->type != TENSOR_SEQUENCE)
        return err_set(ERR_INVALID, "node '%s' (SequenceMap): the first input must be a sequence", label);
    int64_t count = ((const struct tensor_sequence *)first->data)->count;
    for (int j = 1; j < pn->n_inputs; j++) {
        const struct tensor *t = pn->inputs[j] >= 0 ? &values[pn->inputs[j]] : NULL;
        if (!t)
            return err_set(ERR_INVALID, "node '%s' (SequenceMap): input %d is missing", label, j);
        if (t->type == TENSOR_SEQUENCE && ((const struct tensor_sequence *)t->data)->count != count)
            return err_set(ERR_INVALID, "node '%s' (SequenceMap): input %d's sequence has another length", label, j);
    }
    struct tensor_sequence *seqs = arena_alloc(arena, (size_t)(pn->n_outputs + 1) * sizeof *seqs);
    const struct tensor **inputs = arena_alloc(arena, (size_t)(pn->n_inputs + 1) * sizeof *inputs);
    if (!seqs || !inputs)
        return err_set(ERR_LIMIT, "request memory limit reached");
    for (int j = 0; j < pn->n_inputs; j++)
        inputs[j] = &values[pn->inputs[j]];
    for (int k = 0; k < pn->n_outputs; k++) {
        struct tensor *items = arena_alloc(arena, (size_t)(count + 1) * sizeof *items);
        if (!items)
            return err_set(ERR_LIMIT, "request memory limit reached");
        seqs[k] = (struct tensor_sequence){.elem_type = TENSOR_UNDEFINED, .count = count, .items = items};
    }
    for (int64_t i = 0; i < count; i++) {
        for (int j = 0; j < pn->n_inputs; j++)
            values[body->inputs[j]] = inputs[j]->type == TENSOR_SEQUENCE
                                          ? ((const struct tensor_sequence *)inputs[j]->data)->items[i]
                                          : *inputs[j];
        int rc = run_nodes(m, arena, values, args, body->nodes, body->n_nodes, depth + 1);
        if (rc)
            return rc;
        for (int k = 0; k < pn->n_outputs; k++) {
            ((struct tensor *)seqs[k].items)[i] = values[body->outputs[k]];
            seqs[k].elem_type = values[body->outputs[k]].type;
        }
    }
    for (int k = 0; k < pn->n_outputs; k++)
        results[k] = (struct tensor){.type = TENSOR_SEQUENCE, .rank = 0, .data = &seqs[k]};
    return 0;
}

/* Kernels written for sequences or optionals; every other kernel gets tensors only. */
static int takes_non_tensors(const struct op_kernel *k)
{
    static const op_run_fn any_value[] = {
        op_identity,
        op_sequence_construct,
        op_sequence_insert,
        op_sequence_at,
        op_sequence_erase,
        op_sequence_length,
        op_concat_from_sequence,
        op_optional,
        op_optional_has_element,
        op_optional_get_element,
    };
    for (size_t i = 0; i < sizeof any_value / sizeof any_value[0]; i++)
        if (k->run == any_value[i])
            return 1;
    return 0;
}

/* Kernels that handle string tensors: those that only move elements (copying
 * struct tensor_string as bytes) and the text operators. Others never see strings. */
static int takes_strings(const struct op_kernel *k)
{
    static const op_run_fn string_ok[] = {
        op_reshape,
        op_flatten,
        op_transpose,
        op_squeeze,
        op_unsqueeze,
        op_concat,
        op_gather,
        op_gather_elements,
        op_shape,
        op_size,
        op_cast,
        op_cast_like,
        op_slice,
        op_expand,
        op_tile,
        op_split,
        op_where,
        op_compress,
        op_split_to_sequence,
        op_string_normalizer,
    };
    if (takes_non_tensors(k))
        return 1;
    for (size_t i = 0; i < sizeof string_ok / sizeof string_ok[0]; i++)
        if (k->run == string_ok[i])
            return 1;
    return 0;
}

static int run_nodes_planned(const struct engine_model *m, struct arena *arena, struct tensor *values,
                             const struct tensor **args, const struct plan_node *nodes, size_t n_nodes, int depth,
                             struct mem_run *mem);

static int run_nodes(const struct engine_model *m, struct arena *arena, struct tensor *values,
                     const struct tensor **args, const struct plan_node *nodes, size_t n_nodes, int depth)
{
    return run_nodes_planned(m, arena, values, args, nodes, n_nodes, depth, NULL);
}

/* A planned run found a view its plan did not expect: redo the run on the arena. */
#define RUN_REPLAY (-1000)

static int run_nodes_planned(const struct engine_model *m, struct arena *arena, struct tensor *values,
                             const struct tensor **args, const struct plan_node *nodes, size_t n_nodes, int depth,
                             struct mem_run *mem)
{
    /* fused[i]: node i ran with its folded work, so the nodes folded into it are done */
    unsigned char *fused = NULL;
    if (nodes == m->nodes && m->n_fused) {
        fused = arena_alloc(arena, n_nodes);
        if (!fused)
            return err_set(ERR_LIMIT, "request memory limit reached");
        memset(fused, 0, n_nodes);
    }
    for (size_t i = 0; i < n_nodes; i++) {
        const struct plan_node *pn = &nodes[i];
        if (fused && pn->folded_into && fused[pn->folded_into - 1])
            continue;
        struct tensor *results = arena_alloc(arena, (size_t)(pn->n_outputs ? pn->n_outputs : 1) * sizeof *results);
        if (!results)
            return err_set(ERR_LIMIT, "request memory limit reached");
        memset(results, 0, (size_t)pn->n_outputs * sizeof *results);
        int rc;
        if (!pn->kernel->run) {
            rc = pn->control == CONTROL_IF     ? run_if(m, arena, values, args, pn, results, depth)
                 : pn->control == CONTROL_LOOP ? run_loop(m, arena, values, args, pn, results, depth)
                 : pn->control == CONTROL_SCAN ? run_scan(m, arena, values, args, pn, results, depth)
                                               : run_sequence_map(m, arena, values, args, pn, results, depth);
        } else {
            for (int j = 0; j < pn->n_inputs; j++) {
                args[j] = pn->inputs[j] < 0 ? NULL : &values[pn->inputs[j]];
                if (args[j] && (args[j]->type == TENSOR_SEQUENCE || args[j]->type == TENSOR_NONE) &&
                    !takes_non_tensors(pn->kernel))
                    return err_set(ERR_INVALID, "node '%s' (%s): input %d is a %s, the operator takes tensors",
                                   pn->proto->name ? pn->proto->name : "", pn->proto->op_type, j,
                                   tensor_type_name(args[j]->type));
                if (args[j] && args[j]->type == TENSOR_STRING && !takes_strings(pn->kernel))
                    return err_set(ERR_UNSUPPORTED,
                                   "node '%s' (%s): input %d holds strings, which the operator "
                                   "does not support",
                                   pn->proto->name ? pn->proto->name : "", pn->proto->op_type, j);
            }
            uint64_t constant_inputs = 0;
            for (int j = 0; j < pn->n_inputs && j < 64; j++) {
                int slot = pn->inputs[j];
                if (slot >= 0 && m->initialized[slot] && args[j] && args[j]->data == m->constants[slot].data)
                    constant_inputs |= (uint64_t)1 << j; /* not overridden by a fed input of the same name */
            }
            struct op_call call = {
                .node = pn->proto,
                .inputs = args,
                .n_inputs = pn->n_inputs,
                .outputs = results,
                .n_outputs = pn->n_outputs,
                .arena = arena,
                .opset = m->opset,
                /* The one mutable part of a loaded model: written once, by compare-and-swap. */
                .cache = (_Atomic(struct op_cache *) *)&pn->cache,
                .constant_inputs = constant_inputs,
                .memory = mem,
                .node_index = i,
            };
            const struct plan_fusion *pf = fused ? pn->fusion : NULL;
            rc = BACKEND_DECLINE;
            if (pf && pn->fast) {
                struct op_fused f = {.bias = pf->bias >= 0 ? &values[pf->bias] : NULL,
                                     .residual = pf->residual >= 0 ? &values[pf->residual] : NULL,
                                     .act = pf->act,
                                     .alpha = pf->alpha,
                                     .lo = pf->lo,
                                     .hi = pf->hi};
                call.fused = &f;
                rc = pn->fast(&call);
                call.fused = NULL;
                if (!rc) { /* the result is the last folded node's output */
                    fused[i] = 1;
                    backend_count_run(pn->backend);
                    values[pf->output] = results[0];
                    continue;
                }
            }
            if (rc == BACKEND_DECLINE)
                rc = pn->fast ? pn->fast(&call) : BACKEND_DECLINE;
            int by = pn->backend;
            if (rc == BACKEND_DECLINE) {
                by = -1;
                rc = align_inputs(m, pn, values);
                if (!rc)
                    rc = pn->kernel->run(&call);
            }
            backend_count_run(by);
        }
        if (rc)
            return rc;
        if (mem && mem_run_node_done(mem, i, results, pn->n_outputs))
            return RUN_REPLAY;
        for (int j = 0; j < pn->n_outputs; j++)
            if (pn->outputs[j] >= 0)
                values[pn->outputs[j]] = results[j];
    }
    return 0;
}

/* The mapped files are still those loaded (model_map.h): a request must never
 * be answered from a model file changed under the server. */
static int check_files(const struct engine_model *m)
{
    int rc = m->file ? model_map_check(m->file) : 0;
    for (size_t i = 0; !rc && i < m->files.n_maps; i++)
        rc = model_map_check(m->files.maps[i]);
    return rc;
}

static int run_model(const struct engine_model *m, struct arena *arena, const struct tensor *inputs,
                     struct tensor *outputs)
{
    struct tensor *values = arena_alloc(arena, (size_t)m->n_slots * sizeof *values);
    const struct tensor **args = arena_alloc(arena, (size_t)(m->max_node_inputs + 1) * sizeof *args);
    if (!values || !args)
        return err_set(ERR_LIMIT, "request memory limit reached");
    memcpy(values, m->constants, (size_t)m->n_slots * sizeof *values);
    for (size_t i = 0; i < m->n_inputs; i++) {
        int rc = check_input(&m->inputs[i], &inputs[i]);
        if (rc)
            return rc;
        values[m->input_slots[i]] = inputs[i];
    }
    struct mem_run mem;
    mem_plan_begin(m->memory, inputs, m->n_inputs, &mem);
    int rc = run_nodes_planned(m, arena, values, args, m->nodes, m->n_nodes, 0, &mem);
    mem_plan_end(&mem, rc == 0, rc == RUN_REPLAY);
    if (rc == RUN_REPLAY) {
        memcpy(values, m->constants, (size_t)m->n_slots * sizeof *values);
        for (size_t i = 0; i < m->n_inputs; i++)
            values[m->input_slots[i]] = inputs[i];
        rc = run_nodes(m, arena, values, args, m->nodes, m->n_nodes, 0);
    }
    if (rc)
        return rc;
    for (size_t i = 0; i < m->n_outputs; i++)
        outputs[i] = values[m->output_slots[i]];
    return 0;
}

int engine_run(const struct engine_model *m, struct arena *arena, const struct tensor *inputs, struct tensor *outputs)
{
    if (m->graph_only)
        return err_set(ERR_UNSUPPORTED, "%s: the model was read for its graph only and cannot run", m->source);
    int rc = check_files(m);
    if (rc)
        return rc;
    rc = run_model(m, arena, inputs, outputs);
    /* A file truncated or rewritten during the run may have fed it zeros or
     * new bytes (and caused whatever error the run reports). */
    int changed = check_files(m);
    return changed ? changed : rc;
}
