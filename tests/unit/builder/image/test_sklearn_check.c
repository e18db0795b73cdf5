/* The exactness check of converted scikit-learn models: check.json parsing
 * (every malformed field named) and the comparison with the engine's outputs
 * (labels exactly, floats within rtol 1e-5 of the output's scale). The models
 * are tiny ONNX graphs written by the converter's own writer
 * (builder/image/sklearn/onnx_writer.py): data [N, 2] double -> Identity
 * (doubles back) or Cast to int64 (labels). */
#include "builder/image/sklearn_check.h"
#include "common/err.h"
#include "test.h"

static const unsigned char identity_model[] = {
    8,   8,   18,  1,  116, 26,  1,  49,  58, 94, 10,  29, 10,  4,   100, 97,  116, 97,  18,  7,   112, 114,
    101, 100, 105, 99, 116, 26,  2,  110, 48, 34, 8,   73, 100, 101, 110, 116, 105, 116, 121, 18,  7,   115,
    107, 108, 101, 97, 114, 110, 90, 23,  10, 4,  100, 97, 116, 97,  18,  15,  10,  13,  8,   11,  18,  9,
    10,  3,   18,  1,  78,  10,  2,  8,   2,  98, 27,  10, 7,   112, 114, 101, 100, 105, 99,  116, 18,  16,
    10,  14,  8,   11, 18,  10,  10, 3,   18, 1,  78,  10, 3,   18,  1,   75,  66,  2,   16,  13};
static const unsigned char cast_model[] = {
    8,   8,   18, 1,   116, 26,  1,   49,  58, 101, 10,  36, 10,  4,   100, 97,  116, 97,  18,  7,   112, 114, 101,
    100, 105, 99, 116, 26,  2,   110, 48,  34, 4,   67,  97, 115, 116, 42,  9,   10,  2,   116, 111, 24,  7,   160,
    1,   2,   18, 7,   115, 107, 108, 101, 97, 114, 110, 90, 23,  10,  4,   100, 97,  116, 97,  18,  15,  10,  13,
    8,   11,  18, 9,   10,  3,   18,  1,   78, 10,  2,   8,  2,   98,  27,  10,  7,   112, 114, 101, 100, 105, 99,
    116, 18,  16, 10,  14,  8,   7,   18,  10, 10,  3,   18, 1,   78,  10,  3,   18,  1,   75,  66,  2,   16,  13};

static struct arena arena;
static struct sklearn_check check;

static int parse(const char *text)
{
    err_clear();
    arena_reset(&arena);
    return sklearn_check_parse(&check, &arena, text, strlen(text), "check.json");
}

static int compare(const unsigned char *model_bytes, size_t len, const char *text)
{
    struct engine_model *m = NULL;
    int rc = parse(text);
    if (!rc)
        rc = engine_model_load_buffer(&m, model_bytes, len, "model");
    if (!rc)
        rc = sklearn_check_compare(&check, m, &arena);
    engine_model_free(m);
    return rc;
}

TEST(parses_rows_and_outputs)
{
    CHECK_EQ_INT(parse("{\"input\": [[1, 2], [3, 4], [5, NaN]], \"outputs\": {\"predict\": {\"shape\": [3], "
                       "\"values\": [0, 1, 1]}, \"predict_proba\": {\"shape\": [3, 2], \"values\": [1, 0, 0, 1, 0.5, "
                       "0.5]}}}"),
                 0);
    CHECK_EQ_INT(check.rows, 3);
    CHECK_EQ_INT(check.cols, 2);
    CHECK(isnan(check.input[5]));
    CHECK_EQ_INT(check.n_outputs, 2);
    CHECK_STR(check.outputs[1].name, "predict_proba");
    CHECK_EQ_INT(check.outputs[1].rank, 2);
    CHECK_EQ_INT(check.outputs[1].dims[1], 2);
    CHECK(check.outputs[1].values[4] == 0.5);
}

