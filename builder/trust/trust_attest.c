#include "builder/trust/trust_attest.h"

#include "builder/image/image_source.h"
#include "builder/registry/registry_blob.h"
#include "builder/sys/digest.h"
#include "builder/trust/cosign_sig.h"
#include "builder/trust/dsse.h"
#include "builder/trust/sigstore_bundle.h"
#include "builder/trust/trust_bundle.h"
#include "builder/trust/trust_store.h"
#include "common/arena.h"
#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define EMPTY_MEDIA_TYPE "application/vnd.oci.empty.v1+json"
#define SBOM_FILE_LIMIT (256u << 20)

/* The config blob of the image the manifest (bytes) describes. */
static int read_config(struct buf *out, const struct image_source *src, const struct buf *manifest)
{
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    int rc = json_parse(&root, &arena, manifest->data, manifest->len, "manifest");
    const struct json_value *cfg = rc ? NULL : json_member(root, "config"),
                            *dg = cfg && cfg->type == JSON_OBJECT ? json_member(cfg, "digest") : NULL;
    if (!rc && (!dg || dg->type != JSON_STRING))
        rc = err_set(ERR_PARSE, "%s: the manifest names no config", src->path);
    rc = rc ? rc : image_source_read_blob(src, out, dg->as.string.ptr);
    arena_release(&arena);
    return rc;
}

int trust_provenance_collect(struct buf *out, const char *output, const char *sbom_path, const char *spec_path,
                             long long started)
{
    struct image_source *src = NULL;
    struct buf manifest, config, sbom;
    buf_init(&manifest, MANIFEST_LIMIT);
    buf_init(&config, MANIFEST_LIMIT);
    buf_init(&sbom, SBOM_FILE_LIMIT);
    char digest[72], media_type[256], ref_name[256], spec_digest[DIGEST_STRING_SIZE];
    int64_t size, spec_size;
    int rc = image_source_open(&src, output);
    rc = rc ? rc : image_source_top(src, digest, media_type, &size, ref_name);
    rc = rc ? rc : image_source_read_blob(src, &manifest, digest);
    rc = rc ? rc : read_config(&config, src, &manifest);
    rc = rc ? rc : digest_file(spec_path, spec_digest, &spec_size);
    if (!rc && sbom_path)
        rc = buf_read_file(&sbom, sbom_path);
    if (rc)
        goto done;
    struct provenance_input in = {
        .image_name = ref_name[0] ? ref_name : digest,
        .image_digest = digest,
        .spec_path = spec_path,
        .spec_digest = spec_digest,
        .config = config.data,
        .config_len = config.len,
        .sbom = sbom_path ? sbom.data : NULL,
        .sbom_len = sbom.len,
        .started = started,
        .finished = time(NULL),
    };
    rc = provenance_statement(out, &in);
done:
    image_source_free(src);
    buf_release(&manifest);
    buf_release(&config);
    buf_release(&sbom);
    return rc;
}

static int attest_envelope(struct trust_store *s, const struct trust_key *key, const char *statement, size_t len)
{
    struct buf pae, sig, envelope, empty, manifest;
    buf_init(&pae, 0);
    buf_init(&sig, 0);
    buf_init(&envelope, DSSE_LIMIT);
    buf_init(&empty, 0);
    buf_init(&manifest, MANIFEST_LIMIT);
    char env_digest[DIGEST_STRING_SIZE], empty_digest[DIGEST_STRING_SIZE];
    int rc = dsse_pae(&pae, PROVENANCE_PAYLOAD_TYPE, statement, len);
    rc = rc ? rc : trust_sign(&sig, key, pae.data, pae.len);
    rc = rc ? rc
            : dsse_envelope_write(&envelope, PROVENANCE_PAYLOAD_TYPE, statement, len, sig.data, sig.len, key->key_id);
    rc = rc ? rc : buf_append(&empty, "{}", 2);
    rc = rc ? rc : digest_buffer(env_digest, envelope.data, envelope.len);
    rc = rc ? rc : digest_buffer(empty_digest, empty.data, empty.len);
    rc =
        rc ? rc
           : buf_appendf(
                 &manifest,
                 "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                 "\"artifactType\":\"" PROVENANCE_PAYLOAD_TYPE "\",\"config\":{\"mediaType\":\"" EMPTY_MEDIA_TYPE
                 "\",\"digest\":\"%s\",\"size\":2},\"layers\":[{\"mediaType\":\"" DSSE_MEDIA_TYPE
                 "\",\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"in-toto.io/predicate-type\":\"" PROVENANCE_PREDICATE_TYPE
                 "\"}}],\"subject\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld}}",
                 empty_digest, env_digest, envelope.len,
                 s->image_media_type[0] ? s->image_media_type : "application/vnd.oci.image.manifest.v1+json",
                 s->image_digest, s->image_size);
    struct trust_blob blobs[2] = {{&empty, EMPTY_MEDIA_TYPE}, {&envelope, DSSE_MEDIA_TYPE}};
    rc = rc ? rc : trust_store_put(s, PROVENANCE_PAYLOAD_TYPE, blobs, 2, &manifest, NULL);
    buf_release(&pae);
    buf_release(&sig);
    buf_release(&envelope);
    buf_release(&empty);
    buf_release(&manifest);
    return rc;
}

static int attest(struct trust_store *s, const struct trust_key *key, const char *statement, size_t len,
                  enum trust_format format)
{
    char digest[72];
    format = format ? format : TRUST_FORMAT_DEFAULT;
    int rc = format & TRUST_FORMAT_TAG ? attest_envelope(s, key, statement, len) : 0;
    return rc || !(format & TRUST_FORMAT_BUNDLE)
               ? rc
               : trust_bundle_attach(s, key, statement, len, PROVENANCE_PREDICATE_TYPE, digest);
}

