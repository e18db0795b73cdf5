/* The Open Inference Protocol's request parser: JSON requests, the binary
 * tensor data extension's header and sizes, and what it refuses. */
#include "test.h"

#include "common/err.h"
#include "runtime/oip_request.h"

static struct arena arena;
static struct oip_request rq;

/* Parses text (+ raw bytes when hlen is set); returns the error code. */
static int parse_with(const char *text, const char *raw, size_t raw_len, const char *hlen)
{
    static char body[4096];
    size_t len = strlen(text);
    memcpy(body, text, len);
    if (raw)
        memcpy(body + len, raw, raw_len);
    arena_reset(&arena);
    err_clear();
    return oip_request_parse(&rq, body, len + raw_len, hlen, &arena);
}

static int parse(const char *text)
{
    return parse_with(text, NULL, 0, NULL);
}

static int message_has(const char *needle)
{
    return strstr(err_message(-1), needle) != NULL;
}

TEST(parses_the_protocol_example)
{
    CHECK_EQ_INT(
        parse("{\"id\": \"42\", \"inputs\": [{\"name\": \"input0\", \"shape\": [2, 2], \"datatype\": \"UINT32\","
              " \"data\": [1, 2, 3, 4]}, {\"name\": \"input1\", \"shape\": [3], \"datatype\": \"BOOL\","
              " \"data\": [true]}], \"outputs\": [{\"name\": \"output0\"}]}"),
        0);
    CHECK_STR(rq.id, "42");
    CHECK_EQ_INT(rq.n_inputs, 2);
    CHECK_STR(rq.inputs[0].name, "input0");
    CHECK_EQ_INT(rq.inputs[0].shape.type, TENSOR_UINT32);
    CHECK_EQ_INT(rq.inputs[0].shape.rank, 2);
    CHECK_EQ_INT(rq.inputs[0].shape.dims[1], 2);
    CHECK(rq.inputs[0].data != NULL && rq.inputs[0].raw == NULL);
    CHECK_EQ_INT(rq.inputs[1].shape.type, TENSOR_BOOL);
    CHECK_EQ_INT(rq.n_outputs, 1);
    CHECK_STR(rq.outputs[0].name, "output0");
    CHECK_EQ_INT(rq.outputs[0].binary, 0);
}

TEST(binary_flags_follow_the_request_default)
{
    CHECK_EQ_INT(
        parse("{\"parameters\": {\"binary_data_output\": true}, \"inputs\": [], \"outputs\": [{\"name\": \"a\"},"
              " {\"name\": \"b\", \"parameters\": {\"binary_data\": false}}]}"),
        0);
    CHECK_EQ_INT(rq.binary_output, 1);
    CHECK_EQ_INT(rq.outputs[0].binary, 1);
    CHECK_EQ_INT(rq.outputs[1].binary, 0);
    CHECK_EQ_INT(parse("{\"inputs\": [], \"parameters\": {\"binary_data_output\": 1}}"), ERR_INVALID);
    CHECK(message_has("\"binary_data_output\" must be true or false"));
}

TEST(binary_inputs_take_their_bytes_in_order)
{
    const char *json =
        "{\"inputs\": [{\"name\": \"a\", \"shape\": [2], \"datatype\": \"FP32\", \"parameters\":"
        " {\"binary_data_size\": 8}}, {\"name\": \"j\", \"shape\": [1], \"datatype\": \"INT8\", \"data\":"
        " [1]}, {\"name\": \"b\", \"shape\": [3], \"datatype\": \"UINT8\", \"parameters\":"
        " {\"binary_data_size\": 3}}]}";
    char hlen[16];
    snprintf(hlen, sizeof hlen, "%zu", strlen(json));
    CHECK_EQ_INT(parse_with(json, "AAAAAAAABBB", 11, hlen), 0);
    CHECK_EQ_INT(rq.inputs[0].raw_len, 8);
    CHECK(memcmp(rq.inputs[0].raw, "AAAAAAAA", 8) == 0);
    CHECK(rq.inputs[1].raw == NULL);
    CHECK_EQ_INT(rq.inputs[2].raw_len, 3);
    CHECK(memcmp(rq.inputs[2].raw, "BBB", 3) == 0);
    /* Sizes that do not add up to what follows the JSON, both ways. */
    CHECK_EQ_INT(parse_with(json, "AAAAAAAABBBB", 12, hlen), ERR_INVALID);
    CHECK(message_has("12 bytes follow the JSON header but the inputs' binary_data_size parameters add up to 11"));
    CHECK_EQ_INT(parse_with(json, "AAAAAAAAB", 9, hlen), ERR_INVALID);
    CHECK(message_has("input 'b': binary_data_size 3 runs past the end of the body"));
    /* Without the header the binary sizes mean nothing. */
    CHECK_EQ_INT(parse_with(json, NULL, 0, NULL), ERR_INVALID);
    CHECK(message_has("no Inference-Header-Content-Length header"));
}

