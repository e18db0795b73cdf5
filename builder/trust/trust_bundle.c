#include "builder/trust/trust_bundle.h"

#include "builder/registry/registry_blob.h"
#include "builder/sys/digest.h"
#include "builder/trust/cosign_sig.h"
#include "builder/trust/dsse.h"
#include "builder/trust/provenance.h"
#include "builder/trust/sigstore_bundle.h"
#include "common/arena.h"
#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define EMPTY_MEDIA_TYPE "application/vnd.oci.empty.v1+json"
#define BUNDLE_LIMIT (SIGSTORE_BUNDLE_LIMIT)

int trust_bundle_sign_statement(struct buf *out, const char *name, const char *image_digest)
{
    int rc = buf_append_str(out, "{\"_type\":\"" PROVENANCE_STATEMENT_TYPE "\",\"subject\":[{\"name\":");
    rc = rc ? rc : json_write_string(out, name, strlen(name));
    rc = rc ? rc : buf_appendf(out, ",\"digest\":{\"sha256\":\"%s\"}}],", image_digest + 7);
    return rc ? rc : buf_append_str(out, "\"predicateType\":\"" COSIGN_SIGN_PREDICATE_TYPE "\",\"predicate\":{}}");
}

int trust_bundle_attach(struct trust_store *s, const struct trust_key *key, const char *statement, size_t len,
                        const char *predicate_type, char digest[72])
{
    struct buf pae, sig, bundle, empty, manifest;
    buf_init(&pae, 0);
    buf_init(&sig, 0);
    buf_init(&bundle, BUNDLE_LIMIT);
    buf_init(&empty, 0);
    buf_init(&manifest, MANIFEST_LIMIT);
    char bundle_digest[DIGEST_STRING_SIZE], empty_digest[DIGEST_STRING_SIZE], created[40];
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm) || !strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(created, sizeof created, "1970-01-01T00:00:00Z");
    int rc = dsse_pae(&pae, PROVENANCE_PAYLOAD_TYPE, statement, len);
    rc = rc ? rc : trust_sign(&sig, key, pae.data, pae.len);
    rc = rc ? rc
            : sigstore_bundle_write_dsse(&bundle, PROVENANCE_PAYLOAD_TYPE, statement, len, sig.data, sig.len,
                                         key->key_id);
    rc = rc ? rc : buf_append(&empty, "{}", 2);
    rc = rc ? rc : digest_buffer(bundle_digest, bundle.data, bundle.len);
    rc = rc ? rc : digest_buffer(empty_digest, empty.data, empty.len);
    rc = rc ? rc
            : buf_appendf(&manifest,
                          "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                          "\"artifactType\":\"" SIGSTORE_BUNDLE_MEDIA_TYPE "\",\"config\":{\"mediaType\":\"" EMPTY_MEDIA_TYPE
                          "\",\"digest\":\"%s\",\"size\":2},\"layers\":[{\"mediaType\":\"" SIGSTORE_BUNDLE_MEDIA_TYPE
                          "\",\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"org.opencontainers.image.title\":"
                          "\"sha256-%s.sigstore.json\"}}],\"subject\":{\"mediaType\":\"%s\",\"digest\":\"%s\","
                          "\"size\":%lld},\"annotations\":{\"dev.sigstore.bundle.content\":\"dsse-envelope\","
                          "\"dev.sigstore.bundle.predicateType\":",
                          empty_digest, bundle_digest, bundle.len, bundle_digest + 7,
                          s->image_media_type[0] ? s->image_media_type : "application/vnd.oci.image.manifest.v1+json",
                          s->image_digest, s->image_size);
    rc = rc ? rc : json_write_string(&manifest, predicate_type, strlen(predicate_type));
    rc = rc ? rc : buf_appendf(&manifest, ",\"org.opencontainers.image.created\":\"%s\"}}", created);
    rc = rc ? rc : digest_buffer(digest, manifest.data, manifest.len);
    struct trust_blob blobs[2] = {{&empty, EMPTY_MEDIA_TYPE}, {&bundle, SIGSTORE_BUNDLE_MEDIA_TYPE}};
    rc = rc ? rc : trust_store_put(s, SIGSTORE_BUNDLE_MEDIA_TYPE, blobs, 2, &manifest, NULL);
    buf_release(&pae);
    buf_release(&sig);
    buf_release(&bundle);
    buf_release(&empty);
    buf_release(&manifest);
    return rc;
}

/* The predicateType of an in-toto statement, or "" when it is none. */
static void predicate_of(char out[160], const char *statement, size_t len)
{
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    out[0] = '\0';
    if (!json_parse(&root, &arena, statement, len, "statement") && root->type == JSON_OBJECT) {
        const struct json_value *p = json_member(root, "predicateType");
        if (p && p->type == JSON_STRING)
            snprintf(out, 160, "%s", p->as.string.ptr);
    }
    err_clear();
    arena_release(&arena);
}

