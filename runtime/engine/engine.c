/* Model loading (proto → execution plan) and plan execution. */
#include "engine.h"

#include "common/buf.h"
#include "common/err.h"
#include "onnx_reader.h"
#include "ops/ops.h"

#include <stdlib.h>
#include <string.h>

/* Every named value in the graph gets a slot; nodes refer to slots by index. */
struct plan_node {
    const struct op_kernel *kernel;
    const Onnx__NodeProto *proto;
    int *inputs; /* slot per input, -1 for an omitted optional input */
    int n_inputs;
    int *outputs;
    int n_outputs;
};

struct engine_model {
    int opset; /* default-domain opset the model imports; 0 when it names none */
    Onnx__ModelProto *proto;
    char *source;
    int n_slots;
    struct tensor *constants; /* per slot; data != NULL for initializers */
    struct plan_node *nodes;
    size_t n_nodes;
    struct engine_io *inputs;
    int *input_slots;
    size_t n_inputs;
    struct engine_io *outputs;
    int *output_slots;
    size_t n_outputs;
    int max_node_inputs;
};

/* Name → slot map: open addressing, sized at twice the number of names. */
struct slot_map {
    const char **names;
    int *slots;
    size_t cap;
    int count;
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

void engine_model_free(struct engine_model *m)
{
    if (!m)
        return;
    if (m->constants)
        for (int i = 0; i < m->n_slots; i++)
            free(m->constants[i].data);
    free(m->constants);
    for (size_t i = 0; i < m->n_nodes; i++) {
        free(m->nodes[i].inputs);
        free(m->nodes[i].outputs);
    }
    free(m->nodes);
    free(m->inputs);
    free(m->input_slots);
    free(m->outputs);
    free(m->output_slots);
    onnx_reader_free(m->proto);
    free(m->source);
    free(m);
}

static int build_plan(struct engine_model *m)
{
    const Onnx__GraphProto *g = m->proto->graph;
    const char *src = m->source;
    size_t names = g->n_input + g->n_initializer;
    for (size_t i = 0; i < g->n_node; i++)
        names += g->node[i]->n_output;
    struct slot_map map = {0};
    map.cap = 16;
    while (map.cap < names * 2)
        map.cap *= 2;
    map.names = calloc(map.cap, sizeof *map.names);
    map.slots = calloc(map.cap, sizeof *map.slots);
    m->constants = calloc(names ? names : 1, sizeof *m->constants);
    m->nodes = calloc(g->n_node ? g->n_node : 1, sizeof *m->nodes);
    int rc = 0;
    if (!map.names || !map.slots || !m->constants || !m->nodes) {
        rc = err_set(ERR_NOMEM, "%s: out of memory", src);
        goto done;
    }
    /* Initializers first: a graph input with the same name is an overridable default. */
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *init = g->initializer[i];
        if (!init->name || !init->name[0]) {
            rc = err_set(ERR_PARSE, "%s: initializer %zu has no name", src, i);
            goto done;
        }
        int slot = slot_map_get(&map, init->name, 1);
        free(m->constants[slot].data);
        rc = onnx_reader_tensor(&m->constants[slot], init, src);
        if (rc)
            goto done;
    }
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
        if (m->constants[slot].data)
            continue; /* an initializer: not something callers must feed */
        struct engine_io *io = &m->inputs[m->n_inputs];
        io->name = vi->name;
        rc = onnx_reader_value_info(&io->shape, vi, src);
        if (rc)
            goto done;
        if (!tensor_type_size(io->shape.type)) {
            rc = err_set(ERR_UNSUPPORTED, "%s: graph input '%s' has data type %d, which the engine cannot hold", src,
                         vi->name, (int)io->shape.type);
            goto done;
        }
        m->input_slots[m->n_inputs++] = slot;
    }
    /* Nodes are topologically sorted in a valid model: every input must exist by now. */
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *np = g->node[i];
        struct plan_node *pn = &m->nodes[m->n_nodes++];
        const char *label = np->name && np->name[0] ? np->name : np->op_type ? np->op_type : "?";
        pn->proto = np;
        pn->kernel = np->op_type ? ops_find(np->domain, np->op_type) : NULL;
        if (!pn->kernel) {
            rc = err_set(ERR_UNSUPPORTED, "%s: node '%s': operator %s%s%s is not supported", src, label,
                         np->domain && np->domain[0] ? np->domain : "",
                         np->domain && np->domain[0] ? "." : "", np->op_type ? np->op_type : "(none)");
            goto done;
        }
        if ((int)np->n_input < pn->kernel->min_inputs || (int)np->n_input > pn->kernel->max_inputs) {
            rc = err_set(ERR_PARSE, "%s: node '%s': %s takes %d to %d inputs, has %zu", src, label,
                         np->op_type, pn->kernel->min_inputs, pn->kernel->max_inputs, np->n_input);
            goto done;
        }
        if (np->n_output < 1 || (int)np->n_output > pn->kernel->max_outputs) {
            rc = err_set(ERR_PARSE, "%s: node '%s': %s has 1 to %d outputs, has %zu", src, label,
                         np->op_type, pn->kernel->max_outputs, np->n_output);
            goto done;
        }
        pn->n_inputs = (int)np->n_input;
        if (pn->n_inputs > m->max_node_inputs)
            m->max_node_inputs = pn->n_inputs;
        pn->n_outputs = (int)np->n_output;
        pn->inputs = calloc(np->n_input ? np->n_input : 1, sizeof *pn->inputs);
        pn->outputs = calloc(np->n_output ? np->n_output : 1, sizeof *pn->outputs);
        if (!pn->inputs || !pn->outputs) {
            rc = err_set(ERR_NOMEM, "%s: out of memory", src);
            goto done;
        }
        for (size_t j = 0; j < np->n_input; j++) {
            if (!np->input[j][0]) {
                if ((int)j < pn->kernel->min_inputs) {
                    rc = err_set(ERR_PARSE, "%s: node '%s': required input %zu of %s is empty", src, label, j,
                                 np->op_type);
                    goto done;
                }
                pn->inputs[j] = -1;
                continue;
            }
            pn->inputs[j] = slot_map_get(&map, np->input[j], 0);
            if (pn->inputs[j] < 0) {
                rc = err_set(ERR_PARSE, "%s: node '%s': input '%s' is not produced before it is used",
                             src, label, np->input[j]);
                goto done;
            }
        }
        for (size_t j = 0; j < np->n_output; j++) {
            if (!np->output[j][0]) {
                pn->outputs[j] = -1; /* an optional output nobody asked for */
                continue;
            }
            if (slot_map_get(&map, np->output[j], 0) >= 0) {
                rc = err_set(ERR_PARSE, "%s: node '%s': output '%s' is assigned twice", src, label,
                             np->output[j]);
                goto done;
            }
            pn->outputs[j] = slot_map_get(&map, np->output[j], 1);
        }
    }
    for (size_t i = 0; i < g->n_output; i++) {
        const Onnx__ValueInfoProto *vi = g->output[i];
        int slot = vi->name ? slot_map_get(&map, vi->name, 0) : -1;
        if (slot < 0) {
            rc = err_set(ERR_PARSE, "%s: graph output '%s' is never produced", src,
                         vi->name ? vi->name : "");
            goto done;
        }
        m->outputs[i].name = vi->name;
        rc = onnx_reader_value_info(&m->outputs[i].shape, vi, src);
        if (rc)
            goto done;
        m->output_slots[i] = slot;
    }
    m->n_outputs = g->n_output;
    m->n_slots = map.count;
    for (size_t i = 0; i < m->proto->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *os = m->proto->opset_import[i];
        if (!os->domain || !os->domain[0] || strcmp(os->domain, "ai.onnx") == 0)
            m->opset = os->version > 0 && os->version < 1000 ? (int)os->version : 0;
    }