TEST(malformed_fields_are_named)
{
    CHECK_EQ_INT(parse("[1]"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "expected an object"));
    CHECK_EQ_INT(parse("{\"input\": [[1, 2], [3]], \"outputs\": {}}"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "input[1]: expected an array of 2 numbers"));
    CHECK_EQ_INT(parse("{\"input\": [[1, \"x\"]], \"outputs\": {\"p\": {\"shape\": [1], \"values\": [1]}}}"),
                 ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "input[0][1]: expected a number"));
    CHECK_EQ_INT(parse("{\"input\": [[1, 2]], \"outputs\": {}}"), ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "outputs: expected an object of 1 to 16 outputs"));
    CHECK_EQ_INT(parse("{\"input\": [[1, 2]], \"outputs\": {\"p\": {\"shape\": [1, 2], \"values\": [1]}}}"),
                 ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "outputs.p: expected an array of 2 numbers"));
    CHECK_EQ_INT(parse("{\"input\": [[1, 2]], \"outputs\": {\"p\": {\"shape\": [2], \"values\": [1, 2]}}}"),
                 ERR_INVALID);
    CHECK(strstr(err_message(ERR_INVALID), "outputs.p: 2 rows for 1 input rows"));
    CHECK_EQ_INT(parse("{\"input\": [[1, 2]], \"outputs\": {\"p\": {\"shape\": [-1], \"values\": []}}}"), ERR_INVALID);
    CHECK_EQ_INT(parse("{\"input\": [[1, 2]], \"outputs\": {\"p\": {\"shape\": [1e12, 1e12], \"values\": []}}}"),
                 ERR_INVALID);
    CHECK_EQ_INT(parse("{\"input\": [], \"outputs\": {}}"), ERR_INVALID);
}

TEST(floats_within_tolerance_pass)
{
    CHECK_EQ_INT(compare(identity_model, sizeof identity_model,
                         "{\"input\": [[1, 2], [100, 0]], \"outputs\": {\"predict\": {\"shape\": [2, 2], "
                         "\"values\": [1.000001, 2, 100.0005, 0.0001]}}}"),
                 0);
}

TEST(floats_beyond_tolerance_name_the_row_and_column)
{
    CHECK_EQ_INT(compare(identity_model, sizeof identity_model,
                         "{\"input\": [[1, 2], [3, 4]], \"outputs\": {\"predict\": {\"shape\": [2, 2], "
                         "\"values\": [1, 2, 3.001, 4]}}}"),
                 ERR_MISMATCH);
    CHECK(strstr(err_message(ERR_MISMATCH), "output 'predict' row 1 column 0: the converted model gives 3, "
                                            "scikit-learn 3.0009999999999999 (beyond rtol 1e-5)"));
}

TEST(labels_must_match_exactly)
{
    CHECK_EQ_INT(compare(cast_model, sizeof cast_model,
                         "{\"input\": [[1, 2], [3, 4]], \"outputs\": {\"predict\": {\"shape\": [2, 2], "
                         "\"values\": [1, 2, 3, 4]}}}"),
                 0);
    CHECK_EQ_INT(compare(cast_model, sizeof cast_model,
                         "{\"input\": [[1, 2], [3, 4]], \"outputs\": {\"predict\": {\"shape\": [2, 2], "
                         "\"values\": [1, 2, 3, 4.000001]}}}"),
                 ERR_MISMATCH);
    CHECK(strstr(err_message(ERR_MISMATCH), "(labels must match exactly)"));
}

TEST(shapes_and_names_must_agree)
{
    CHECK_EQ_INT(compare(identity_model, sizeof identity_model,
                         "{\"input\": [[1, 2]], \"outputs\": {\"predict\": {\"shape\": [1], \"values\": [1]}}}"),
                 ERR_MISMATCH);
    CHECK(strstr(err_message(ERR_MISMATCH), "output 'predict' has shape [1, 2], scikit-learn's has 1 rows of 1"));
    CHECK_EQ_INT(compare(identity_model, sizeof identity_model,
                         "{\"input\": [[1, 2]], \"outputs\": {\"other\": {\"shape\": [1], \"values\": [1]}}}"),
                 ERR_MISMATCH);
    CHECK(strstr(err_message(ERR_MISMATCH), "output 'predict' has no scikit-learn counterpart"));
    CHECK_EQ_INT(compare(identity_model, sizeof identity_model,
                         "{\"input\": [[1, 2, 3]], \"outputs\": {\"predict\": {\"shape\": [1], \"values\": [1]}}}"),
                 ERR_MISMATCH);
}

int main(void)
{
    arena_init(&arena, 4096, 1 << 24);
    RUN(parses_rows_and_outputs);
    RUN(malformed_fields_are_named);
    RUN(floats_within_tolerance_pass);
    RUN(floats_beyond_tolerance_name_the_row_and_column);
    RUN(labels_must_match_exactly);
    RUN(shapes_and_names_must_agree);
    arena_release(&arena);
    return test_failures ? 1 : 0;
}
