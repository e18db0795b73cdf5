#include "builder/trust/dsse.h"

#include "common/arena.h"
#include "common/base64.h"
#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dsse_pae(struct buf *out, const char *type, const void *body, size_t len)
{
    int rc = buf_appendf(out, "DSSEv1 %zu %s %zu ", strlen(type), type, len);
    return rc ? rc : buf_append(out, body, len);
}

int dsse_envelope_write(struct buf *out, const char *type, const void *body, size_t len, const void *sig,
                        size_t sig_len, const char *keyid)
{
    char *b64 = malloc(BASE64_ENCODED_SIZE(len)), sig64[BASE64_ENCODED_SIZE(512)];
    if (!b64)
        return err_set(ERR_NOMEM, "out of memory");
    if (sig_len > 512) {
        free(b64);
        return err_set(ERR_LIMIT, "dsse: signature too long");
    }
    base64_encode(b64, body, len);
    base64_encode(sig64, sig, sig_len);
    int rc = buf_append_str(out, "{\"payloadType\":");
    rc = rc ? rc : json_write_string(out, type, strlen(type));
    rc = rc ? rc : buf_appendf(out, ",\"payload\":\"%s\",\"signatures\":[{\"keyid\":", b64);
    rc = rc ? rc : json_write_string(out, keyid, strlen(keyid));
    rc = rc ? rc : buf_appendf(out, ",\"sig\":\"%s\"}]}", sig64);
    free(b64);
    return rc;
}

void dsse_envelope_release(struct dsse_envelope *e)
{
    free(e->payload);
    e->payload = NULL;
}

int dsse_envelope_parse(struct dsse_envelope *out, const char *data, size_t len, const char *what)
{
    memset(out, 0, sizeof *out);
    if (len > DSSE_LIMIT)
        return err_set(ERR_LIMIT, "%s: envelope larger than %u bytes", what, DSSE_LIMIT);
    struct arena arena;
    arena_init(&arena, 8192, 4 * DSSE_LIMIT + 65536);
    struct json_value *root = NULL;
    int rc = json_parse(&root, &arena, data, len, what);
    if (rc)
        goto done;
    const struct json_value *type = root->type == JSON_OBJECT ? json_member(root, "payloadType") : NULL,
                            *payload = root->type == JSON_OBJECT ? json_member(root, "payload") : NULL,
                            *sigs = root->type == JSON_OBJECT ? json_member(root, "signatures") : NULL;
    if (!type || type->type != JSON_STRING || type->as.string.len >= sizeof out->payload_type ||
        strlen(type->as.string.ptr) != type->as.string.len) {
        rc = err_set(ERR_PARSE, "%s: payloadType: a string is required", what);
        goto done;
    }
    memcpy(out->payload_type, type->as.string.ptr, type->as.string.len + 1);
    if (!payload || payload->type != JSON_STRING) {
        rc = err_set(ERR_PARSE, "%s: payload: a base64 string is required", what);
        goto done;
    }
    if (!(out->payload = malloc(BASE64_DECODED_MAX(payload->as.string.len) + 1))) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    long n = base64_decode((unsigned char *)out->payload, payload->as.string.ptr, payload->as.string.len);
    if (n < 0) {
        rc = err_set(ERR_PARSE, "%s:%d: payload: not base64", what, payload->line);
        goto done;
    }
    out->payload[n] = '\0';
    out->payload_len = (size_t)n;
    if (!sigs || sigs->type != JSON_ARRAY || sigs->count == 0) {
        rc = err_set(ERR_PARSE, "%s: signatures: a non-empty array is required", what);
        goto done;
    }
    for (const struct json_value *s = sigs->child; s && !rc; s = s->next) {
        if (out->n_signatures == DSSE_MAX_SIGNATURES) {
            rc = err_set(ERR_LIMIT, "%s: more than %d signatures", what, DSSE_MAX_SIGNATURES);
            break;
        }
        struct dsse_signature *d = &out->signatures[out->n_signatures];
        const struct json_value *k = s->type == JSON_OBJECT ? json_member(s, "keyid") : NULL,
                                *sg = s->type == JSON_OBJECT ? json_member(s, "sig") : NULL;
        if (!sg || sg->type != JSON_STRING || sg->as.string.len > 4 * (sizeof d->sig / 3)) {
            rc = err_set(ERR_PARSE, "%s:%d: signatures[%zu].sig: a base64 string is required", what, s->line,
                         out->n_signatures);
            break;
        }
        long m = base64_decode(d->sig, sg->as.string.ptr, sg->as.string.len);
        if (m < 0) {
            rc = err_set(ERR_PARSE, "%s:%d: signatures[%zu].sig: not base64", what, sg->line, out->n_signatures);
            break;
        }
        d->sig_len = (size_t)m;
        if (k && k->type == JSON_STRING)
            snprintf(d->keyid, sizeof d->keyid, "%s", k->as.string.ptr);
        out->n_signatures++;
    }
done:
    arena_release(&arena);
    if (rc)
        dsse_envelope_release(out);
    return rc;
}