done:
    if (!m->n_slots)
        m->n_slots = map.count;
    free(map.names);
    free(map.slots);
    return rc;
}

int engine_model_load_buffer(struct engine_model **out, const void *data, size_t len, const char *source)
{
    *out = NULL;
    struct engine_model *m = calloc(1, sizeof *m);
    if (!m)
        return err_set(ERR_NOMEM, "%s: out of memory", source);
    m->source = strdup(source);
    int rc = m->source ? onnx_reader_parse(&m->proto, data, len, source)
                       : err_set(ERR_NOMEM, "%s: out of memory", source);
    if (!rc)
        rc = build_plan(m);
    if (rc) {
        engine_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int engine_model_load_file(struct engine_model **out, const char *path)
{
    struct buf file;
    buf_init(&file, ONNX_READER_MAX_BYTES);
    int rc = buf_read_file(&file, path);
    if (!rc)
        rc = engine_model_load_buffer(out, file.data, file.len, path);
    buf_release(&file);
    return rc;
}

size_t engine_input_count(const struct engine_model *m) { return m->n_inputs; }
size_t engine_output_count(const struct engine_model *m) { return m->n_outputs; }
size_t engine_node_count(const struct engine_model *m) { return m->n_nodes; }

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
    if (t->type != io->shape.type)
        return err_set(ERR_INVALID, "input '%s': expected %s, got %s", io->name,
                       tensor_type_name(io->shape.type), tensor_type_name(t->type));
    int ok = io->shape.rank < 0 || io->shape.rank == t->rank;
    for (int i = 0; ok && io->shape.rank >= 0 && i < t->rank; i++)
        ok = io->shape.dims[i] < 0 || io->shape.dims[i] == t->dims[i];
    if (ok)
        return 0;
    tensor_format_shape(want, sizeof want, io->shape.dims, io->shape.rank);
    tensor_format_shape(got, sizeof got, t->dims, t->rank);
    return err_set(ERR_INVALID, "input '%s': expected shape %s, got %s", io->name, want, got);
}

int engine_run(const struct engine_model *m, struct arena *arena, const struct tensor *inputs,
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
    for (size_t i = 0; i < m->n_nodes; i++) {
        const struct plan_node *pn = &m->nodes[i];
        for (int j = 0; j < pn->n_inputs; j++)
            args[j] = pn->inputs[j] < 0 ? NULL : &values[pn->inputs[j]];
        struct tensor *results = arena_alloc(arena, (size_t)(pn->n_outputs ? pn->n_outputs : 1) * sizeof *results);
        if (!results)
            return err_set(ERR_LIMIT, "request memory limit reached");
        memset(results, 0, (size_t)pn->n_outputs * sizeof *results);
        struct op_call call = {
            .node = pn->proto, .inputs = args, .n_inputs = pn->n_inputs,
            .outputs = results, .n_outputs = pn->n_outputs, .arena = arena, .opset = m->opset,
        };
        int rc = pn->kernel->run(&call);
        if (rc)
            return rc;
        for (int j = 0; j < pn->n_outputs; j++)
            if (pn->outputs[j] >= 0)
                values[pn->outputs[j]] = results[j];
    }
    for (size_t i = 0; i < m->n_outputs; i++)
        outputs[i] = values[m->output_slots[i]];
    return 0;
}
