/* The servable-model rule: what it accepts and refuses, and that amlpkg's
 * path (graph only, engine_check_servable_file) and amlserve's (full load,
 * engine_check_servable) give the same answer and the same message. */
#include "onnx_model_pack.h"
#include "test.h"

#include "common/arena.h"
#include "common/err.h"
#include "onnx.pb-c.h"
#include "runtime/engine/servable.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/test_servable.XXXXXX";
static char files[16][512];
static int n_files;

/* A graph value: a float tensor [N, 2], or another element type, a sequence or an optional. */
enum kind { PLAIN, SEQUENCE, OPTIONAL };
struct io {
    const char *name;
    int elem;
    enum kind kind;
};

/* The protobuf pieces of one value, kept together so they outlive packing. */
struct vi_store {
    Onnx__TensorShapeProto__Dimension d[2], *pd[2];
    Onnx__TensorShapeProto shape;
    Onnx__TypeProto__Tensor tensor;
    Onnx__TypeProto__Sequence seq;
    Onnx__TypeProto__Optional opt;
    Onnx__TypeProto type, inner;
    Onnx__ValueInfoProto vi;
};

static Onnx__ValueInfoProto *value_info(struct vi_store *s, const struct io *io)
{
    onnx__tensor_shape_proto__dimension__init(&s->d[0]);
    onnx__tensor_shape_proto__dimension__init(&s->d[1]);
    s->d[0].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    s->d[0].dim_param = "N";
    s->d[1].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    s->d[1].dim_value = 2;
    s->pd[0] = &s->d[0];
    s->pd[1] = &s->d[1];
    onnx__tensor_shape_proto__init(&s->shape);
    s->shape.n_dim = 2;
    s->shape.dim = s->pd;
    onnx__type_proto__tensor__init(&s->tensor);
    s->tensor.has_elem_type = 1;
    s->tensor.elem_type = io->elem ? io->elem : ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    s->tensor.shape = &s->shape;
    onnx__type_proto__init(&s->inner);
    s->inner.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    s->inner.tensor_type = &s->tensor;
    onnx__type_proto__init(&s->type);
    if (io->kind == SEQUENCE) {
        onnx__type_proto__sequence__init(&s->seq);
        s->seq.elem_type = &s->inner;
        s->type.value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
        s->type.sequence_type = &s->seq;
    } else if (io->kind == OPTIONAL) {
        onnx__type_proto__optional__init(&s->opt);
        s->opt.elem_type = &s->inner;
        s->type.value_case = ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE;
        s->type.optional_type = &s->opt;
    } else
        s->type = s->inner;
    onnx__value_info_proto__init(&s->vi);
    s->vi.name = (char *)io->name;
    s->vi.type = &s->type;
    return &s->vi;
}

/* Writes a one-node model OP(inputs..., init?) -> outputs to file name in dir; returns its path. */
static const char *write_model(const char *name, const char *op, int n_in, const struct io *ins, int n_out,
                               const struct io *outs, Onnx__TensorProto *init, Onnx__AttributeProto *attr)
{
    struct vi_store store[8];
    Onnx__ValueInfoProto *vin[4], *vout[4];
    char *node_in[5], *node_out[4];
    for (int i = 0; i < n_in; i++) {
        vin[i] = value_info(&store[i], &ins[i]);
        node_in[i] = (char *)ins[i].name;
    }
    if (init)
        node_in[n_in] = init->name;
    for (int i = 0; i < n_out; i++) {
        vout[i] = value_info(&store[4 + i], &outs[i]);
        node_out[i] = (char *)outs[i].name;
    }
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
    node.op_type = (char *)op;
    node.name = "n0";
    node.n_input = (size_t)n_in + (init ? 1 : 0);
    node.input = node_in;
    node.n_output = (size_t)n_out;
    node.output = node_out;
    Onnx__AttributeProto *attrs[] = {attr};
    node.n_attribute = attr ? 1 : 0;
    node.attribute = attrs;
    Onnx__NodeProto *nodes[] = {&node};
    Onnx__TensorProto *inits[] = {init};
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    graph.name = "g";
    graph.n_node = 1;
    graph.node = nodes;
    graph.n_input = (size_t)n_in;
    graph.input = vin;
    graph.n_output = (size_t)n_out;
    graph.output = vout;
    graph.n_initializer = init ? 1 : 0;
    graph.initializer = inits;
    uint8_t *bytes = NULL;
    size_t len = onnx_model_pack(&bytes, &graph, "", 13);
    char *path = files[n_files++];
    snprintf(path, sizeof files[0], "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(bytes, 1, len, f);
        fclose(f);
    }
    free(bytes);
    return path;
}

