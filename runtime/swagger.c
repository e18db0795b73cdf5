#include "swagger.h"

#include "common/arena.h"
#include "common/err.h"
#include "common/path.h"
#include "common/json.h"

#include <stdio.h>
#include <string.h>

static void schema_of(struct buf *out, const struct json_value *v)
{
    switch (v->type) {
    case JSON_NULL: buf_append_str(out, "{}"); break;
    case JSON_BOOL: buf_append_str(out, "{\"type\": \"boolean\"}"); break;
    case JSON_NUMBER: buf_append_str(out, "{\"type\": \"number\", \"format\": \"double\"}"); break;
    case JSON_STRING: buf_append_str(out, "{\"type\": \"string\"}"); break;
    case JSON_ARRAY:
        buf_append_str(out, "{\"type\": \"array\", \"items\": ");
        if (v->child)
            schema_of(out, v->child);
        else
            buf_append_str(out, "{}");
        buf_append_str(out, "}");
        break;
    case JSON_OBJECT:
        buf_append_str(out, "{\"type\": \"object\", \"properties\": {");
        for (const struct json_value *c = v->child; c; c = c->next) {
            json_write_string(out, c->key, c->key_len);
            buf_append_str(out, ": ");
            schema_of(out, c);
            if (c->next)
                buf_append_str(out, ", ");
        }
        buf_append_str(out, "}}");
        break;
    }
}

int swagger_schema_of_sample(struct buf *out, const char *sample, size_t len, const char *source)
{
    struct arena arena;
    arena_init(&arena, 4096, 64u << 20);
    struct json_value *v = NULL;
    int rc = json_parse(&v, &arena, sample, len, source);
    if (!rc)
        schema_of(out, v);
    arena_release(&arena);
    return rc;
}

/* Loads dir/name into out when it exists and is valid JSON. */
static int load_user_file(struct buf *out, const char *dir, const char *name)
{
    if (!dir)
        return 0;
    char path[4096];
    path_join_into(path, sizeof path, dir, name);
    struct buf text;
    buf_init(&text, 16u << 20);
    if (buf_read_file(&text, path) != 0) {
        buf_release(&text);
        err_clear();
        return 0;
    }
    struct arena arena;
    arena_init(&arena, 4096, 64u << 20);
    struct json_value *v = NULL;
    int rc = json_parse(&v, &arena, text.data ? text.data : "", text.len, path);
    arena_release(&arena);
    if (rc) {
        buf_release(&text);
        return rc;
    }
    buf_reset(out);
    buf_append(out, text.data, text.len);
    buf_release(&text);
    return 1;
}

static void write_schema_with_example(struct buf *out, const char *schema, const char *sample)
{
    const char *s = schema ? schema : "{}";
    if (!sample) {
        buf_append_str(out, s);
        return;
    }
    /* Insert "example" into the schema object: {"example": SAMPLE, <rest>}. */
    const char *brace = strchr(s, '{');
    buf_append_str(out, "{\"example\": ");
    buf_append_str(out, sample);
    const char *rest = brace ? brace + 1 : "}";
    while (*rest == ' ')
        rest++;
    buf_append_str(out, *rest == '}' ? "" : ", ");
    buf_append_str(out, rest);
}

