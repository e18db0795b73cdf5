/* JSON reader and writers. */
#include "test.h"

#include "common/err.h"
#include "common/json.h"

static struct arena arena;

static const struct json_value *parse(const char *text)
{
    struct json_value *v = NULL;
    err_clear();
    if (json_parse(&v, &arena, text, strlen(text), "t.json"))
        return NULL;
    return v;
}

TEST(parses_nested_documents)
{
    const struct json_value *v =
        parse(" {\"data\": [[1, 2.5e1, -3], []], \"s\": \"a\\u00e9\\n\", \"t\": true, \"n\": null}");
    CHECK(v != NULL);
    CHECK_EQ_INT(v->type, JSON_OBJECT);
    CHECK_EQ_INT(v->count, 4);
    const struct json_value *data = json_member(v, "data");
    CHECK(data && data->type == JSON_ARRAY && data->count == 2);
    CHECK_NEAR(data->child->child->next->as.number, 25, 0);
    CHECK_NEAR(data->child->child->next->next->as.number, -3, 0);
    CHECK_EQ_INT(data->child->next->count, 0);
    const struct json_value *s = json_member(v, "s");
    CHECK_STR(s->as.string.ptr, "a\xc3\xa9\n");
    CHECK_EQ_INT(json_member(v, "t")->as.boolean, 1);
    CHECK_EQ_INT(json_member(v, "n")->type, JSON_NULL);
    CHECK(json_member(v, "missing") == NULL);
}

TEST(accepts_python_non_finite_numbers)
{
    const struct json_value *v = parse("[NaN, Infinity, -Infinity]");
    CHECK(v != NULL);
    CHECK(isnan(v->child->as.number));
    CHECK(isinf(v->child->next->as.number) && v->child->next->as.number > 0);
    CHECK(isinf(v->child->next->next->as.number) && v->child->next->next->as.number < 0);
}

TEST(reports_line_and_column)
{
    CHECK(parse("{\n  \"a\": [1,\n  2,,]\n}") == NULL);
    CHECK_STR(err_message(ERR_PARSE), "t.json:3:5: expected a value");
    CHECK(parse("[1] x") == NULL);
    CHECK(strstr(err_message(ERR_PARSE), "unexpected data after the document") != NULL);
    CHECK(parse("\"abc") == NULL);
    CHECK(parse("[01]") == NULL);
    CHECK(parse("") == NULL);
    CHECK(parse("{\"a\" 1}") == NULL);
    err_clear();
}

TEST(caps_nesting_depth)
{
    char deep[JSON_MAX_DEPTH * 2 + 8];
    size_t n = 0;
    for (int i = 0; i < JSON_MAX_DEPTH + 2; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    CHECK(parse(deep) == NULL);
    CHECK(strstr(err_message(ERR_PARSE), "nesting too deep") != NULL);
    err_clear();
}

TEST(writes_escaped_strings_and_round_trip_floats)
{
    struct buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(json_write_string(&b, "a\"b\\c\n\x01", 7), 0);
    CHECK_STR(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
    buf_reset(&b);
    json_write_float(&b, 0.1f);
    CHECK_STR(b.data, "0.1");
    buf_reset(&b);
    json_write_float(&b, 74.65938568115234f);
    CHECK(strtof(b.data, NULL) == 74.65938568115234f);
    buf_reset(&b);
    json_write_double(&b, NAN);
    CHECK_STR(b.data, "NaN");
    buf_release(&b);
}

TEST(buffer_limit_is_enforced)
{
    struct buf b;
    buf_init(&b, 8);
    CHECK_EQ_INT(buf_append_str(&b, "12345678"), 0);
    CHECK_EQ_INT(buf_append_str(&b, "9"), ERR_LIMIT);
    CHECK_EQ_INT(b.len, 8);
    buf_release(&b);
}

int main(void)
{
    arena_init(&arena, 4096, 0);
    RUN(parses_nested_documents);
    RUN(accepts_python_non_finite_numbers);
    RUN(reports_line_and_column);
    RUN(caps_nesting_depth);
    RUN(writes_escaped_strings_and_round_trip_floats);
    RUN(buffer_limit_is_enforced);
    arena_release(&arena);
    TEST_EXIT();
}