static const char *write_file(const char *name, const void *data, size_t len)
{
    char *path = files[n_files++];
    snprintf(path, sizeof files[0], "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
    return path;
}

/* amlserve's way: the whole model, then the rule. */
static int serve_check(const char *path)
{
    struct engine_model *m = NULL;
    int rc = engine_model_load_file(&m, path);
    if (!rc)
        rc = engine_check_servable(m);
    engine_model_free(m);
    return rc;
}

/* Both ways agree on path: the same code and, for a refusal, the same message containing want. */
static char last_message[1024];
static int both_agree(const char *path, int *rc_out, const char *want)
{
    err_clear();
    int built = engine_check_servable_file(path);
    char msg_build[1024];
    snprintf(msg_build, sizeof msg_build, "%s", built ? err_message(built) : "");
    err_clear();
    int served = serve_check(path);
    snprintf(last_message, sizeof last_message, "%s", served ? err_message(served) : "");
    err_clear();
    *rc_out = built;
    if (built != served || strcmp(msg_build, last_message) != 0) {
        printf("  amlpkg: %d '%s'\n  amlserve: %d '%s'\n", built, msg_build, served, last_message);
        return 0;
    }
    return !want || strstr(last_message, want) != NULL;
}

static const struct io X = {"x", 0, PLAIN}, Y = {"y", 0, PLAIN};

TEST(ridge_example_is_servable)
{
    int rc;
    CHECK(both_agree("examples/onnx-ridge/model.onnx", &rc, NULL));
    CHECK_EQ_INT(rc, 0);
}

TEST(graph_only_model_describes_but_never_runs)
{
    struct engine_model *m = NULL;
    CHECK_EQ_INT(engine_model_load_graph(&m, "examples/onnx-ridge/model.onnx"), 0);
    CHECK_EQ_INT(engine_input_count(m), 1);
    CHECK_STR(engine_input(m, 0)->name, "x");
    CHECK_EQ_INT(engine_input(m, 0)->shape.dims[1], 10);
    CHECK_STR(engine_model_source(m), "examples/onnx-ridge/model.onnx");
    float x[10] = {0};
    struct tensor in = {.type = TENSOR_FLOAT, .rank = 2, .dims = {1, 10}, .data = x}, out;
    struct arena arena;
    arena_init(&arena, 0, 0);
    err_clear();
    int rc = engine_run(m, &arena, &in, &out);
    arena_release(&arena);
    engine_model_free(m);
    CHECK_EQ_INT(rc, ERR_UNSUPPORTED);
    CHECK(strstr(err_message(rc), "graph only") != NULL);
    err_clear();
}

TEST(plain_tensors_are_servable)
{
    struct io ins[] = {{"a", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, PLAIN},
                       {"b", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, PLAIN}};
    struct io outs[] = {{"y", ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, PLAIN}};
    int rc;
    CHECK(both_agree(write_model("less.onnx", "Less", 2, ins, 1, outs, NULL, NULL), &rc, NULL));
    CHECK_EQ_INT(rc, 0);
}

TEST(no_inputs_is_refused)
{
    /* Constant: a value, nothing to feed. */
    float v[2] = {1, 2};
    int64_t dims[] = {2};
    Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
    t.has_data_type = 1;
    t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t.n_dims = 1;
    t.dims = dims;
    t.n_float_data = 2;
    t.float_data = v;
    Onnx__AttributeProto a = ONNX__ATTRIBUTE_PROTO__INIT;
    a.name = "value";
    a.has_type = 1;
    a.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    a.t = &t;
    int rc;
    CHECK(both_agree(write_model("const.onnx", "Constant", 0, NULL, 1, &Y, NULL, &a), &rc,
                     "const.onnx: the model has no inputs to feed"));
    CHECK_EQ_INT(rc, ERR_UNSUPPORTED);
}

TEST(string_input_is_refused)
{
    struct io in = {"x", ONNX__TENSOR_PROTO__DATA_TYPE__STRING, PLAIN};
    struct io out = {"y", ONNX__TENSOR_PROTO__DATA_TYPE__STRING, PLAIN};
    int rc;
    CHECK(both_agree(write_model("strings.onnx", "Identity", 1, &in, 1, &out, NULL, NULL), &rc,
                     "input 'x' is a string; only numeric and bool tensors can be served"));
    CHECK_EQ_INT(rc, ERR_UNSUPPORTED);
}

TEST(sequence_output_is_refused)
{
    struct io out = {"parts", 0, SEQUENCE};
    int rc;
    CHECK(both_agree(write_model("seqout.onnx", "SplitToSequence", 1, &X, 1, &out, NULL, NULL), &rc,
                     "output 'parts' is a sequence; only numeric and bool tensors can be served"));
    CHECK_EQ_INT(rc, ERR_UNSUPPORTED);
}

TEST(optional_input_is_refused)
{
    struct io in = {"x", 0, OPTIONAL};
    int rc;
    CHECK(both_agree(write_model("optional.onnx", "Identity", 1, &in, 1, &Y, NULL, NULL), &rc,
                     "input 'x' is an optional float"));
    CHECK_EQ_INT(rc, ERR_UNSUPPORTED);
}

TEST(unknown_operator_is_refused)
{
    int rc;
    CHECK(both_agree(write_model("fancy.onnx", "FancyOp", 1, &X, 1, &Y, NULL, NULL), &rc,
                     "operator FancyOp is not supported"));
    CHECK_EQ_INT(rc, ERR_UNSUPPORTED);
}

TEST(corrupt_file_is_refused)
{
    int rc;
    CHECK(both_agree(write_file("corrupt.onnx", "\xff\xff\xff\xff not protobuf", 18), &rc, "not a valid ONNX model"));
    CHECK(rc != 0);
}

/* An initializer W [2] float: bad_len gives it the wrong number of values; external keeps them in w.bin. */
static Onnx__TensorProto weight(float *v, int64_t *dims, Onnx__StringStringEntryProto **ext, int n_values, int external)
{
    Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
    t.name = "W";
    t.has_data_type = 1;
    t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    dims[0] = 2;
    t.n_dims = 1;
    t.dims = dims;
    if (external) {
        t.has_data_location = 1;
        t.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        t.n_external_data = 1;
        t.external_data = ext;
    } else {
        t.n_float_data = (size_t)n_values;
        t.float_data = v;
    }
    return t;
}

TEST(initializers_are_checked_on_the_graph_only_path)
{
    float v[3] = {1, 2, 3};
    int64_t dims[1];
    Onnx__StringStringEntryProto loc = ONNX__STRING_STRING_ENTRY_PROTO__INIT, *ext[] = {&loc};
    loc.key = "location";
    loc.value = "w.bin";
    struct io in = {"x", 0, PLAIN};
    int rc;
    Onnx__TensorProto t = weight(v, dims, ext, 3, 0);
    CHECK(both_agree(write_model("badinit.onnx", "Add", 1, &in, 1, &Y, &t, NULL), &rc,
                     "initializer 'W': holds 12 bytes, its shape needs 8"));
    CHECK_EQ_INT(rc, ERR_PARSE);
    t = weight(v, dims, ext, 2, 0);
    CHECK(both_agree(write_model("goodinit.onnx", "Add", 1, &in, 1, &Y, &t, NULL), &rc, NULL));
    CHECK_EQ_INT(rc, 0);
    /* External data: missing, too short, then right. */
    t = weight(v, dims, ext, 0, 1);
    const char *path = write_model("external.onnx", "Add", 1, &in, 1, &Y, &t, NULL);
    CHECK(both_agree(path, &rc, "initializer 'W': external data"));
    CHECK_EQ_INT(rc, ERR_NOTFOUND);
    write_file("w.bin", v, 4);
    CHECK(both_agree(path, &rc, "external data '"));
    CHECK(strstr(last_message, "w.bin' holds 4 bytes") != NULL);
    CHECK_EQ_INT(rc, ERR_PARSE);
    n_files--; /* the same file, rewritten */
    write_file("w.bin", v, 8);
    CHECK(both_agree(path, &rc, NULL));
    CHECK_EQ_INT(rc, 0);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        printf("FAIL setup: mkdtemp\n");
        return 1;
    }
    RUN(ridge_example_is_servable);
    RUN(graph_only_model_describes_but_never_runs);
    RUN(plain_tensors_are_servable);
    RUN(no_inputs_is_refused);
    RUN(string_input_is_refused);
    RUN(sequence_output_is_refused);
    RUN(optional_input_is_refused);
    RUN(unknown_operator_is_refused);
    RUN(corrupt_file_is_refused);
    RUN(initializers_are_checked_on_the_graph_only_path);
    for (int i = 0; i < n_files; i++)
        unlink(files[i]);
    rmdir(dir);
    TEST_EXIT();
}
