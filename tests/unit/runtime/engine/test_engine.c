/* Engine: model loading, broadcasting arithmetic, MatMul semantics, errors. */
#include "onnx_model_pack.h"
#include "test.h"

#include "common/arena.h"
#include "common/err.h"
#include "onnx.pb-c.h"
#include "runtime/engine/backends/backend.h"
#include "runtime/engine/engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Builds a one-node model in memory: out = OP(a, b), both inputs fed. */
static size_t pack_binary_model(uint8_t **out, const char *op, int rank_a, const int64_t *dims_a, int rank_b,
                                const int64_t *dims_b)
{
    Onnx__TensorShapeProto__Dimension da[8], db[8];
    Onnx__TensorShapeProto__Dimension *pda[8], *pdb[8];
    for (int i = 0; i < rank_a; i++) {
        onnx__tensor_shape_proto__dimension__init(&da[i]);
        da[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        da[i].dim_value = dims_a[i];
        pda[i] = &da[i];
    }
    for (int i = 0; i < rank_b; i++) {
        onnx__tensor_shape_proto__dimension__init(&db[i]);
        db[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        db[i].dim_value = dims_b[i];
        pdb[i] = &db[i];
    }
    Onnx__TensorShapeProto sa = ONNX__TENSOR_SHAPE_PROTO__INIT, sb = ONNX__TENSOR_SHAPE_PROTO__INIT;
    sa.n_dim = (size_t)rank_a;
    sa.dim = pda;
    sb.n_dim = (size_t)rank_b;
    sb.dim = pdb;
    Onnx__TypeProto__Tensor ta = ONNX__TYPE_PROTO__TENSOR__INIT, tb = ONNX__TYPE_PROTO__TENSOR__INIT,
                            to = ONNX__TYPE_PROTO__TENSOR__INIT;
    ta.has_elem_type = tb.has_elem_type = to.has_elem_type = 1;
    ta.elem_type = tb.elem_type = to.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    ta.shape = &sa;
    tb.shape = &sb;
    Onnx__TypeProto ya = ONNX__TYPE_PROTO__INIT, yb = ONNX__TYPE_PROTO__INIT, yo = ONNX__TYPE_PROTO__INIT;
    ya.value_case = yb.value_case = yo.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    ya.tensor_type = &ta;
    yb.tensor_type = &tb;
    yo.tensor_type = &to;
    Onnx__ValueInfoProto va = ONNX__VALUE_INFO_PROTO__INIT, vb = ONNX__VALUE_INFO_PROTO__INIT,
                         vo = ONNX__VALUE_INFO_PROTO__INIT;
    va.name = "a";
    va.type = &ya;
    vb.name = "b";
    vb.type = &yb;
    vo.name = "out";
    vo.type = &yo;
    /* The output has no shape on purpose: the engine must not depend on it. */
    char *node_in[] = {"a", "b"}, *node_out[] = {"out"};
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
    node.op_type = (char *)op;
    node.name = "n0";
    node.n_input = 2;
    node.input = node_in;
    node.n_output = 1;
    node.output = node_out;
    Onnx__NodeProto *nodes[] = {&node};
    Onnx__ValueInfoProto *inputs[] = {&va, &vb}, *outputs[] = {&vo};
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    graph.name = "g";
    graph.n_node = 1;
    graph.node = nodes;
    graph.n_input = 2;
    graph.input = inputs;
    graph.n_output = 1;
    graph.output = outputs;
    size_t len = onnx_model_pack(out, &graph, "", 0);
    return len;
}

static struct tensor make_tensor(float *data, int rank, const int64_t *dims)
{
    struct tensor t = {.type = TENSOR_FLOAT, .rank = rank, .data = data};
    for (int i = 0; i < rank; i++)
        t.dims[i] = dims[i];
    return t;
}

TEST(ridge_example_matches_numpy)
{
    struct engine_model *m = NULL;
    CHECK_EQ_INT(engine_model_load_file(&m, "examples/onnx-ridge/model.onnx"), 0);
    CHECK_EQ_INT(engine_input_count(m), 1);
    CHECK_STR(engine_input(m, 0)->name, "x");
    CHECK_EQ_INT(engine_input(m, 0)->shape.dims[0], -1);
    CHECK_EQ_INT(engine_input(m, 0)->shape.dims[1], 10);
    float x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    int64_t dims[] = {2, 10};
    struct tensor in = make_tensor(x, 2, dims), out;
    struct arena arena;
    arena_init(&arena, 0, 0);
    CHECK_EQ_INT(engine_run(m, &arena, &in, &out), 0);
    CHECK_EQ_INT(out.rank, 1);
    CHECK_EQ_INT(out.dims[0], 2);
    /* numpy: x @ w + b with the model's own initializers */
    CHECK_NEAR(((float *)out.data)[0], 74.65938568115234, 1e-4);
    CHECK_NEAR(((float *)out.data)[1], -16.79060935974121, 1e-4);
    arena_release(&arena);
    engine_model_free(m);
}

TEST(wrong_feature_count_is_rejected)
{
    struct engine_model *m = NULL;
    CHECK_EQ_INT(engine_model_load_file(&m, "examples/onnx-ridge/model.onnx"), 0);
    float x[3] = {1, 2, 3};
    int64_t dims[] = {1, 3};
    struct tensor in = make_tensor(x, 2, dims), out;
    struct arena arena;
    arena_init(&arena, 0, 0);
    err_clear();
    CHECK_EQ_INT(engine_run(m, &arena, &in, &out), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "expected shape [?,10], got [1,3]") != NULL);
    err_clear();
    arena_release(&arena);
    engine_model_free(m);
}

static int run_binary(const char *op, float *a, int ra, const int64_t *da, float *b, int rb, const int64_t *db,
                      struct tensor *out, struct arena *arena)
{
    uint8_t *bytes;
    size_t len = pack_binary_model(&bytes, op, ra, da, rb, db);
    struct engine_model *m = NULL;
    int rc = engine_model_load_buffer(&m, bytes, len, "test");
    free(bytes);
    if (rc)
        return rc;
    struct tensor in[2] = {make_tensor(a, ra, da), make_tensor(b, rb, db)};
    rc = engine_run(m, arena, in, out);
    engine_model_free(m);
    return rc;
}

TEST(add_broadcasts_like_numpy)
{
    struct arena arena;
    arena_init(&arena, 0, 0);
    float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {10, 20, 30}, c[2] = {100, 200};
    int64_t da[] = {2, 3}, db[] = {3}, dc[] = {2, 1};
    struct tensor out;
    CHECK_EQ_INT(run_binary("Add", a, 2, da, b, 1, db, &out, &arena), 0);
    float want[] = {11, 22, 33, 14, 25, 36};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(((float *)out.data)[i], want[i], 0);
    CHECK_EQ_INT(run_binary("Mul", a, 2, da, c, 2, dc, &out, &arena), 0);
    float want2[] = {100, 200, 300, 800, 1000, 1200};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(((float *)out.data)[i], want2[i], 0);
    err_clear();
    CHECK_EQ_INT(run_binary("Sub", a, 2, da, c, 1, dc, &out, &arena), ERR_INVALID);
    err_clear();
    arena_release(&arena);
}

TEST(matmul_batches_and_vectors)
{
    struct arena arena;
    arena_init(&arena, 0, 0);
    /* [2,2,3] x [3,2] → [2,2,2] */
    float a[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, b[6] = {1, 0, 0, 1, 1, 1};
    int64_t da[] = {2, 2, 3}, db[] = {3, 2};
    struct tensor out;
    CHECK_EQ_INT(run_binary("MatMul", a, 3, da, b, 2, db, &out, &arena), 0);
    CHECK_EQ_INT(out.rank, 3);
    float want[] = {4, 5, 10, 11, 16, 17, 22, 23};
    for (int i = 0; i < 8; i++)
        CHECK_NEAR(((float *)out.data)[i], want[i], 0);
    /* [3] x [3] → scalar */
    int64_t dv[] = {3};
    CHECK_EQ_INT(run_binary("MatMul", a, 1, dv, a, 1, dv, &out, &arena), 0);
    CHECK_EQ_INT(out.rank, 0);
    CHECK_NEAR(((float *)out.data)[0], 14, 0);
    arena_release(&arena);
}

TEST(corrupt_and_unsupported_models_are_refused)
{
    struct engine_model *m = NULL;
    const char junk[] = "this is not a protobuf at all \xff\xff\xff";
    err_clear();
    CHECK(engine_model_load_buffer(&m, junk, sizeof junk, "junk.onnx") != 0);
    CHECK(strstr(err_message(ERR_PARSE), "junk.onnx") != NULL);
    CHECK(m == NULL);
    err_clear();
    uint8_t *bytes;
    int64_t d[] = {2};
    size_t len = pack_binary_model(&bytes, "FancyOp", 1, d, 1, d);
    CHECK(engine_model_load_buffer(&m, bytes, len, "fancy.onnx") == ERR_UNSUPPORTED);
    CHECK(strstr(err_message(ERR_UNSUPPORTED), "FancyOp") != NULL);
    free(bytes);
    err_clear();
}

/* A one-node model: inputs "x0".."xN" of the given types and ranks (dims unknown,
 * -1), outputs named by out_names ("" leaves an optional output unnamed; only
 * named ones become graph outputs, typed like input 0), one optional int attribute, and an opset
 * import when opset > 0. */
static size_t pack_node_model(uint8_t **out, const char *op, int n_in, const int *types, const int *ranks, int n_out,
                              const char *const *out_names, const char *attr_name, int64_t attr_value, int64_t opset)
{
    Onnx__TensorShapeProto__Dimension dim[4][8], *pdim[4][8];
    Onnx__TensorShapeProto shape[4];
    Onnx__TypeProto__Tensor tt[4];
    Onnx__TypeProto ty[4];
    Onnx__ValueInfoProto vi[4], vo[4], *pvi[4], *pvo[4];
    char names[4][16], *node_in[4], *node_out[4];
    for (int i = 0; i < n_in; i++) {
        for (int d = 0; d < ranks[i]; d++) {
            onnx__tensor_shape_proto__dimension__init(&dim[i][d]);
            dim[i][d].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim[i][d].dim_param = "n";
            pdim[i][d] = &dim[i][d];
        }
        onnx__tensor_shape_proto__init(&shape[i]);
        shape[i].n_dim = (size_t)ranks[i];
        shape[i].dim = pdim[i];
        onnx__type_proto__tensor__init(&tt[i]);
        tt[i].has_elem_type = 1;
        tt[i].elem_type = types[i];
        tt[i].shape = &shape[i];
        onnx__type_proto__init(&ty[i]);
        ty[i].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
        ty[i].tensor_type = &tt[i];
        onnx__value_info_proto__init(&vi[i]);
        snprintf(names[i], sizeof names[i], "x%d", i);
        vi[i].name = names[i];
        vi[i].type = &ty[i];
        pvi[i] = &vi[i];
        node_in[i] = names[i];
    }
    /* Outputs: typed like input 0, no shape (the engine must not depend on it). */
    Onnx__TypeProto__Tensor to = ONNX__TYPE_PROTO__TENSOR__INIT;
    to.has_elem_type = 1;
    to.elem_type = types[0];
    Onnx__TypeProto yo = ONNX__TYPE_PROTO__INIT;
    yo.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    yo.tensor_type = &to;
    int n_graph_out = 0;
    for (int i = 0; i < n_out; i++) {
        node_out[i] = (char *)out_names[i];
        if (!out_names[i][0])
            continue;
        onnx__value_info_proto__init(&vo[n_graph_out]);
        vo[n_graph_out].name = (char *)out_names[i];
        vo[n_graph_out].type = &yo;
        pvo[n_graph_out] = &vo[n_graph_out];
        n_graph_out++;
    }
    Onnx__AttributeProto attr = ONNX__ATTRIBUTE_PROTO__INIT, *pattr[1] = {&attr};
    attr.name = (char *)attr_name;
    attr.has_type = 1;
    attr.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    attr.has_i = 1;
    attr.i = attr_value;
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT, *nodes[1] = {&node};
    node.op_type = (char *)op;
    node.name = "n0";
    node.n_input = (size_t)n_in;
    node.input = node_in;
    node.n_output = (size_t)n_out;
    node.output = node_out;
    node.n_attribute = attr_name ? 1 : 0;
    node.attribute = pattr;
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    graph.name = "g";
    graph.n_node = 1;
    graph.node = nodes;
    graph.n_input = (size_t)n_in;
    graph.input = pvi;
    graph.n_output = (size_t)n_graph_out;
    graph.output = pvo;
    size_t len = onnx_model_pack(out, &graph, "", opset);
    return len;
}

TEST(softmax_follows_the_model_opset)
{
    /* [1,2,2]: before opset 13 the default axis 1 flattens to one row of 4;
     * from 13 the default axis -1 normalizes each pair. */
    float x[4] = {1, 2, 3, 4};
    int64_t dims[] = {1, 2, 2};
    int types[] = {TENSOR_FLOAT}, ranks[] = {3};
    const char *outs[] = {"y"};
    int64_t opsets[] = {11, 13};
    float want_sum[] = {1, 2};
    for (int k = 0; k < 2; k++) {
        uint8_t *bytes;
        size_t len = pack_node_model(&bytes, "Softmax", 1, types, ranks, 1, outs, NULL, 0, opsets[k]);
        struct engine_model *m = NULL;
        CHECK_EQ_INT(engine_model_load_buffer(&m, bytes, len, "softmax.onnx"), 0);
        free(bytes);
        struct tensor in = make_tensor(x, 3, dims), out;
        struct arena arena;
        arena_init(&arena, 0, 0);
        CHECK_EQ_INT(engine_run(m, &arena, &in, &out), 0);
        float sum = 0;
        for (int i = 0; i < 4; i++)
            sum += ((float *)out.data)[i];
        CHECK_NEAR(sum, want_sum[k], 1e-5);
        CHECK_NEAR(((float *)out.data)[1] / ((float *)out.data)[0], expf(1.0f), 1e-4);
        arena_release(&arena);
        engine_model_free(m);
    }
}

TEST(optional_outputs_may_be_left_unnamed)
{
    float x[3] = {1, -2, 3};
    int64_t dims[] = {3};
    int types[] = {TENSOR_FLOAT}, ranks[] = {1};
    const char *outs[] = {"y", ""};
    uint8_t *bytes;
    size_t len = pack_node_model(&bytes, "Dropout", 1, types, ranks, 2, outs, NULL, 0, 13);
    struct engine_model *m = NULL;
    CHECK_EQ_INT(engine_model_load_buffer(&m, bytes, len, "dropout.onnx"), 0);
    free(bytes);
    CHECK_EQ_INT(engine_output_count(m), 1);
    struct tensor in = make_tensor(x, 1, dims), out;
    struct arena arena;
    arena_init(&arena, 0, 0);
    CHECK_EQ_INT(engine_run(m, &arena, &in, &out), 0);
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(((float *)out.data)[i], x[i], 0);
    arena_release(&arena);
    engine_model_free(m);
}

TEST(integer_division_by_zero_does_not_trap)
{
    /* Request data reaches kernels: INT64_MIN / -1 and x / 0 must give a value, not SIGFPE. */
    int64_t a[3] = {7, INT64_MIN, -9}, b[3] = {0, -1, 2};
    int types[] = {TENSOR_INT64, TENSOR_INT64}, ranks[] = {1, 1};
    const char *outs[] = {"y"};
    uint8_t *bytes;
    size_t len = pack_node_model(&bytes, "Div", 2, types, ranks, 1, outs, NULL, 0, 13);
    struct engine_model *m = NULL;
    CHECK_EQ_INT(engine_model_load_buffer(&m, bytes, len, "div.onnx"), 0);
    free(bytes);
    struct tensor in[2] = {{.type = TENSOR_INT64, .rank = 1, .dims = {3}, .data = a},
                           {.type = TENSOR_INT64, .rank = 1, .dims = {3}, .data = b}};
    struct tensor out;
    struct arena arena;
    arena_init(&arena, 0, 0);
    CHECK_EQ_INT(engine_run(m, &arena, in, &out), 0);
    CHECK_EQ_INT(out.type, TENSOR_INT64);
    CHECK_EQ_INT(((int64_t *)out.data)[0], 0);
    CHECK_EQ_INT(((int64_t *)out.data)[1], 0);
    CHECK_EQ_INT(((int64_t *)out.data)[2], -4); /* truncation toward zero, like C and ONNX */
    arena_release(&arena);
    engine_model_free(m);
}

TEST(stores_saturate_instead_of_overflowing)
{
    int64_t i64;
    uint8_t u8;
    int32_t i32;
    tensor_store(TENSOR_INT64, &i64, 0, 1e300);
    CHECK(i64 > INT64_MAX / 2);
    tensor_store(TENSOR_UINT8, &u8, 0, -5);
    CHECK_EQ_INT(u8, 0);
    tensor_store(TENSOR_UINT8, &u8, 0, 300);
    CHECK_EQ_INT(u8, 255);
    tensor_store(TENSOR_INT32, &i32, 0, NAN);
    CHECK_EQ_INT(i32, 0);
    CHECK_NEAR(tensor_load(TENSOR_UINT8, &u8, 0), 255, 0);
    /* float16 bit patterns: normal, largest finite, overflow, smallest subnormal, rounding to even */
    uint16_t h;
    double vals[] = {1.0, -2.0, 65504.0, 1e6, 5.960464477539063e-08, 1.0 + 1.0 / 2048};
    uint16_t bits[] = {0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0001, 0x3c00};
    for (int i = 0; i < 6; i++) {
        tensor_store(TENSOR_FLOAT16, &h, 0, vals[i]);
        CHECK_EQ_INT(h, bits[i]);
    }
    /* bfloat16: the top half of a float32, rounded to nearest even */
    tensor_store(TENSOR_BFLOAT16, &h, 0, 1.0);
    CHECK_EQ_INT(h, 0x3f80);
    tensor_store(TENSOR_BFLOAT16, &h, 0, 1.0 + 3.0 / 256); /* 0x3f81_8000: a tie, rounds to the even 0x3f82 */
    CHECK_EQ_INT(h, 0x3f82);
    h = 0x3555; /* float16 0.333251953125 */
    CHECK_NEAR(tensor_load(TENSOR_FLOAT16, &h, 0), 0.333251953125, 0);
}

static Onnx__AttributeProto ints_attr(const char *name, int64_t *v, size_t n)
{
    Onnx__AttributeProto a = ONNX__ATTRIBUTE_PROTO__INIT;
    a.name = (char *)name;
    a.has_type = 1;
    a.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    a.n_ints = n;
    a.ints = v;
    return a;
}

static Onnx__AttributeProto floats_attr(const char *name, float *v, size_t n)
{
    Onnx__AttributeProto a = ONNX__ATTRIBUTE_PROTO__INIT;
    a.name = (char *)name;
    a.has_type = 1;
    a.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    a.n_floats = n;
    a.floats = v;
    return a;
}

/* A tree kernel parses its ensemble on the first run and keeps it with the model:
 * later runs (other rows, other batch sizes) must answer from the cached trees. */
TEST(tree_ensembles_answer_the_same_from_their_cache)
{
    int64_t treeids[] = {0, 0, 0, 1, 1, 1}, nodeids[] = {0, 1, 2, 0, 1, 2}, featids[] = {0, 0, 0, 1, 0, 0};
    int64_t trues[] = {1, 0, 0, 1, 0, 0}, falses[] = {2, 0, 0, 2, 0, 0};
    float values[] = {0.5f, 0, 0, -1.0f, 0, 0}, weights[] = {10, 20, 1, 2};
    int64_t t_tree[] = {0, 0, 1, 1}, t_node[] = {1, 2, 1, 2}, t_ids[] = {0, 0, 0, 0};
    ProtobufCBinaryData modes[] = {{10, (uint8_t *)"BRANCH_LEQ"}, {4, (uint8_t *)"LEAF"}, {4, (uint8_t *)"LEAF"},
                                   {10, (uint8_t *)"BRANCH_LEQ"}, {4, (uint8_t *)"LEAF"}, {4, (uint8_t *)"LEAF"}};
    Onnx__AttributeProto attrs[] = {
        ints_attr("nodes_treeids", treeids, 6),   ints_attr("nodes_nodeids", nodeids, 6),
        ints_attr("nodes_featureids", featids, 6), ints_attr("nodes_truenodeids", trues, 6),
        ints_attr("nodes_falsenodeids", falses, 6), floats_attr("nodes_values", values, 6),
        ints_attr("target_treeids", t_tree, 4),   ints_attr("target_nodeids", t_node, 4),
        ints_attr("target_ids", t_ids, 4),        floats_attr("target_weights", weights, 4),
        ONNX__ATTRIBUTE_PROTO__INIT,
    };
    attrs[10].name = "nodes_modes";
    attrs[10].has_type = 1;
    attrs[10].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    attrs[10].n_strings = 6;
    attrs[10].strings = modes;
    Onnx__AttributeProto *pattrs[11];
    for (int i = 0; i < 11; i++)
        pattrs[i] = &attrs[i];
    Onnx__TensorShapeProto__Dimension d0 = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT,
                                      d1 = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT, *pd[] = {&d0, &d1};
    d0.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    d0.dim_param = "N";
    d1.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d1.dim_value = 2;
    Onnx__TensorShapeProto shape = ONNX__TENSOR_SHAPE_PROTO__INIT;
    shape.n_dim = 2;
    shape.dim = pd;
    Onnx__TypeProto__Tensor tt = ONNX__TYPE_PROTO__TENSOR__INIT, to = ONNX__TYPE_PROTO__TENSOR__INIT;
    tt.has_elem_type = to.has_elem_type = 1;
    tt.elem_type = to.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt.shape = &shape;
    Onnx__TypeProto ty = ONNX__TYPE_PROTO__INIT, tyo = ONNX__TYPE_PROTO__INIT;
    ty.value_case = tyo.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    ty.tensor_type = &tt;
    tyo.tensor_type = &to;
    Onnx__ValueInfoProto vx = ONNX__VALUE_INFO_PROTO__INIT, vy = ONNX__VALUE_INFO_PROTO__INIT;
    vx.name = "X";
    vx.type = &ty;
    vy.name = "Y";
    vy.type = &tyo;
    char *node_in[] = {"X"}, *node_out[] = {"Y"};
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
    node.op_type = "TreeEnsembleRegressor";
    node.domain = "ai.onnx.ml";
    node.n_input = 1;
    node.input = node_in;
    node.n_output = 1;
    node.output = node_out;
    node.n_attribute = 11;
    node.attribute = pattrs;
    Onnx__NodeProto *nodes[] = {&node};
    Onnx__ValueInfoProto *ins[] = {&vx}, *outs[] = {&vy};
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    graph.name = "trees";
    graph.n_node = 1;
    graph.node = nodes;
    graph.n_input = 1;
    graph.input = ins;
    graph.n_output = 1;
    graph.output = outs;
    uint8_t *bytes = NULL;
    size_t len = onnx_model_pack(&bytes, &graph, "ai.onnx.ml", 1);
    struct engine_model *m = NULL;
    int rc = engine_model_load_buffer(&m, bytes, len, "trees.onnx");
    free(bytes);
    CHECK_EQ_INT(rc, 0);
    /* Tree 0: x0 <= 0.5 ? 10 : 20; tree 1: x1 <= -1 ? 1 : 2; summed. */
    float rows[][2] = {{0.2f, -2}, {0.9f, 0}, {0.5f, 5}, {7, -1}};
    float want[] = {11, 22, 12, 21};
    struct arena arena;
    arena_init(&arena, 0, 0);
    for (int round = 0; round < 3; round++) {
        int64_t n = round == 1 ? 1 : 4; /* another batch size between two full ones */
        struct tensor in = {.type = TENSOR_FLOAT, .rank = 2, .dims = {n, 2}, .data = rows}, out;
        arena_reset(&arena);
        CHECK_EQ_INT(engine_run(m, &arena, &in, &out), 0);
        CHECK_EQ_INT(out.dims[0], n);
        for (int64_t i = 0; i < n; i++)
            CHECK_NEAR(((float *)out.data)[i], want[i], 1e-6);
    }
    /* More rows than one chunk of the tree-by-tree walk (256), and enough to
     * be split over the thread pool; thresholds hit exactly, NaN (no missing
     * tracking: the false branch). */
    static float many[3000][2];
    for (int i = 0; i < 3000; i++) {
        many[i][0] = i % 11 == 0 ? 0.5f : i % 13 == 0 ? NAN : (float)(i % 7) * 0.2f;
        many[i][1] = (float)(i % 5) - 3;
    }
    struct tensor in = {.type = TENSOR_FLOAT, .rank = 2, .dims = {3000, 2}, .data = many}, out;
    arena_reset(&arena);
    CHECK_EQ_INT(engine_run(m, &arena, &in, &out), 0);
    for (int i = 0; i < 3000; i++)
        CHECK_NEAR(((float *)out.data)[i], (many[i][0] <= 0.5f ? 10 : 20) + (many[i][1] <= -1 ? 1 : 2), 1e-6);
    arena_release(&arena);
    engine_model_free(m);
}

/* A random forest as scikit-learn converters write one: BRANCH_LEQ trees up to depth 7 over six
 * features, weight ids cycling over k targets or classes, one weight per leaf (rows then sum as they
 * reach their leaves) or two (the kept-leaves path). Indices are the node ids plus the tree's first. */
#define RF_MAX_NODES 4096
struct rand_forest {
    int64_t n_nodes, n_w, n_trees;
    int64_t tree[RF_MAX_NODES], node[RF_MAX_NODES], feat[RF_MAX_NODES], yes[RF_MAX_NODES], no[RF_MAX_NODES];
    int64_t first[RF_MAX_NODES], leaf_w[RF_MAX_NODES];
    float value[RF_MAX_NODES];
    int leaf[RF_MAX_NODES];
    int64_t w_tree[2 * RF_MAX_NODES], w_node[2 * RF_MAX_NODES], w_id[2 * RF_MAX_NODES];
    float w[2 * RF_MAX_NODES];
    int weights_per_leaf;
};

static unsigned rf_state = 12345;
static unsigned rf_rand(void)
{
    rf_state = rf_state * 1103515245u + 12345u;
    return rf_state >> 8;
}

/* Thresholds and feature values share a grid of 1/50 in [-2, 2], so rows often hit a threshold exactly. */
static float rf_grid(void)
{
    return (float)((int)(rf_rand() % 201) - 100) / 50.0f;
}

static int64_t rf_grow(struct rand_forest *f, int64_t t, int64_t first, int depth, int k)
{
    int64_t i = f->n_nodes++, id = i - first;
    f->tree[i] = t;
    f->node[i] = id;
    f->first[i] = first;
    f->leaf[i] = depth == 7 || (depth > 1 && rf_rand() % 4 == 0);
    f->feat[i] = f->yes[i] = f->no[i] = 0;
    f->value[i] = 0;
    if (f->leaf[i]) {
        f->leaf_w[i] = f->n_w;
        for (int w = 0; w < f->weights_per_leaf; w++) {
            f->w_tree[f->n_w] = t;
            f->w_node[f->n_w] = id;
            f->w_id[f->n_w] = (id + w) % k;
            f->w[f->n_w++] = (float)((int)(rf_rand() % 2001) - 1000) / 256.0f;
        }
        return id;
    }
    f->feat[i] = rf_rand() % 6;
    f->value[i] = rf_grid();
    f->yes[i] = rf_grow(f, t, first, depth + 1, k);
    f->no[i] = rf_grow(f, t, first, depth + 1, k);
    return id;
}

static void rf_build(struct rand_forest *f, int n_trees, int k, int weights_per_leaf)
{
    f->n_nodes = f->n_w = 0;
    f->n_trees = n_trees;
    f->weights_per_leaf = weights_per_leaf;
    for (int t = 0; t < n_trees; t++)
        rf_grow(f, t, f->n_nodes, 0, k);
}

/* The scores of row x: every tree walked node by node, its leaf's weights added in tree order in double. */
static void rf_expect(const struct rand_forest *f, const float *x, double *s)
{
    for (int64_t i = 0; i < f->n_nodes; i++) {
        if (f->node[i] != 0)
            continue;
        int64_t at = i;
        while (!f->leaf[at])
            at = f->first[at] + (x[f->feat[at]] <= f->value[at] ? f->yes[at] : f->no[at]);
        for (int w = 0; w < f->weights_per_leaf; w++)
            s[f->w_id[f->leaf_w[at] + w]] += f->w[f->leaf_w[at] + w];
    }
}

static Onnx__AttributeProto int_attr(const char *name, int64_t v)
{
    Onnx__AttributeProto a = ONNX__ATTRIBUTE_PROTO__INIT;
    a.name = (char *)name;
    a.has_type = 1;
    a.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    a.has_i = 1;
    a.i = v;
    return a;
}

/* The forest as a TreeEnsembleRegressor (k targets, base values) or a TreeEnsembleClassifier (labels
 * 10, 20, ...: label and scores out), rows of six floats. */
static struct engine_model *rf_model(const struct rand_forest *f, int classifier, int k)
{
    static ProtobufCBinaryData modes[RF_MAX_NODES];
    for (int64_t i = 0; i < f->n_nodes; i++)
        modes[i] = f->leaf[i] ? (ProtobufCBinaryData){4, (uint8_t *)"LEAF"}
                              : (ProtobufCBinaryData){10, (uint8_t *)"BRANCH_LEQ"};
    static int64_t labels[8];
    static float base[8];
    for (int j = 0; j < k; j++) {
        labels[j] = 10 * (j + 1);
        base[j] = 0.25f * (float)j - 0.5f;
    }
    size_t n = (size_t)f->n_nodes, nw = (size_t)f->n_w;
    const char *p = classifier ? "class" : "target";
    char names[4][32];
    snprintf(names[0], sizeof names[0], "%s_treeids", p);
    snprintf(names[1], sizeof names[1], "%s_nodeids", p);
    snprintf(names[2], sizeof names[2], "%s_ids", p);
    snprintf(names[3], sizeof names[3], "%s_weights", p);
    Onnx__AttributeProto attrs[] = {
        ints_attr("nodes_treeids", (int64_t *)f->tree, n),     ints_attr("nodes_nodeids", (int64_t *)f->node, n),
        ints_attr("nodes_featureids", (int64_t *)f->feat, n),  ints_attr("nodes_truenodeids", (int64_t *)f->yes, n),
        ints_attr("nodes_falsenodeids", (int64_t *)f->no, n),  floats_attr("nodes_values", (float *)f->value, n),
        ints_attr(names[0], (int64_t *)f->w_tree, nw),         ints_attr(names[1], (int64_t *)f->w_node, nw),
        ints_attr(names[2], (int64_t *)f->w_id, nw),           floats_attr(names[3], (float *)f->w, nw),
        classifier ? ints_attr("classlabels_int64s", labels, (size_t)k) : int_attr("n_targets", k),
        floats_attr("base_values", base, (size_t)k),           ONNX__ATTRIBUTE_PROTO__INIT,
    };
    enum { N_ATTRS = sizeof attrs / sizeof attrs[0] };
    attrs[N_ATTRS - 1].name = "nodes_modes";
    attrs[N_ATTRS - 1].has_type = 1;
    attrs[N_ATTRS - 1].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    attrs[N_ATTRS - 1].n_strings = n;
    attrs[N_ATTRS - 1].strings = modes;
    Onnx__AttributeProto *pattrs[N_ATTRS];
    for (int i = 0; i < N_ATTRS; i++)
        pattrs[i] = &attrs[i];
    Onnx__TensorShapeProto__Dimension d0 = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT,
                                      d1 = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT, *pd[] = {&d0, &d1};
    d0.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    d0.dim_param = "N";
    d1.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d1.dim_value = 6;
    Onnx__TensorShapeProto shape = ONNX__TENSOR_SHAPE_PROTO__INIT;
    shape.n_dim = 2;
    shape.dim = pd;
    Onnx__TypeProto__Tensor tx = ONNX__TYPE_PROTO__TENSOR__INIT, ty = ONNX__TYPE_PROTO__TENSOR__INIT,
                            tz = ONNX__TYPE_PROTO__TENSOR__INIT;
    tx.has_elem_type = ty.has_elem_type = tz.has_elem_type = 1;
    tx.elem_type = tz.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    ty.elem_type = classifier ? ONNX__TENSOR_PROTO__DATA_TYPE__INT64 : ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tx.shape = &shape;
    Onnx__TypeProto type_x = ONNX__TYPE_PROTO__INIT, type_y = ONNX__TYPE_PROTO__INIT, type_z = ONNX__TYPE_PROTO__INIT;
    type_x.value_case = type_y.value_case = type_z.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type_x.tensor_type = &tx;
    type_y.tensor_type = &ty;
    type_z.tensor_type = &tz;
    Onnx__ValueInfoProto vx = ONNX__VALUE_INFO_PROTO__INIT, vy = ONNX__VALUE_INFO_PROTO__INIT,
                         vz = ONNX__VALUE_INFO_PROTO__INIT;
    vx.name = "X";
    vx.type = &type_x;
    vy.name = "Y";
    vy.type = &type_y;
    vz.name = "Z";
    vz.type = &type_z;
    char *node_in[] = {"X"}, *node_out[] = {"Y", "Z"};
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
    node.op_type = classifier ? "TreeEnsembleClassifier" : "TreeEnsembleRegressor";
    node.domain = "ai.onnx.ml";
    node.n_input = 1;
    node.input = node_in;
    node.n_output = classifier ? 2 : 1;
    node.output = node_out;
    node.n_attribute = N_ATTRS;
    node.attribute = pattrs;
    Onnx__NodeProto *nodes[] = {&node};
    Onnx__ValueInfoProto *ins[] = {&vx}, *outs[] = {&vy, &vz};
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    graph.name = "forest";
    graph.n_node = 1;
    graph.node = nodes;
    graph.n_input = 1;
    graph.input = ins;
    graph.n_output = node.n_output;
    graph.output = outs;
    uint8_t *bytes = NULL;
    size_t len = onnx_model_pack(&bytes, &graph, "ai.onnx.ml", 1);
    struct engine_model *m = NULL;
    int rc = engine_model_load_buffer(&m, bytes, len, "forest.onnx");
    free(bytes);
    return rc ? NULL : m;
}

/* Regressors and classifiers, one weight per leaf and two, against a direct walk of the same trees:
 * one row and a few (walked eight trees at a time), rows not a multiple of the eight walked together,
 * more than a chunk (256; the last one of seven rows), enough to split over the pool; thresholds hit exactly and NaN features (no missing tracking: the false branch). */
TEST(tree_ensembles_match_a_direct_walk)
{
    static struct rand_forest f;
    static float x[3000][6];
    for (int r = 0; r < 3000; r++)
        for (int j = 0; j < 6; j++)
            x[r][j] = (r + j) % 17 == 0 ? NAN : rf_grid();
    struct arena arena;
    arena_init(&arena, 0, 0);
    for (int variant = 0; variant < 8; variant++) {
        int classifier = variant & 1, weights = variant & 2 ? 2 : 1, k = variant & 4 ? 3 : (classifier ? 3 : 1);
        rf_build(&f, 12, k, weights);
        struct engine_model *m = rf_model(&f, classifier, k);
        CHECK(m != NULL);
        if (!m)
            continue;
        static const int64_t counts[] = {1, 5, 9, 263, 300, 3000};
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            int64_t n = counts[c];
            struct tensor in = {.type = TENSOR_FLOAT, .rank = 2, .dims = {n, 6}, .data = x}, out[2];
            arena_reset(&arena);
            CHECK_EQ_INT(engine_run(m, &arena, &in, out), 0);
            int bad = 0;
            for (int64_t r = 0; r < n && !bad; r++) {
                double s[8] = {0};
                for (int j = 0; j < k; j++)
                    s[j] = 0.25 * j - 0.5; /* the base values */
                rf_expect(&f, x[r], s);
                const float *scores = classifier ? out[1].data : out[0].data;
                for (int j = 0; j < k; j++)
                    bad |= scores[r * k + j] != (float)s[j];
                if (classifier) {
                    int best = 0;
                    for (int j = 1; j < k; j++)
                        best = s[j] > s[best] ? j : best;
                    bad |= ((const int64_t *)out[0].data)[r] != 10 * (best + 1);
                }
                if (bad)
                    printf("  variant %d, %lld rows: row %lld differs\n", variant, (long long)n, (long long)r);
            }
            CHECK(!bad);
        }
        engine_model_free(m);
    }
    arena_release(&arena);
}

/* The static memory plan (mem_plan.h): the first run records, later runs of
 * the same shapes put intermediate tensors in one reused slab. A view
 * (Flatten) must keep the bytes it views alive: b views a, and a's last
 * direct reader comes long before b's, so without that c or e would take a's
 * bytes and d would read garbage. Other shapes run on the arena. */
TEST(memory_plan_reuses_buffers_and_keeps_views_alive)
{
    struct {
        const char *op, *in[2], *out;
    } chain[] = {{"Relu", {"x", NULL}, "a"},    {"Flatten", {"a", NULL}, "b"}, {"Sigmoid", {"b", NULL}, "c"},
                 {"Neg", {"c", NULL}, "e"},     {"Add", {"e", "b"}, "d"},      {"Relu", {"d", NULL}, "y"}};
    enum { N_NODES = sizeof chain / sizeof chain[0] };
    Onnx__NodeProto nodes[N_NODES], *pnodes[N_NODES];
    char *ins[N_NODES][2], *outs[N_NODES][1];
    for (int i = 0; i < N_NODES; i++) {
        onnx__node_proto__init(&nodes[i]);
        nodes[i].op_type = (char *)chain[i].op;
        nodes[i].name = (char *)chain[i].out;
        ins[i][0] = (char *)chain[i].in[0];
        ins[i][1] = (char *)chain[i].in[1];
        outs[i][0] = (char *)chain[i].out;
        nodes[i].n_input = chain[i].in[1] ? 2 : 1;
        nodes[i].input = ins[i];
        nodes[i].n_output = 1;
        nodes[i].output = outs[i];
        pnodes[i] = &nodes[i];
    }
    Onnx__TensorShapeProto__Dimension dn = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT,
                                      dk = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT, *pd[] = {&dn, &dk};
    dn.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    dn.dim_param = "N";
    dk.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    dk.dim_value = 64;
    Onnx__TensorShapeProto shape = ONNX__TENSOR_SHAPE_PROTO__INIT;
    shape.n_dim = 2;
    shape.dim = pd;
    Onnx__TypeProto__Tensor tt = ONNX__TYPE_PROTO__TENSOR__INIT;
    tt.has_elem_type = 1;
    tt.elem_type = TENSOR_FLOAT;
    tt.shape = &shape;
    Onnx__TypeProto ty = ONNX__TYPE_PROTO__INIT;
    ty.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    ty.tensor_type = &tt;
    Onnx__ValueInfoProto vx = ONNX__VALUE_INFO_PROTO__INIT, vy = ONNX__VALUE_INFO_PROTO__INIT, *px[] = {&vx},
                         *py[] = {&vy};
    vx.name = "x";
    vx.type = &ty;
    vy.name = "y";
    vy.type = &ty;
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    graph.name = "chain";
    graph.n_node = N_NODES;
    graph.node = pnodes;
    graph.n_input = 1;
    graph.input = px;
    graph.n_output = 1;
    graph.output = py;
    uint8_t *bytes = NULL;
    size_t len = onnx_model_pack(&bytes, &graph, "", 17);
    struct engine_model *m = NULL;
    int rc = engine_model_load_buffer(&m, bytes, len, "chain.onnx");
    free(bytes);
    CHECK_EQ_INT(rc, 0);
    static float x[32 * 64];
    for (int i = 0; i < 32 * 64; i++)
        x[i] = (float)((i * 37) % 101) / 25.0f - 2.0f;
    struct arena arena;
    arena_init(&arena, 0, 0);
    size_t arena_first = 0, arena_planned = 0;
    for (int round = 0; round < 5; round++) {
        int64_t n = round == 2 ? 5 : 32; /* another batch between planned runs: the arena */
        struct tensor in = {.type = TENSOR_FLOAT, .rank = 2, .dims = {n, 64}, .data = x}, out;
        arena_reset(&arena);
        CHECK_EQ_INT(engine_run(m, &arena, &in, &out), 0);
        CHECK_EQ_INT(out.dims[0], n);
        for (int64_t i = 0; i < n * 64; i++) {
            float r = x[i] > 0 ? x[i] : 0, want = r - 1 / (1 + expf(-r));
            CHECK_NEAR(((float *)out.data)[i], want > 0 ? want : 0, 1e-6);
        }
        if (round == 0)
            arena_first = arena.used;
        if (round == 3)
            arena_planned = arena.used;
    }
    size_t slab, unplanned;
    engine_memory_plan(m, &slab, &unplanned);
    /* a, c, e, d: 8 KiB each; a (with b) lives to d, c dies at e, e at d: three buffers at most */
    CHECK(slab > 0 && slab <= 3 * (32 * 64 * 4 + 64));
    CHECK(unplanned >= 4 * 32 * 64 * 4);
    CHECK(arena_planned + unplanned <= arena_first + 64 * 4);
    CHECK(arena_planned < arena_first);
    arena_release(&arena);
    engine_model_free(m);
}

/* The optimized backend packs a constant MatMulInteger weight once and keeps
 * it with the model: runs after the first must use it and stay exact, and a
 * weight fed as an input (not an initializer) must never come from the cache. */
TEST(integer_matmul_weights_packed_once_stay_exact)
{
    int8_t w[5 * 3] = {1, -2, 3, 4, -5, 6, -7, 8, 127, -128, 0, 9, 10, -11, 12};
    Onnx__TensorShapeProto__Dimension dn = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT,
                                      dk = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT, *pd[] = {&dn, &dk};
    dn.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    dn.dim_param = "N";
    dk.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    dk.dim_value = 5;
    Onnx__TensorShapeProto shape = ONNX__TENSOR_SHAPE_PROTO__INIT;
    shape.n_dim = 2;
    shape.dim = pd;
    Onnx__TypeProto__Tensor tx = ONNX__TYPE_PROTO__TENSOR__INIT, ty = ONNX__TYPE_PROTO__TENSOR__INIT;
    tx.has_elem_type = ty.has_elem_type = 1;
    tx.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__UINT8;
    ty.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
    tx.shape = &shape;
    Onnx__TypeProto yx = ONNX__TYPE_PROTO__INIT, yy = ONNX__TYPE_PROTO__INIT;
    yx.value_case = yy.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    yx.tensor_type = &tx;
    yy.tensor_type = &ty;
    Onnx__ValueInfoProto vx = ONNX__VALUE_INFO_PROTO__INIT, vy = ONNX__VALUE_INFO_PROTO__INIT;
    vx.name = "x";
    vx.type = &yx;
    vy.name = "y";
    vy.type = &yy;
    int64_t wdims[] = {5, 3};
    Onnx__TensorProto wt = ONNX__TENSOR_PROTO__INIT;
    wt.name = "w";
    wt.has_data_type = 1;
    wt.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT8;
    wt.n_dims = 2;
    wt.dims = wdims;
    wt.has_raw_data = 1;
    wt.raw_data.len = sizeof w;
    wt.raw_data.data = (uint8_t *)w;
    Onnx__TensorProto *inits[] = {&wt};
    char *node_in[] = {"x", "w"}, *node_out[] = {"y"};
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
    node.op_type = "MatMulInteger";
    node.n_input = 2;
    node.input = node_in;
    node.n_output = 1;
    node.output = node_out;
    Onnx__NodeProto *nodes[] = {&node};
    Onnx__ValueInfoProto *ins[] = {&vx}, *outs[] = {&vy};
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    graph.name = "q";
    graph.n_node = 1;
    graph.node = nodes;
    graph.n_input = 1;
    graph.input = ins;
    graph.n_output = 1;
    graph.output = outs;
    graph.n_initializer = 1;
    graph.initializer = inits;
    uint8_t *bytes = NULL;
    size_t len = onnx_model_pack(&bytes, &graph, "", 13);
    struct engine_model *m = NULL;
    int rc = engine_model_load_buffer(&m, bytes, len, "q.onnx");
    free(bytes);
    CHECK_EQ_INT(rc, 0);
    struct arena arena;
    arena_init(&arena, 0, 0);
    for (int round = 0; round < 3; round++) {
        uint8_t x[8 * 5];
        for (int i = 0; i < 8 * 5; i++)
            x[i] = (uint8_t)(i * 37 + round * 101);
        int64_t n = round == 1 ? 3 : 8;
        struct tensor in = {.type = TENSOR_UINT8, .rank = 2, .dims = {n, 5}, .data = x}, out;
        arena_reset(&arena);
        CHECK_EQ_INT(engine_run(m, &arena, &in, &out), 0);
        CHECK_EQ_INT(out.type, TENSOR_INT32);
        for (int64_t i = 0; i < n; i++)
            for (int j = 0; j < 3; j++) {
                int32_t want = 0;
                for (int p = 0; p < 5; p++)
                    want += x[i * 5 + p] * w[p * 3 + j];
                CHECK_EQ_INT(((int32_t *)out.data)[i * 3 + j], want);
            }
    }
    arena_release(&arena);
    engine_model_free(m);
}

/* ---- fusion: a multi-node graph run fused (backend "auto") and node by node ("cpu-ref") ---- */

struct gnode {
    const char *op;
    const char *in[3];
    int n_in;
    const char *out;
    int64_t pads; /* Conv: the same pad on every side (0: none) */
};

struct ginit {
    const char *name;
    int rank;
    int64_t dims[4];
    float *data;
};

/* One float input x of the given shape, one output y, opset 13. */
static size_t pack_graph(uint8_t **out, const struct gnode *gn, int n_nodes, const struct ginit *gi, int n_inits,
                         int rank, const int64_t *dims)
{
    Onnx__TensorShapeProto__Dimension d[4], *pd[4];
    for (int i = 0; i < rank; i++) {
        onnx__tensor_shape_proto__dimension__init(&d[i]);
        d[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d[i].dim_value = dims[i];
        pd[i] = &d[i];
    }
    Onnx__TensorShapeProto shape = ONNX__TENSOR_SHAPE_PROTO__INIT;
    shape.n_dim = (size_t)rank;
    shape.dim = pd;
    Onnx__TypeProto__Tensor tt = ONNX__TYPE_PROTO__TENSOR__INIT, to = ONNX__TYPE_PROTO__TENSOR__INIT;
    tt.has_elem_type = to.has_elem_type = 1;
    tt.elem_type = to.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt.shape = &shape;
    Onnx__TypeProto yt = ONNX__TYPE_PROTO__INIT, yo = ONNX__TYPE_PROTO__INIT;
    yt.value_case = yo.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    yt.tensor_type = &tt;
    yo.tensor_type = &to;
    Onnx__ValueInfoProto vx = ONNX__VALUE_INFO_PROTO__INIT, vy = ONNX__VALUE_INFO_PROTO__INIT;
    vx.name = "x";
    vx.type = &yt;
    vy.name = "y";
    vy.type = &yo;
    Onnx__NodeProto nodes[16], *pn[16];
    Onnx__AttributeProto pads[16], *pa[16];
    int64_t pad_values[4];
    for (int i = 0; i < n_nodes; i++) {
        onnx__node_proto__init(&nodes[i]);
        nodes[i].op_type = (char *)gn[i].op;
        nodes[i].n_input = (size_t)gn[i].n_in;
        nodes[i].input = (char **)gn[i].in;
        nodes[i].n_output = 1;
        nodes[i].output = (char **)&gn[i].out;
        if (gn[i].pads) {
            for (int k = 0; k < 4; k++)
                pad_values[k] = gn[i].pads;
            onnx__attribute_proto__init(&pads[i]);
            pads[i].name = "pads";
            pads[i].has_type = 1;
            pads[i].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
            pads[i].n_ints = 4;
            pads[i].ints = pad_values;
            pa[i] = &pads[i];
            nodes[i].n_attribute = 1;
            nodes[i].attribute = &pa[i];
        }
        pn[i] = &nodes[i];
    }
    Onnx__TensorProto inits[16], *pi[16];
    for (int i = 0; i < n_inits; i++) {
        onnx__tensor_proto__init(&inits[i]);
        inits[i].name = (char *)gi[i].name;
        inits[i].has_data_type = 1;
        inits[i].data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
        inits[i].n_dims = (size_t)gi[i].rank;
        inits[i].dims = (int64_t *)gi[i].dims;
        int64_t count = 1;
        for (int k = 0; k < gi[i].rank; k++)
            count *= gi[i].dims[k];
        inits[i].has_raw_data = 1;
        inits[i].raw_data.len = (size_t)count * sizeof(float);
        inits[i].raw_data.data = (uint8_t *)gi[i].data;
        pi[i] = &inits[i];
    }
    Onnx__ValueInfoProto *ins[] = {&vx}, *outs[] = {&vy};
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    graph.name = "fused";
    graph.n_node = (size_t)n_nodes;
    graph.node = pn;
    graph.n_input = 1;
    graph.input = ins;
    graph.n_output = 1;
    graph.output = outs;
    graph.n_initializer = (size_t)n_inits;
    graph.initializer = pi;
    size_t len = onnx_model_pack(out, &graph, "", 13);
    return len;
}

static unsigned long all_runs(void)
{
    unsigned long n = backend_runs(-1);
    for (int i = 0; i < backend_count(); i++)
        n += backend_runs(i);
    return n;
}

static float *filled(float *v, int64_t n, float scale, int seed)
{
    for (int64_t i = 0; i < n; i++)
        v[i] = scale * (float)sin((double)(i * 7 + seed) * 0.37);
    return v;
}

/* Loads the graph twice (reference kernels only, then the default backends with fusion), runs both
 * on x, compares (rtol 1e-4) and returns the number of kernel calls of the fused run. */
static unsigned long fused_agrees(const struct gnode *gn, int n_nodes, const struct ginit *gi, int n_inits, int rank,
                                  const int64_t *dims, float *x, int *agree)
{
    uint8_t *bytes;
    size_t len = pack_graph(&bytes, gn, n_nodes, gi, n_inits, rank, dims);
    struct engine_model *ref = NULL, *fast = NULL;
    *agree = 0;
    int rc = backend_configure("cpu-ref", 2);
    if (!rc)
        rc = engine_model_load_buffer(&ref, bytes, len, "fused.onnx");
    backend_configure("auto", 2);
    if (!rc)
        rc = engine_model_load_buffer(&fast, bytes, len, "fused.onnx");
    free(bytes);
    unsigned long calls = 0;
    struct arena a1, a2;
    arena_init(&a1, 0, 0);
    arena_init(&a2, 0, 0);
    struct tensor in = {.type = TENSOR_FLOAT, .rank = rank, .data = x}, want, got;
    for (int i = 0; i < rank; i++)
        in.dims[i] = dims[i];
    if (!rc && !(rc = engine_run(ref, &a1, &in, &want))) {
        for (int round = 0; round < 2 && !rc; round++) { /* twice: the fused plan is reused */
            unsigned long before = all_runs();
            arena_reset(&a2);
            rc = engine_run(fast, &a2, &in, &got);
            calls = all_runs() - before;
        }
    }
    if (!rc && got.rank == want.rank && tensor_element_count(&got) == tensor_element_count(&want)) {
        *agree = 1;
        const float *g = got.data, *w = want.data;
        for (int64_t i = 0; i < tensor_element_count(&want); i++)
            if (!(fabsf(g[i] - w[i]) <= 1e-4f * fabsf(w[i]) + 1e-5f)) {
                printf("# element %lld: fused %.9g, reference %.9g\n", (long long)i, g[i], w[i]);
                *agree = 0;
                break;
            }
    }
    arena_release(&a1);
    arena_release(&a2);
    engine_model_free(ref);
    engine_model_free(fast);
    return calls;
}

TEST(fused_graphs_answer_like_the_reference)
{
    /* Transformer feed-forward: MatMul → Add(bias) → Gelu as exporters write it (Div, Erf, Add,
     * Mul, Mul) → MatMul → Add(bias) → Add(residual x) → Clip: two fused kernels, no other calls. */
    static float w1[16 * 40], b1[40], w2[40 * 16], b2[16], x[5 * 16];
    static float sqrt2 = 1.41421356f, one = 1.0f, half = 0.5f, lo = -0.3f, hi = 0.4f;
    struct ginit inits[] = {
        {"w1", 2, {16, 40}, filled(w1, 16 * 40, 0.3f, 1)}, {"b1", 1, {40}, filled(b1, 40, 0.2f, 2)},
        {"w2", 2, {40, 16}, filled(w2, 40 * 16, 0.3f, 3)}, {"b2", 1, {16}, filled(b2, 16, 0.2f, 4)},
        {"sqrt2", 0, {0}, &sqrt2},                           {"one", 0, {0}, &one},
        {"half", 0, {0}, &half},                             {"lo", 0, {0}, &lo},
        {"hi", 0, {0}, &hi},
    };
    struct gnode ffn[] = {
        {"MatMul", {"x", "w1"}, 2, "m1", 0},    {"Add", {"m1", "b1"}, 2, "h", 0},
        {"Div", {"h", "sqrt2"}, 2, "d", 0},     {"Erf", {"d"}, 1, "e", 0},
        {"Add", {"e", "one"}, 2, "a", 0},       {"Mul", {"h", "a"}, 2, "hm", 0},
        {"Mul", {"hm", "half"}, 2, "g", 0},     {"MatMul", {"g", "w2"}, 2, "m2", 0},
        {"Add", {"b2", "m2"}, 2, "o", 0},       {"Add", {"o", "x"}, 2, "r", 0},
        {"Clip", {"r", "lo", "hi"}, 3, "y", 0},
    };
    int64_t xd[] = {5, 16};
    int agree;
    unsigned long calls = fused_agrees(ffn, 11, inits, 9, 2, xd, filled(x, 5 * 16, 1.0f, 5), &agree);
    CHECK(agree);
    CHECK_EQ_INT((int)calls, 2);
    /* The other orders exporters write Gelu in: 0.5 first, (0.5 · x) · (1 + erf), and 0.5 on the
     * erf branch, x · (0.5 · (1 + erf)), with x / √2 as a Mul by 1/√2: each folds the same way. */
    static float inv_sqrt2 = 0.70710678f;
    struct ginit inits2[] = {inits[0], inits[1], inits[2], inits[3], {"inv_sqrt2", 0, {0}, &inv_sqrt2},
                             inits[5], inits[6], inits[7], inits[8]};
    struct gnode half_first[] = {
        {"MatMul", {"x", "w1"}, 2, "m1", 0}, {"Add", {"m1", "b1"}, 2, "h", 0},
        {"Mul", {"half", "h"}, 2, "hh", 0},  {"Mul", {"h", "inv_sqrt2"}, 2, "d", 0},
        {"Erf", {"d"}, 1, "e", 0},           {"Add", {"one", "e"}, 2, "a", 0},
        {"Mul", {"a", "hh"}, 2, "g", 0},     {"MatMul", {"g", "w2"}, 2, "m2", 0},
        {"Add", {"b2", "m2"}, 2, "o", 0},    {"Add", {"o", "x"}, 2, "r", 0},
        {"Clip", {"r", "lo", "hi"}, 3, "y", 0},
    };
    calls = fused_agrees(half_first, 11, inits2, 9, 2, xd, x, &agree);
    CHECK(agree);
    CHECK_EQ_INT((int)calls, 2);
    struct gnode half_on_erf[] = {
        {"MatMul", {"x", "w1"}, 2, "m1", 0}, {"Add", {"m1", "b1"}, 2, "h", 0},
        {"Div", {"h", "sqrt2"}, 2, "d", 0},  {"Erf", {"d"}, 1, "e", 0},
        {"Add", {"e", "one"}, 2, "a", 0},    {"Mul", {"a", "half"}, 2, "ah", 0},
        {"Mul", {"h", "ah"}, 2, "g", 0},     {"MatMul", {"g", "w2"}, 2, "m2", 0},
        {"Add", {"b2", "m2"}, 2, "o", 0},    {"Add", {"o", "x"}, 2, "r", 0},
        {"Clip", {"r", "lo", "hi"}, 3, "y", 0},
    };
    calls = fused_agrees(half_on_erf, 11, inits, 9, 2, xd, x, &agree);
    CHECK(agree);
    CHECK_EQ_INT((int)calls, 2);
    /* ResNet basic block: Conv(bias) → Relu, Conv → Add(bias [C,1,1]) → Add(residual) → Relu;
     * the block's input also feeds the residual, so the first Conv's input has two readers. */
    static float cw1[6 * 6 * 9], cb1[6], cw2[6 * 6 * 9], cb2[6], cx[2 * 6 * 7 * 5];
    struct ginit cinits[] = {
        {"w1", 4, {6, 6, 3, 3}, filled(cw1, 6 * 6 * 9, 0.3f, 6)}, {"b1", 1, {6}, filled(cb1, 6, 0.2f, 7)},
        {"w2", 4, {6, 6, 3, 3}, filled(cw2, 6 * 6 * 9, 0.3f, 8)}, {"b2", 3, {6, 1, 1}, filled(cb2, 6, 0.2f, 9)},
    };
    struct gnode block[] = {
        {"Conv", {"x", "w1", "b1"}, 3, "c1", 1}, {"Relu", {"c1"}, 1, "r1", 0},
        {"Conv", {"r1", "w2"}, 2, "c2", 1},      {"Add", {"c2", "b2"}, 2, "c2b", 0},
        {"Add", {"x", "c2b"}, 2, "s", 0},        {"Relu", {"s"}, 1, "y", 0},
    };
    int64_t cd[] = {2, 6, 7, 5};
    calls = fused_agrees(block, 6, cinits, 4, 4, cd, filled(cx, 2 * 6 * 7 * 5, 1.0f, 10), &agree);
    CHECK(agree);
    CHECK_EQ_INT((int)calls, 2);
    /* A value read twice is not folded: the Relu's input is also the output's other operand. */
    struct gnode shared[] = {
        {"MatMul", {"x", "w1"}, 2, "m1", 0}, {"Relu", {"m1"}, 1, "r", 0}, {"Add", {"r", "m1"}, 2, "y", 0}};
    calls = fused_agrees(shared, 3, inits, 1, 2, xd, x, &agree);
    CHECK(agree);
    CHECK_EQ_INT((int)calls, 3);
}

int main(void)
{
    RUN(ridge_example_matches_numpy);
    RUN(wrong_feature_count_is_rejected);
    RUN(add_broadcasts_like_numpy);
    RUN(matmul_batches_and_vectors);
    RUN(corrupt_and_unsupported_models_are_refused);
    RUN(softmax_follows_the_model_opset);
    RUN(optional_outputs_may_be_left_unnamed);
    RUN(integer_division_by_zero_does_not_trap);
    RUN(stores_saturate_instead_of_overflowing);
    RUN(tree_ensembles_answer_the_same_from_their_cache);
    RUN(tree_ensembles_match_a_direct_walk);
    RUN(memory_plan_reuses_buffers_and_keeps_views_alive);
    RUN(integer_matmul_weights_packed_once_stay_exact);
    RUN(fused_graphs_answer_like_the_reference);
    TEST_EXIT();
}
