#include "builder/trust/simple_signing.h"

#include "common/arena.h"
#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <string.h>

int simple_signing_write(struct buf *out, const char *identity, const char *digest, const char *creator,
                         long long timestamp)
{
    int rc = buf_append_str(out, "{\"critical\":{\"identity\":{\"docker-reference\":");
    rc = rc ? rc : json_write_string(out, identity, strlen(identity));
    rc = rc ? rc : buf_append_str(out, "},\"image\":{\"docker-manifest-digest\":");
    rc = rc ? rc : json_write_string(out, digest, strlen(digest));
    rc = rc ? rc : buf_append_str(out, "},\"type\":\"" SIMPLE_SIGNING_TYPE "\"},\"optional\":{\"creator\":");
    rc = rc ? rc : json_write_string(out, creator, strlen(creator));
    return rc ? rc : buf_appendf(out, ",\"timestamp\":%lld}}", timestamp);
}

/* The one string member name of object obj, which must have no other member. */
static int only_string(char *out, size_t size, const struct json_value *obj, const char *name, const char *field,
                       const char *what)
{
    if (!obj || obj->type != JSON_OBJECT || obj->count != 1 || strcmp(obj->child->key, name))
        return err_set(ERR_PARSE, "%s: %s: must be an object with exactly the member \"%s\"", what, field, name);
    const struct json_value *v = obj->child;
    if (v->type != JSON_STRING || strlen(v->as.string.ptr) != v->as.string.len || v->as.string.len >= size)
        return err_set(ERR_PARSE, "%s:%d: %s.%s: must be a string (at most %zu bytes)", what, v->line, field, name,
                       size - 1);
    memcpy(out, v->as.string.ptr, v->as.string.len + 1);
    return 0;
}

int simple_signing_parse(struct simple_signing *out, const char *data, size_t len, const char *what)
{
    memset(out, 0, sizeof *out);
    out->timestamp = -1;
    if (len > SIMPLE_SIGNING_LIMIT)
        return err_set(ERR_LIMIT, "%s: payload larger than %u bytes", what, SIMPLE_SIGNING_LIMIT);
    struct arena arena;
    arena_init(&arena, 4096, 4 * SIMPLE_SIGNING_LIMIT + 65536);
    struct json_value *root = NULL;
    int rc = json_parse(&root, &arena, data, len, what);
    if (rc)
        goto done;
    if (root->type != JSON_OBJECT) {
        rc = err_set(ERR_PARSE, "%s: the payload is not a JSON object", what);
        goto done;
    }
    const struct json_value *critical = NULL, *optional = NULL;
    for (const struct json_value *m = root->child; m; m = m->next) {
        if (!strcmp(m->key, "critical") && !critical)
            critical = m;
        else if (!strcmp(m->key, "optional") && !optional)
            optional = m;
        else {
            rc = err_set(ERR_PARSE, "%s:%d: unexpected member \"%s\" (only critical and optional)", what, m->line,
                         m->key);
            goto done;
        }
    }
    if (!critical || critical->type != JSON_OBJECT || !optional) {
        rc = err_set(ERR_PARSE, "%s: critical (an object) and optional are required", what);
        goto done;
    }
    const struct json_value *type = NULL, *identity = NULL, *image = NULL;
    for (const struct json_value *m = critical->child; m; m = m->next) {
        const struct json_value **slot = !strcmp(m->key, "type")       ? &type
                                         : !strcmp(m->key, "identity") ? &identity
                                         : !strcmp(m->key, "image")    ? &image
                                                                       : NULL;
        if (!slot || *slot) {
            rc = err_set(ERR_PARSE, "%s:%d: critical: unexpected or repeated member \"%s\"", what, m->line, m->key);
            goto done;
        }
        *slot = m;
    }
    if (!type || type->type != JSON_STRING || strcmp(type->as.string.ptr, SIMPLE_SIGNING_TYPE) ||
        type->as.string.len != strlen(SIMPLE_SIGNING_TYPE)) {
        rc = err_set(ERR_PARSE, "%s: critical.type: must be \"%s\"", what, SIMPLE_SIGNING_TYPE);
        goto done;
    }
    if ((rc = only_string(out->identity, sizeof out->identity, identity, "docker-reference", "critical.identity",
                          what)) ||
        (rc = only_string(out->digest, sizeof out->digest, image, "docker-manifest-digest", "critical.image", what)))
        goto done;
    if (optional->type == JSON_NULL)
        goto done;
    if (optional->type != JSON_OBJECT) {
        rc = err_set(ERR_PARSE, "%s:%d: optional: must be an object or null", what, optional->line);
        goto done;
    }
    const struct json_value *creator = json_member(optional, "creator"), *ts = json_member(optional, "timestamp");
    if (creator && creator->type == JSON_STRING)
        snprintf(out->creator, sizeof out->creator, "%s", creator->as.string.ptr);
    if (ts && ts->type == JSON_NUMBER && ts->as.number >= 0 && ts->as.number < 1e15)
        out->timestamp = (long long)ts->as.number;
done:
    arena_release(&arena);
    return rc;
}
