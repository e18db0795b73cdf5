/* Tensors of the Open Inference Protocol: datatype names, JSON data (flat or
 * nested) into typed elements with range checks, raw bytes, JSON out; and
 * the /v2 route table (runtime/oip.c's oip_match). */
#include "test.h"

#include "common/err.h"
#include "runtime/oip.h"
#include "runtime/oip_tensor.h"

static struct arena arena;

static int from_json(struct tensor *t, enum tensor_type type, int64_t n, const char *text)
{
    struct json_value *v;
    arena_reset(&arena);
    err_clear();
    *t = (struct tensor){.type = type, .rank = 1, .dims = {n}};
    if (json_parse(&v, &arena, text, strlen(text), "test"))
        return -100;
    return oip_tensor_from_json(t, v, &arena, "input 'x'");
}

static const char *to_json(const struct tensor *t)
{
    static struct buf b;
    buf_release(&b);
    buf_init(&b, 0);
    oip_tensor_write_json(&b, t);
    return b.data;
}

TEST(datatype_names_round_trip)
{
    enum tensor_type all[] = {TENSOR_BOOL,  TENSOR_UINT8,  TENSOR_UINT16,  TENSOR_UINT32, TENSOR_UINT64,
                              TENSOR_INT8,  TENSOR_INT16,  TENSOR_INT32,   TENSOR_INT64,  TENSOR_FLOAT16,
                              TENSOR_FLOAT, TENSOR_DOUBLE, TENSOR_BFLOAT16};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        CHECK_EQ_INT(oip_datatype_parse(oip_datatype_name(all[i])), all[i]);
    CHECK_STR(oip_datatype_name(TENSOR_FLOAT), "FP32");
    CHECK_EQ_INT(oip_datatype_parse("BYTES"), TENSOR_STRING);
    CHECK_EQ_INT(oip_datatype_parse("fp32"), TENSOR_UNDEFINED); /* case-sensitive, as the protocol says */
    CHECK(oip_datatype_name(TENSOR_SEQUENCE) == NULL);
}

TEST(json_data_flat_or_nested)
{
    struct tensor t;
    CHECK_EQ_INT(from_json(&t, TENSOR_INT32, 4, "[[1, 2], [4, 5]]"), 0);
    CHECK_STR(to_json(&t), "[1,2,4,5]");
    CHECK_EQ_INT(from_json(&t, TENSOR_INT32, 4, "[1, 2, 4, 5]"), 0);
    CHECK_STR(to_json(&t), "[1,2,4,5]");
    CHECK_EQ_INT(from_json(&t, TENSOR_BOOL, 2, "[true, false]"), 0);
    CHECK_STR(to_json(&t), "[true,false]");
    CHECK_EQ_INT(from_json(&t, TENSOR_FLOAT16, 2, "[0.5, -2]"), 0);
    CHECK_STR(to_json(&t), "[0.5,-2]");
    CHECK_EQ_INT(from_json(&t, TENSOR_UINT64, 1, "[18446744073709549568]"), 0);
    CHECK_STR(to_json(&t), "[18446744073709549568]");
    CHECK_EQ_INT(from_json(&t, TENSOR_INT64, 1, "[-9007199254740993]"), 0); /* JSON numbers are doubles */
    CHECK_EQ_INT(from_json(&t, TENSOR_FLOAT, 0, "[]"), 0);
    CHECK_STR(to_json(&t), "[]");
}

TEST(json_data_is_checked)
{
    struct tensor t;
    CHECK_EQ_INT(from_json(&t, TENSOR_INT32, 4, "[1, 2, 3]"), ERR_INVALID);
    CHECK(strstr(err_message(-1), "shape [4] needs 4 values, \"data\" has 3"));
    CHECK_EQ_INT(from_json(&t, TENSOR_INT32, 2, "[1, 2, 3]"), ERR_INVALID);
    CHECK(strstr(err_message(-1), "has more than 2"));
    CHECK_EQ_INT(from_json(&t, TENSOR_UINT8, 1, "[256]"), ERR_INVALID);
    CHECK(strstr(err_message(-1), "is not a valid UINT8"));
    CHECK_EQ_INT(from_json(&t, TENSOR_INT8, 1, "[-129]"), ERR_INVALID);
    CHECK_EQ_INT(from_json(&t, TENSOR_INT32, 1, "[1.5]"), ERR_INVALID);
    CHECK_EQ_INT(from_json(&t, TENSOR_UINT32, 1, "[-1]"), ERR_INVALID);
    CHECK_EQ_INT(from_json(&t, TENSOR_INT64, 1, "[1e19]"), ERR_INVALID);
    CHECK_EQ_INT(from_json(&t, TENSOR_BOOL, 1, "[1]"), ERR_INVALID);
    CHECK_EQ_INT(from_json(&t, TENSOR_FLOAT, 1, "[\"1\"]"), ERR_INVALID);
    CHECK(strstr(err_message(-1), "element 0 is string"));
    CHECK_EQ_INT(from_json(&t, TENSOR_FLOAT, 1, "{\"a\": 1}"), ERR_INVALID);
    CHECK_EQ_INT(from_json(&t, TENSOR_FLOAT, 1, "[null]"), ERR_INVALID);
}