static void render(struct buf *out, const struct swagger_source *src, const char *in_schema, const char *out_schema,
                   int v3, const char *openapi)
{
    const char *ref = v3 ? "#/components/schemas/" : "#/definitions/";
    if (v3)
        buf_appendf(out, "{\"openapi\": \"%s\", ", openapi);
    else
        buf_append_str(out, "{\"swagger\": \"2.0\", ");
    buf_append_str(out, "\"info\": {\"title\": ");
    json_write_string(out, src->title, strlen(src->title));
    buf_append_str(out, ", \"description\": \"API specification for the Azure Machine Learning service ");
    buf_append_str(out, "served by amlserve\", \"version\": \"1.0\"}, ");
    if (!v3)
        buf_append_str(out,
                       "\"schemes\": [\"http\"], \"consumes\": [\"application/json\"], "
                       "\"produces\": [\"application/json\"], "
                       "\"securityDefinitions\": {\"Bearer\": {\"type\": \"apiKey\", \"name\": "
                       "\"Authorization\", \"in\": \"header\", \"description\": \"For example: Bearer abc123\"}}, ");
    buf_append_str(out, "\"paths\": {");
    buf_append_str(out, "\"/\": {\"get\": {\"operationId\": \"ServiceHealthCheck\", \"description\": "
                        "\"Simple health check endpoint to ensure the service is up at any given point.\", "
                        "\"responses\": {\"200\": {\"description\": \"If service is up and running, this response "
                        "will be returned with the content 'Healthy'\"");
    buf_append_str(out, v3 ? ", \"content\": {\"text/plain\": {\"schema\": {\"type\": \"string\"}}}}}}}, "
                           : ", \"schema\": {\"type\": \"string\"}}}}}, ");
    buf_append_str(out,
                   "\"/score\": {\"post\": {\"operationId\": \"RunMLService\", \"description\": "
                   "\"Run web service's model and get the prediction output\", \"security\": [{\"Bearer\": []}], ");
    if (v3)
        buf_appendf(out,
                    "\"requestBody\": {\"required\": true, \"content\": {\"application/json\": "
                    "{\"schema\": {\"$ref\": \"%sServiceInput\"}}}}, ",
                    ref);
    else
        buf_appendf(out,
                    "\"parameters\": [{\"name\": \"serviceInputPayload\", \"in\": \"body\", \"description\": "
                    "\"The input payload for executing the real-time machine learning service.\", "
                    "\"schema\": {\"$ref\": \"%sServiceInput\"}}], ",
                    ref);
    const char *shape = v3 ? "\"content\": {\"application/json\": {\"schema\": {\"$ref\": \"%s%s\"}}}"
                           : "\"schema\": {\"$ref\": \"%s%s\"}";
    buf_append_str(out, "\"responses\": {\"200\": {\"description\": \"The service processed the input correctly "
                        "and provided a result prediction, if applicable.\", ");
    buf_appendf(out, shape, ref, "ServiceOutput");
    buf_append_str(out, "}, \"default\": {\"description\": \"The service failed to execute due to an error.\", ");
    buf_appendf(out, shape, ref, "ErrorResponse");
    buf_append_str(out, "}}}}, ");
    buf_append_str(out,
                   "\"/swagger.json\": {\"get\": {\"operationId\": \"GetSwaggerSpec\", \"description\": "
                   "\"Get the Swagger specification.\", \"parameters\": [{\"name\": \"version\", \"in\": \"query\", ");
    buf_append_str(out, v3 ? "\"schema\": {\"type\": \"string\", \"enum\": [\"2\", \"3\", \"3.1\"]}}], "
                           : "\"type\": \"string\", \"enum\": [\"2\", \"3\", \"3.1\"]}], ");
    buf_append_str(out, "\"responses\": {\"200\": {\"description\": \"The Swagger specification\"}}}}}, ");
    buf_append_str(out, v3 ? "\"components\": {\"securitySchemes\": {\"Bearer\": {\"type\": \"http\", \"scheme\": "
                             "\"bearer\"}}, \"schemas\": {"
                           : "\"definitions\": {");
    buf_append_str(out, "\"ServiceInput\": ");
    write_schema_with_example(out, in_schema, src->input_sample);
    buf_append_str(out, ", \"ServiceOutput\": ");
    write_schema_with_example(out, out_schema, src->output_sample);
    buf_append_str(out, ", \"ErrorResponse\": {\"type\": \"object\", \"properties\": {\"message\": "
                        "{\"type\": \"string\"}}}}");
    buf_append_str(out, v3 ? "}}\n" : "}\n");
}

int swagger_init(struct swagger *s, const struct swagger_source *src)
{
    buf_init(&s->v2, 0);
    buf_init(&s->v3, 0);
    buf_init(&s->v31, 0);
    struct buf in_schema, out_schema;
    buf_init(&in_schema, 0);
    buf_init(&out_schema, 0);
    int rc = 0;
    const char *in = src->input_schema, *outp = src->output_schema;
    if (src->input_sample) {
        if ((rc = swagger_schema_of_sample(&in_schema, src->input_sample, strlen(src->input_sample), "input sample")))
            goto done;
        in = in_schema.data;
    }
    if (src->output_sample) {
        if ((rc = swagger_schema_of_sample(&out_schema, src->output_sample, strlen(src->output_sample),
                                           "output sample")))
            goto done;
        outp = out_schema.data;
    }
    render(&s->v2, src, in, outp, 0, NULL);
    render(&s->v3, src, in, outp, 1, "3.0.1");
    render(&s->v31, src, in, outp, 1, "3.1.0");
    /* A user's files win, as in Azure ML. */
    if ((rc = load_user_file(&s->v2, src->user_dir, "swagger2.json")) < 0 ||
        (rc == 0 && (rc = load_user_file(&s->v2, src->user_dir, "swagger.json")) < 0))
        goto done;
    s->no_v2 = src->no_v2 && rc == 0;
    if ((rc = load_user_file(&s->v3, src->user_dir, "swagger3.json")) < 0)
        goto done;
    if (rc > 0) {
        buf_reset(&s->v31);
        buf_append(&s->v31, s->v3.data, s->v3.len);
    }
    rc = 0;
done:
    buf_release(&in_schema);
    buf_release(&out_schema);
    return rc;
}

void swagger_release(struct swagger *s)
{
    buf_release(&s->v2);
    buf_release(&s->v3);
    buf_release(&s->v31);
}

const struct buf *swagger_document(const struct swagger *s, const char *version)
{
    if (!version || !version[0] || strcmp(version, "2") == 0 || strcmp(version, "2.0") == 0)
        return s->no_v2 ? NULL : &s->v2;
    if (strcmp(version, "3") == 0 || strcmp(version, "3.0") == 0)
        return &s->v3;
    if (strcmp(version, "3.1") == 0)
        return &s->v31;
    return NULL;
}

void swagger_refusal(const struct swagger *s, const char *version, char *out, size_t size)
{
    const char *v = version && version[0] ? version : "2";
    const char *supported = s->no_v2 ? "3, 3.1" : "2, 3, 3.1";
    if (s->no_v2 && (strcmp(v, "2") == 0 || strcmp(v, "2.0") == 0))
        snprintf(out, size,
                 "Swagger version [%s] is not supported for the scoring script. Supported swagger versions: [%s].", v,
                 supported);
    else
        snprintf(out, size, "Swagger version [%.16s] is not valid. Supported versions: [%s].", v, supported);
}
