#include "builder/trust/trust_image.h"

#include "builder/image/reference.h"
#include "builder/registry/registry_blob.h"
#include "builder/sys/digest.h"
#include "builder/trust/cosign_sig.h"
#include "builder/trust/sigstore_bundle.h"
#include "builder/trust/trust_bundle.h"
#include "builder/trust/trust_store.h"
#include "common/base64.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MEDIA_TYPE "application/vnd.oci.image.config.v1+json"

/* The signature manifest kept for the image: *found 0 when there is none. */
static int read_sig_manifest(struct trust_store *s, struct buf *out, int *found, const char *tag)
{
    char digests[TRUST_STORE_MAX_FOUND][72];
    size_t n = 0;
    int rc = trust_store_find(s, digests, &n, COSIGN_SIG_ARTIFACT_TYPE, tag);
    *found = !rc && n > 0;
    return rc || !n ? rc : trust_store_read(s, out, digests[0], 0, 1);
}

int trust_format_parse(enum trust_format *out, const char *name)
{
    static const char *const names[] = {"tag", "bundle", "both"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, names[i])) {
            *out = (enum trust_format)(i + 1);
            return 0;
        }
    return err_set(ERR_USAGE, "--format '%s': expected tag, bundle or both", name);
}

/* The OCI 1.1 form: a bundle of the cosign sign statement naming the image, as a referrer. */
static int sign_bundle(struct trust_signed *out, struct trust_store *s, const struct trust_key *key)
{
    struct buf statement;
    buf_init(&statement, 0);
    int rc = trust_bundle_sign_statement(&statement, out->identity, s->image_digest);
    rc = rc ? rc
            : trust_bundle_attach(s, key, statement.data, statement.len, COSIGN_SIGN_PREDICATE_TYPE,
                                  out->bundle_digest);
    buf_release(&statement);
    return rc;
}

static int sign_store(struct trust_signed *out, struct trust_store *s, const struct trust_key *key,
                      const struct trust_sign_options *opt)
{
    memset(out, 0, sizeof *out);
    enum trust_format format = opt->format ? opt->format : TRUST_FORMAT_DEFAULT;
    struct buf payload, sig, old, manifest, config;
    buf_init(&payload, SIMPLE_SIGNING_LIMIT);
    buf_init(&sig, 0);
    buf_init(&old, MANIFEST_LIMIT);
    buf_init(&manifest, MANIFEST_LIMIT);
    buf_init(&config, MANIFEST_LIMIT);
    struct cosign_layer *layers = NULL, *grown;
    size_t n = 0;
    int found = 0, rc = 0;
    const char *identity = opt->identity && opt->identity[0] ? opt->identity : s->default_identity;
    if (!identity[0]) {
        rc = err_set(ERR_USAGE, "%s: the image has no name to sign it under; pass --identity REGISTRY/REPO:TAG",
                     s->location);
        goto done;
    }
    snprintf(out->image_digest, sizeof out->image_digest, "%s", s->image_digest);
    snprintf(out->identity, sizeof out->identity, "%s", identity);
    cosign_sig_tag(out->sig_tag, s->image_digest);
    snprintf(out->location, sizeof out->location, "%s", s->location);
    if ((format & TRUST_FORMAT_BUNDLE) && (rc = sign_bundle(out, s, key)))
        goto done;
    if (!(format & TRUST_FORMAT_TAG)) {
        out->sig_tag[0] = '\0';
        goto done;
    }
    if ((rc = simple_signing_write(&payload, identity, s->image_digest, opt->creator ? opt->creator : "amlpkg",
                                   opt->timestamp)) ||
        (rc = trust_sign(&sig, key, payload.data, payload.len)))
        goto done;
    if ((rc = read_sig_manifest(s, &old, &found, out->sig_tag)))
        goto done;
    if (found && (rc = cosign_sig_parse(&layers, &n, old.data, old.len, out->sig_tag)))
        goto done;
    if (!(grown = realloc(layers, (n + 1) * sizeof *layers))) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    layers = grown;
    struct cosign_layer *l = &layers[n++];
    memset(l, 0, sizeof *l);
    if ((rc = digest_buffer(l->digest, payload.data, payload.len)))
        goto done;
    l->size = (long long)payload.len;
    snprintf(l->media_type, sizeof l->media_type, "%s", SIMPLE_SIGNING_MEDIA_TYPE);
    if (BASE64_ENCODED_SIZE(sig.len) > sizeof l->signature) {
        rc = err_set(ERR_LIMIT, "sign: the signature is too long");
        goto done;
    }
    base64_encode(l->signature, sig.data, sig.len);
    struct trust_blob blobs[2] = {{&payload, SIMPLE_SIGNING_MEDIA_TYPE}, {&config, CONFIG_MEDIA_TYPE}};
    if ((rc = cosign_sig_manifest(&manifest, &config, layers, n)) ||
        (rc = trust_store_put(s, COSIGN_SIG_ARTIFACT_TYPE, blobs, 2, &manifest, out->sig_tag)))
        goto done;
    out->n_signatures = n;
    if (s->src)
        snprintf(out->location, sizeof out->location, "%s", s->location);
    else
        snprintf(out->location, sizeof out->location, "%.900s:%s", s->location, out->sig_tag);
done:
    cosign_layers_free(layers, n);
    buf_release(&payload);
    buf_release(&sig);
    buf_release(&old);
    buf_release(&manifest);
    buf_release(&config);
    return rc;
}