/* A message signature: over the image manifest's bytes, whose SHA-256 it names. */
static int check_message(struct trust_store *s, const struct sigstore_bundle *b, const struct trust_key *key,
                         const char *what)
{
    char hex[65];
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", b->message_digest[i]);
    if (strcmp(hex, s->image_digest + 7))
        return err_set(ERR_MISMATCH, "%s: signs manifest sha256:%s, but the image is %s", what, hex, s->image_digest);
    struct buf m;
    buf_init(&m, MANIFEST_LIMIT);
    int rc = trust_store_read(s, &m, s->image_digest, 0, 1);
    if (!rc && trust_verify(key, m.data, m.len, b->signature, b->signature_len)) {
        err_clear();
        rc = err_set(ERR_MISMATCH, "%s: not signed by key %s (or the manifest was changed)", what, key->key_id);
    }
    buf_release(&m);
    return rc;
}

int trust_bundle_check(struct trust_store *s, const char *digest, const struct trust_key *key,
                       const char *want_predicate, struct buf *statement, const char *what)
{
    struct buf m, raw, pae;
    buf_init(&m, MANIFEST_LIMIT);
    buf_init(&raw, BUNDLE_LIMIT + 1);
    buf_init(&pae, 0);
    struct cosign_layer *layers = NULL;
    size_t n = 0;
    struct sigstore_bundle b;
    memset(&b, 0, sizeof b);
    char predicate[160] = "";
    int rc = trust_store_read(s, &m, digest, 0, 1);
    rc = rc ? rc : cosign_sig_parse(&layers, &n, m.data, m.len, what);
    if (!rc && (n != 1 || strncmp(layers[0].media_type, SIGSTORE_BUNDLE_MEDIA_PREFIX,
                                  strlen(SIGSTORE_BUNDLE_MEDIA_PREFIX))))
        rc = err_set(ERR_PARSE, "%s: expected one layer of %s", what, SIGSTORE_BUNDLE_MEDIA_TYPE);
    if (!rc && layers[0].size > (long long)BUNDLE_LIMIT)
        rc = err_set(ERR_LIMIT, "%s: bundle of %lld bytes is too large", what, layers[0].size);
    rc = rc ? rc : trust_store_read(s, &raw, layers[0].digest, layers[0].size, 0);
    rc = rc ? rc : sigstore_bundle_parse(&b, raw.data, raw.len, what);
    if (rc)
        goto done;
    if (!b.is_dsse) { /* a message signature signs the image itself */
        rc = strcmp(want_predicate, COSIGN_SIGN_PREDICATE_TYPE) ? ERR_NOTFOUND : check_message(s, &b, key, what);
        goto done;
    }
    predicate_of(predicate, b.dsse.payload, b.dsse.payload_len);
    if (strcmp(predicate, want_predicate)) {
        rc = ERR_NOTFOUND;
        goto done;
    }
    if (strcmp(b.dsse.payload_type, PROVENANCE_PAYLOAD_TYPE)) {
        rc = err_set(ERR_PARSE, "%s: payloadType '%s', not %s", what, b.dsse.payload_type, PROVENANCE_PAYLOAD_TYPE);
        goto done;
    }
    rc = dsse_pae(&pae, b.dsse.payload_type, b.dsse.payload, b.dsse.payload_len);
    int good = 0;
    for (size_t i = 0; !rc && i < b.dsse.n_signatures && !good; i++) {
        good = trust_verify(key, pae.data, pae.len, b.dsse.signatures[i].sig, b.dsse.signatures[i].sig_len) == 0;
        err_clear();
    }
    if (!rc && !good)
        rc = err_set(ERR_MISMATCH, "%s: not signed by key %s (or the statement was changed)", what, key->key_id);
    rc = rc ? rc : buf_append(statement, b.dsse.payload, b.dsse.payload_len);
done:
    cosign_layers_free(layers, n);
    sigstore_bundle_release(&b);
    buf_release(&m);
    buf_release(&raw);
    buf_release(&pae);
    return rc;
}

int trust_statement_subject(char name[512], const char *statement, size_t len, const char *image_digest,
                            const char *what)
{
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    name[0] = '\0';
    int found = 0, rc = json_parse(&root, &arena, statement, len, what);
    const struct json_value *t = !rc && root->type == JSON_OBJECT ? json_member(root, "_type") : NULL;
    const struct json_value *subj = !rc && root->type == JSON_OBJECT ? json_member(root, "subject") : NULL;
    if (!rc && (!t || t->type != JSON_STRING || strcmp(t->as.string.ptr, PROVENANCE_STATEMENT_TYPE)))
        rc = err_set(ERR_PARSE, "%s: _type: not %s", what, PROVENANCE_STATEMENT_TYPE);
    if (!rc && (!subj || subj->type != JSON_ARRAY))
        rc = err_set(ERR_PARSE, "%s: subject: an array is required", what);
    for (const struct json_value *e = rc ? NULL : subj->child; e && !found; e = e->next) {
        const struct json_value *d = e->type == JSON_OBJECT ? json_member(e, "digest") : NULL;
        const struct json_value *h = d && d->type == JSON_OBJECT ? json_member(d, "sha256") : NULL;
        const struct json_value *nm = e->type == JSON_OBJECT ? json_member(e, "name") : NULL;
        if (h && h->type == JSON_STRING && !strcmp(h->as.string.ptr, image_digest + 7)) {
            found = 1;
            if (nm && nm->type == JSON_STRING)
                snprintf(name, 512, "%s", nm->as.string.ptr);
        }
    }
    if (!rc && !found)
        rc = err_set(ERR_MISMATCH, "%s: its subject does not name %s", what, image_digest);
    arena_release(&arena);
    return rc;
}