TEST(refuses_a_malformed_binary_header)
{
    const char *json = "{\"inputs\": []}";
    CHECK_EQ_INT(parse_with(json, NULL, 0, "abc"), ERR_INVALID);
    CHECK(message_has("'abc' is not a byte count"));
    CHECK_EQ_INT(parse_with(json, NULL, 0, "-1"), ERR_INVALID);
    CHECK_EQ_INT(parse_with(json, NULL, 0, ""), ERR_INVALID);
    CHECK_EQ_INT(parse_with(json, NULL, 0, "0"), ERR_INVALID);
    CHECK_EQ_INT(parse_with(json, NULL, 0, "999"), ERR_INVALID);
    CHECK(message_has("is 999 but the body has only 14 bytes"));
    CHECK_EQ_INT(parse_with(json, NULL, 0, "99999999999999999999"), ERR_INVALID);
    CHECK_EQ_INT(parse_with(json, "x", 1, "14"), ERR_INVALID); /* a stray byte after the JSON */
    CHECK_EQ_INT(parse_with(json, NULL, 0, "14"), 0);
    CHECK_EQ_INT(parse_with(json, NULL, 0, "5"), ERR_PARSE); /* the JSON cut short */
    CHECK(message_has("its first 5 bytes, as Inference-Header-Content-Length says"));
}

TEST(refuses_bad_requests_with_the_field_named)
{
    CHECK_EQ_INT(parse("[]"), ERR_INVALID);
    CHECK(message_has("must be a JSON object"));
    CHECK_EQ_INT(parse("{}"), ERR_INVALID);
    CHECK(message_has("\"inputs\" is required"));
    CHECK_EQ_INT(parse("{\"inputs\": {}}"), ERR_INVALID);
    CHECK_EQ_INT(parse("{\"id\": 1, \"inputs\": []}"), ERR_INVALID);
    CHECK_EQ_INT(parse("{\"inputs\": [1]}"), ERR_INVALID);
    CHECK(message_has("inputs[0] must be an object"));
    CHECK_EQ_INT(parse("{\"inputs\": [{\"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}]}"), ERR_INVALID);
    CHECK(message_has("inputs[0]: \"name\" is required"));
    CHECK_EQ_INT(parse("{\"inputs\": [{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP8\", \"data\": [1]}]}"),
                 ERR_INVALID);
    CHECK(message_has("input 'x': unknown datatype 'FP8'"));
    CHECK_EQ_INT(parse("{\"inputs\": [{\"name\": \"x\", \"shape\": [1], \"datatype\": \"BYTES\", \"data\": [\"a\"]}]}"),
                 ERR_UNSUPPORTED);
    CHECK(message_has("datatype BYTES is not supported"));
    CHECK_EQ_INT(parse("{\"inputs\": [{\"name\": \"x\", \"shape\": [-1], \"datatype\": \"FP32\", \"data\": [1]}]}"),
                 ERR_INVALID);
    CHECK(message_has("\"shape\" dimension 0 must be a non-negative integer"));
    CHECK_EQ_INT(parse("{\"inputs\": [{\"name\": \"x\", \"shape\": [1.5], \"datatype\": \"FP32\", \"data\": [1]}]}"),
                 ERR_INVALID);
    CHECK_EQ_INT(parse("{\"inputs\": [{\"name\": \"x\", \"shape\": [1,1,1,1,1,1,1,1,1], \"datatype\": \"FP32\","
                       " \"data\": [1]}]}"),
                 ERR_INVALID);
    CHECK(message_has("at most 8 are supported"));
    CHECK_EQ_INT(parse("{\"inputs\": [{\"name\": \"x\", \"shape\": [9007199254740992, 9007199254740992],"
                       " \"datatype\": \"FP32\", \"data\": [1]}]}"),
                 ERR_INVALID);
    CHECK(message_has("too many elements"));
    CHECK_EQ_INT(parse("{\"inputs\": [{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP32\"}]}"), ERR_INVALID);
    CHECK(message_has("\"data\" is required"));
    CHECK_EQ_INT(parse("{\"inputs\": [{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]},"
                       " {\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}]}"),
                 ERR_INVALID);
    CHECK(message_has("input 'x' is given twice"));
    CHECK_EQ_INT(parse("{\"inputs\": [], \"outputs\": [{\"parameters\": {}}]}"), ERR_INVALID);
    CHECK(message_has("outputs[0]: \"name\" is required"));
    CHECK_EQ_INT(parse("{\"inputs\": [], \"parameters\": []}"), ERR_INVALID);
    CHECK(message_has("\"parameters\" must be an object"));
}

int main(void)
{
    arena_init(&arena, 4096, 1u << 20);
    RUN(parses_the_protocol_example);
    RUN(binary_flags_follow_the_request_default);
    RUN(binary_inputs_take_their_bytes_in_order);
    RUN(refuses_a_malformed_binary_header);
    RUN(refuses_bad_requests_with_the_field_named);
    arena_release(&arena);
    return test_failures != 0;
}