int trust_sign_image(struct trust_signed *out, const char *target, const struct trust_key *key,
                     const struct trust_sign_options *opt)
{
    struct trust_store s;
    int rc = trust_store_open(&s, target, opt->reg);
    rc = rc ? rc : sign_store(out, &s, key, opt);
    trust_store_close(&s);
    return rc;
}

int trust_sign_registry(struct trust_signed *out, struct registry *reg, const char *repo, const char *digest,
                        const struct trust_key *key, const struct trust_sign_options *opt)
{
    struct trust_store s;
    int rc = trust_store_attach(&s, reg, repo, digest);
    rc = rc ? rc : sign_store(out, &s, key, opt);
    trust_store_close(&s);
    return rc;
}

/* In a registry a signature must name the repository it was found in, as podman's policy
 * (matchRepoDigestOrExact) requires: a signature copied from another repository proves nothing. */
static int same_repository(const char *identity, const struct trust_store *s)
{
    struct reference ref;
    int ok =
        reference_parse(&ref, identity) == 0 && !strcmp(ref.registry, s->reg->name) && !strcmp(ref.repository, s->repo);
    err_clear();
    return ok;
}

/* One signature layer: fetched, parsed, its signature checked, its digest compared. */
static void check_layer(struct trust_check *c, struct trust_store *s, const struct cosign_layer *l,
                        const struct trust_key *key, size_t i)
{
    struct buf payload;
    buf_init(&payload, SIMPLE_SIGNING_LIMIT + 1);
    unsigned char sig[COSIGN_SIGNATURE_MAX];
    char what[120];
    snprintf(what, sizeof what, "signature %zu (%s)", i, l->digest);
    long n;
    if (strcmp(l->media_type, SIMPLE_SIGNING_MEDIA_TYPE))
        snprintf(c->problem, sizeof c->problem, "%s: media type '%s' is not a simple-signing payload", what,
                 l->media_type);
    else if (!l->signature[0])
        snprintf(c->problem, sizeof c->problem, "%s: no %s annotation", what, COSIGN_SIGNATURE_ANNOTATION);
    else if (l->size > SIMPLE_SIGNING_LIMIT)
        snprintf(c->problem, sizeof c->problem, "%s: payload of %lld bytes is too large", what, l->size);
    else if (trust_store_read(s, &payload, l->digest, l->size, 0) ||
             simple_signing_parse(&c->payload, payload.data, payload.len, what))
        snprintf(c->problem, sizeof c->problem, "%s", err_message(ERR_INVALID));
    else if ((n = base64_decode(sig, l->signature, strlen(l->signature))) < 0)
        snprintf(c->problem, sizeof c->problem, "%s: the signature annotation is not base64", what);
    else if (trust_verify(key, payload.data, payload.len, sig, (size_t)n))
        snprintf(c->problem, sizeof c->problem, "%s: not signed by key %s (or the payload was changed)", what,
                 key->key_id);
    else if (strcmp(c->payload.digest, s->image_digest))
        snprintf(c->problem, sizeof c->problem, "%s: signs manifest %s, but the image is %s", what, c->payload.digest,
                 s->image_digest);
    else if (!s->src && !same_repository(c->payload.identity, s))
        snprintf(c->problem, sizeof c->problem, "signature %zu: signed for '%.120s', not for %.120s", i,
                 c->payload.identity, s->location);
    else
        c->good = 1;
    err_clear();
    buf_release(&payload);
}

