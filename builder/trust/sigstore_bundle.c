#include "builder/trust/sigstore_bundle.h"

#include "common/arena.h"
#include "common/base64.h"
#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <string.h>

int sigstore_bundle_write_dsse(struct buf *out, const char *type, const void *body, size_t len, const void *sig,
                               size_t sig_len, const char *key_hint)
{
    /* The envelope is written as DSSE writes it: the bundle's dsseEnvelope has the same members. */
    int rc = buf_append_str(out, "{\"mediaType\":\"" SIGSTORE_BUNDLE_MEDIA_TYPE "\","
                                 "\"verificationMaterial\":{\"publicKey\":{\"hint\":");
    rc = rc ? rc : json_write_string(out, key_hint, strlen(key_hint));
    rc = rc ? rc : buf_append_str(out, "}},\"dsseEnvelope\":");
    rc = rc ? rc : dsse_envelope_write(out, type, body, len, sig, sig_len, key_hint);
    return rc ? rc : buf_append_str(out, "}\n");
}

void sigstore_bundle_release(struct sigstore_bundle *b)
{
    dsse_envelope_release(&b->dsse);
}

/* A base64 string member of obj decoded into out (at most cap bytes); its length into n. */
static int decode_member(unsigned char *out, size_t cap, size_t *n, const struct json_value *obj, const char *key,
                         const char *what)
{
    const struct json_value *v = obj ? json_member(obj, key) : NULL;
    if (!v || v->type != JSON_STRING || BASE64_DECODED_MAX(v->as.string.len) > cap + 2)
        return err_set(ERR_PARSE, "%s: messageSignature: %s: a base64 string is required", what, key);
    unsigned char tmp[1024];
    long got = base64_decode(tmp, v->as.string.ptr, v->as.string.len);
    if (got < 0 || (size_t)got > cap)
        return err_set(ERR_PARSE, "%s:%d: messageSignature: %s: not base64 of at most %zu bytes", what, v->line, key,
                       cap);
    memcpy(out, tmp, (size_t)got);
    *n = (size_t)got;
    return 0;
}

static int parse_message_signature(struct sigstore_bundle *out, const struct json_value *ms, const char *what)
{
    const struct json_value *md = json_member(ms, "messageDigest");
    const struct json_value *alg = md && md->type == JSON_OBJECT ? json_member(md, "algorithm") : NULL;
    if (!alg || alg->type != JSON_STRING || strcmp(alg->as.string.ptr, "SHA2_256"))
        return err_set(ERR_UNSUPPORTED, "%s: messageSignature.messageDigest.algorithm: only SHA2_256 is read", what);
    size_t n = 0;
    int rc = decode_member(out->message_digest, sizeof out->message_digest, &n, md, "digest", what);
    if (!rc && n != sizeof out->message_digest)
        rc = err_set(ERR_PARSE, "%s: messageSignature.messageDigest.digest: %zu bytes, not 32", what, n);
    return rc ? rc : decode_member(out->signature, sizeof out->signature, &out->signature_len, ms, "signature", what);
}

int sigstore_bundle_parse(struct sigstore_bundle *out, const char *data, size_t len, const char *what)
{
    memset(out, 0, sizeof *out);
    if (len > SIGSTORE_BUNDLE_LIMIT)
        return err_set(ERR_LIMIT, "%s: bundle larger than %u bytes", what, SIGSTORE_BUNDLE_LIMIT);
    struct arena arena;
    arena_init(&arena, 8192, 4 * SIGSTORE_BUNDLE_LIMIT + 65536);
    struct json_value *root = NULL;
    struct buf env;
    buf_init(&env, DSSE_LIMIT);
    int rc = json_parse(&root, &arena, data, len, what);
    if (rc)
        goto done;
    const struct json_value *mt = root->type == JSON_OBJECT ? json_member(root, "mediaType") : NULL;
    if (!mt || mt->type != JSON_STRING || strncmp(mt->as.string.ptr, SIGSTORE_BUNDLE_MEDIA_PREFIX,
                                                  strlen(SIGSTORE_BUNDLE_MEDIA_PREFIX))) {
        rc = err_set(ERR_PARSE, "%s: mediaType: '%s' is not a sigstore bundle", what,
                     mt && mt->type == JSON_STRING ? mt->as.string.ptr : "");
        goto done;
    }
    const struct json_value *vm = json_member(root, "verificationMaterial");
    const struct json_value *pk = vm && vm->type == JSON_OBJECT ? json_member(vm, "publicKey") : NULL;
    const struct json_value *hint = pk && pk->type == JSON_OBJECT ? json_member(pk, "hint") : NULL;
    if (hint && hint->type == JSON_STRING)
        snprintf(out->key_hint, sizeof out->key_hint, "%s", hint->as.string.ptr);
    const struct json_value *de = json_member(root, "dsseEnvelope"), *ms = json_member(root, "messageSignature");
    if (de && de->type == JSON_OBJECT) {
        out->is_dsse = 1;
        rc = json_write_value(&env, de);
        rc = rc ? rc : dsse_envelope_parse(&out->dsse, env.data, env.len, what);
    } else if (ms && ms->type == JSON_OBJECT) {
        rc = parse_message_signature(out, ms, what);
    } else {
        rc = err_set(ERR_PARSE, "%s: neither dsseEnvelope nor messageSignature", what);
    }
done:
    buf_release(&env);
    arena_release(&arena);
    if (rc)
        sigstore_bundle_release(out);
    return rc;
}