TEST(raw_bytes_copy_exactly)
{
    struct tensor t = {.type = TENSOR_FLOAT, .rank = 2, .dims = {1, 2}};
    float src[2] = {1.5f, -3.25f};
    arena_reset(&arena);
    CHECK_EQ_INT(oip_tensor_from_raw(&t, src, sizeof src, &arena, "x"), 0);
    CHECK_STR(to_json(&t), "[1.5,-3.25]");
    CHECK_EQ_INT(oip_tensor_bytes(&t), 8);
    CHECK_EQ_INT(oip_tensor_from_raw(&t, src, 4, &arena, "x"), ERR_INVALID);
    struct tensor huge = {.type = TENSOR_FLOAT, .rank = 2, .dims = {1ll << 40, 1ll << 20}};
    CHECK_EQ_INT(oip_tensor_from_raw(&huge, src, 4, &arena, "x"), ERR_INVALID); /* refused before allocating */
    CHECK(huge.data == NULL);
    struct tensor b = {.type = TENSOR_BOOL, .rank = 1, .dims = {2}};
    CHECK_EQ_INT(oip_tensor_from_raw(&b, "\x00\x07", 2, &arena, "x"), 0);
    CHECK_STR(to_json(&b), "[false,true]");
}

TEST(shapes_write_dynamic_dims_as_minus_one)
{
    struct buf b;
    buf_init(&b, 0);
    struct tensor t = {.type = TENSOR_FLOAT, .rank = 2, .dims = {-1, 10}};
    oip_shape_write_json(&b, &t);
    CHECK_STR(b.data, "[-1,10]");
    buf_reset(&b);
    t.rank = -1;
    oip_shape_write_json(&b, &t);
    CHECK_STR(b.data, "[-1]");
    buf_release(&b);
}

TEST(routes_match_the_protocol_urls)
{
    struct oip_route r;
    arena_reset(&arena);
    CHECK_EQ_INT(oip_match(&r, "/score", &arena), 0);
    CHECK_EQ_INT(oip_match(&r, "/v2x", &arena), 0);
    CHECK_EQ_INT(oip_match(&r, "/v2", &arena), 1);
    CHECK_EQ_INT(r.kind, OIP_SERVER_METADATA);
    CHECK_EQ_INT(oip_match(&r, "/v2/", &arena), 1);
    CHECK_EQ_INT(r.kind, OIP_SERVER_METADATA);
    oip_match(&r, "/v2/health/live", &arena);
    CHECK_EQ_INT(r.kind, OIP_LIVE);
    oip_match(&r, "/v2/health/ready", &arena);
    CHECK_EQ_INT(r.kind, OIP_READY);
    oip_match(&r, "/v2/health/other", &arena);
    CHECK_EQ_INT(r.kind, OIP_NOT_FOUND);
    oip_match(&r, "/v2/models/m%20x", &arena);
    CHECK_EQ_INT(r.kind, OIP_MODEL_METADATA);
    CHECK_STR(r.name, "m x");
    CHECK(r.version == NULL);
    oip_match(&r, "/v2/models/m/versions/3/infer", &arena);
    CHECK_EQ_INT(r.kind, OIP_INFER);
    CHECK_STR(r.name, "m");
    CHECK_STR(r.version, "3");
    oip_match(&r, "/v2/models/m/versions/3/ready", &arena);
    CHECK_EQ_INT(r.kind, OIP_MODEL_READY);
    oip_match(&r, "/v2/models/m/versions/3", &arena);
    CHECK_EQ_INT(r.kind, OIP_MODEL_METADATA);
    oip_match(&r, "/v2/models/ready", &arena); /* a model called "ready" */
    CHECK_EQ_INT(r.kind, OIP_MODEL_METADATA);
    CHECK_STR(r.name, "ready");
    oip_match(&r, "/v2/models/m/infer/x", &arena);
    CHECK_EQ_INT(r.kind, OIP_NOT_FOUND);
    oip_match(&r, "/v2/models//infer", &arena);
    CHECK_EQ_INT(r.kind, OIP_NOT_FOUND);
    oip_match(&r, "/v2/models/m%2/infer", &arena); /* bad percent-encoding */
    CHECK_EQ_INT(r.kind, OIP_NOT_FOUND);
    oip_match(&r, "/v2/models/m%00/infer", &arena);
    CHECK_EQ_INT(r.kind, OIP_NOT_FOUND);
    oip_match(&r, "/v2/a/b/c/d/e/f/g/h", &arena);
    CHECK_EQ_INT(r.kind, OIP_NOT_FOUND);
    CHECK_EQ_INT(oip_match(&r, "/v2/models/m/infer", NULL), 1); /* no arena: the kind only */
    CHECK_EQ_INT(r.kind, OIP_INFER);
}

int main(void)
{
    arena_init(&arena, 4096, 1u << 20);
    RUN(datatype_names_round_trip);
    RUN(json_data_flat_or_nested);
    RUN(json_data_is_checked);
    RUN(raw_bytes_copy_exactly);
    RUN(shapes_write_dynamic_dims_as_minus_one);
    RUN(routes_match_the_protocol_urls);
    arena_release(&arena);
    return test_failures != 0;
}