/* One bundle referrer: a signature of the image by key, or a bundle of another kind (skipped). */
static int check_bundle(struct trust_check *c, struct trust_store *s, const char *digest,
                        const struct trust_key *key)
{
    struct buf statement;
    buf_init(&statement, 0);
    char what[120];
    snprintf(what, sizeof what, "bundle %.80s", digest);
    c->bundle = 1;
    c->payload.timestamp = -1;
    snprintf(c->payload.creator, sizeof c->payload.creator, "a sigstore bundle");
    snprintf(c->payload.digest, sizeof c->payload.digest, "%s", s->image_digest);
    int rc = trust_bundle_check(s, digest, key, COSIGN_SIGN_PREDICATE_TYPE, &statement, what);
    if (!rc && statement.len)
        rc = trust_statement_subject(c->payload.identity, statement.data, statement.len, s->image_digest, what);
    if (rc == ERR_NOTFOUND) {
        buf_release(&statement);
        return rc;
    }
    if (rc)
        snprintf(c->problem, sizeof c->problem, "%s", err_message(ERR_INVALID));
    else
        c->good = 1;
    err_clear();
    buf_release(&statement);
    return 0;
}

static void record(struct trust_verified *out, const struct trust_check *c)
{
    out->n_signatures++;
    out->n_good += (size_t)c->good;
    if (out->n_checks < TRUST_MAX_REPORTED)
        out->checks[out->n_checks++] = *c;
}

int trust_verify_image(struct trust_verified *out, const char *target, const struct trust_key *key,
                       const struct registry_options *reg)
{
    memset(out, 0, sizeof *out);
    struct trust_store s;
    struct buf m;
    buf_init(&m, MANIFEST_LIMIT);
    struct cosign_layer *layers = NULL;
    size_t n = 0, n_bundles = 0;
    int found = 0;
    char tag[80], bundles[TRUST_STORE_MAX_FOUND][72];
    int rc = trust_store_open(&s, target, reg);
    if (rc)
        goto done;
    snprintf(out->image_digest, sizeof out->image_digest, "%s", s.image_digest);
    snprintf(out->location, sizeof out->location, "%s", s.location);
    cosign_sig_tag(tag, s.image_digest);
    if ((rc = read_sig_manifest(&s, &m, &found, tag)) ||
        (found && (rc = cosign_sig_parse(&layers, &n, m.data, m.len, tag))))
        goto done;
    for (size_t i = 0; i < n; i++) {
        struct trust_check c;
        memset(&c, 0, sizeof c);
        check_layer(&c, &s, &layers[i], key, i);
        record(out, &c);
    }
    if ((rc = trust_store_find(&s, bundles, &n_bundles, SIGSTORE_BUNDLE_MEDIA_TYPE, NULL)))
        goto done;
    for (size_t i = 0; i < n_bundles; i++) {
        struct trust_check c;
        memset(&c, 0, sizeof c);
        if (!check_bundle(&c, &s, bundles[i], key))
            record(out, &c);
    }
    if (!out->n_signatures)
        rc = err_set(ERR_NOTFOUND, "%s: image %s is not signed (no %s) and has no signature bundle", target,
                     s.image_digest, tag);
    else if (!out->n_good)
        rc = err_set(ERR_MISMATCH, "%s: none of the %zu signature(s) of %s verifies with key %s", target,
                     out->n_signatures, s.image_digest, key->key_id);
done:
    cosign_layers_free(layers, n);
    buf_release(&m);
    trust_store_close(&s);
    return rc;
}