int trust_attest_image(const char *target, const struct trust_key *key, const char *statement, size_t len,
                       enum trust_format format)
{
    struct trust_store s;
    int rc = trust_store_open(&s, target, NULL);
    rc = rc ? rc : attest(&s, key, statement, len, format);
    trust_store_close(&s);
    return rc;
}

int trust_attest_registry(struct registry *reg, const char *repo, const char *digest, const struct trust_key *key,
                          const char *statement, size_t len, enum trust_format format)
{
    struct trust_store s;
    int rc = trust_store_attach(&s, reg, repo, digest);
    rc = rc ? rc : attest(&s, key, statement, len, format);
    trust_store_close(&s);
    return rc;
}

/* One attestation manifest: its envelope fetched, its signature and statement checked. */
static int check_one(struct trust_provenance *out, struct trust_store *s, const struct trust_key *key,
                     const char *digest)
{
    struct buf m, env, pae;
    buf_init(&m, MANIFEST_LIMIT);
    buf_init(&env, DSSE_LIMIT + 1);
    buf_init(&pae, 0);
    struct cosign_layer *layers = NULL;
    size_t n = 0;
    struct dsse_envelope e = {0};
    char what[120];
    snprintf(what, sizeof what, "provenance %.80s", digest);
    int rc = trust_store_read(s, &m, digest, 0, 1);
    rc = rc ? rc : cosign_sig_parse(&layers, &n, m.data, m.len, what);
    if (!rc && (n != 1 || strcmp(layers[0].media_type, DSSE_MEDIA_TYPE)))
        rc = err_set(ERR_PARSE, "%s: expected one layer of %s", what, DSSE_MEDIA_TYPE);
    if (!rc && layers[0].size > DSSE_LIMIT)
        rc = err_set(ERR_LIMIT, "%s: envelope too large", what);
    rc = rc ? rc : trust_store_read(s, &env, layers[0].digest, layers[0].size, 0);
    rc = rc ? rc : dsse_envelope_parse(&e, env.data, env.len, what);
    if (!rc && strcmp(e.payload_type, PROVENANCE_PAYLOAD_TYPE))
        rc = err_set(ERR_PARSE, "%s: payloadType '%s', not %s", what, e.payload_type, PROVENANCE_PAYLOAD_TYPE);
    rc = rc ? rc : dsse_pae(&pae, e.payload_type, e.payload, e.payload_len);
    int signed_by_key = 0;
    for (size_t i = 0; !rc && i < e.n_signatures && !signed_by_key; i++) {
        signed_by_key = trust_verify(key, pae.data, pae.len, e.signatures[i].sig, e.signatures[i].sig_len) == 0;
        err_clear();
    }
    if (!rc && !signed_by_key)
        rc = err_set(ERR_MISMATCH, "%s: not signed by key %s (or the statement was changed)", what, key->key_id);
    struct provenance_summary sum;
    rc = rc ? rc : provenance_check(&sum, e.payload, e.payload_len, s->image_digest, what);
    if (!rc && !out->n_good++)
        out->summary = sum;
    cosign_layers_free(layers, n);
    dsse_envelope_release(&e);
    buf_release(&m);
    buf_release(&env);
    buf_release(&pae);
    return rc;
}

/* One provenance bundle: ERR_NOTFOUND when it holds something else. */
static int check_bundle(struct trust_provenance *out, struct trust_store *s, const struct trust_key *key,
                        const char *digest)
{
    struct buf statement;
    buf_init(&statement, 0);
    char what[120];
    snprintf(what, sizeof what, "provenance bundle %.80s", digest);
    struct provenance_summary sum;
    int rc = trust_bundle_check(s, digest, key, PROVENANCE_PREDICATE_TYPE, &statement, what);
    rc = rc ? rc : provenance_check(&sum, statement.data, statement.len, s->image_digest, what);
    if (!rc && !out->n_good++)
        out->summary = sum;
    buf_release(&statement);
    return rc;
}

int trust_verify_provenance(struct trust_provenance *out, const char *target, const struct trust_key *key,
                            const struct registry_options *reg)
{
    memset(out, 0, sizeof *out);
    struct trust_store s;
    char found[TRUST_STORE_MAX_FOUND][72], bundles[TRUST_STORE_MAX_FOUND][72];
    size_t n_bundles = 0;
    int rc = trust_store_open(&s, target, reg);
    if (!rc)
        snprintf(out->image_digest, sizeof out->image_digest, "%s", s.image_digest);
    rc = rc ? rc : trust_store_find(&s, found, &out->n_found, PROVENANCE_PAYLOAD_TYPE, NULL);
    rc = rc ? rc : trust_store_find(&s, bundles, &n_bundles, SIGSTORE_BUNDLE_MEDIA_TYPE, NULL);
    for (size_t i = 0; !rc && i < out->n_found; i++) {
        if (check_one(out, &s, key, found[i]))
            snprintf(out->problem, sizeof out->problem, "%s", err_message(ERR_INVALID));
        err_clear();
    }
    for (size_t i = 0; !rc && i < n_bundles; i++) {
        int r = check_bundle(out, &s, key, bundles[i]);
        out->n_found += r != ERR_NOTFOUND;
        if (r && r != ERR_NOTFOUND)
            snprintf(out->problem, sizeof out->problem, "%s", err_message(ERR_INVALID));
        err_clear();
    }
    if (!rc && !out->n_found)
        rc = err_set(ERR_NOTFOUND, "%s: image %s has no provenance attestation", target, s.image_digest);
    if (!rc && !out->n_good)
        rc = err_set(ERR_MISMATCH, "%s: no provenance of %s verifies: %s", target, s.image_digest, out->problem);
    trust_store_close(&s);
    return rc;
}
