#include "builder/trust/trust_carry.h"

#include "builder/image/reference.h"
#include "builder/registry/registry_blob.h"
#include "builder/registry/registry_image.h"
#include "builder/registry/registry_referrers.h"
#include "builder/trust/cosign_sig.h"
#include "builder/trust/provenance.h"
#include "builder/trust/sigstore_bundle.h"
#include "builder/trust/trust_store.h"
#include "common/arena.h"
#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MEDIA_TYPE "application/vnd.oci.image.config.v1+json"

/* Whether layers[0..n) holds l: the same payload with the same signature. */
static int has_layer(const struct cosign_layer *layers, size_t n, const struct cosign_layer *l)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(layers[i].digest, l->digest) && !strcmp(layers[i].signature, l->signature))
            return 1;
    return 0;
}

/* The signature manifest INCOMING (already in the repository by digest, with its payloads) lands under
 * the image's .sig tag: as it is when the tag is free, else merged into the manifest there — the
 * signatures already there stay and the new ones are added, as cosign sign does — so carrying an
 * image's signature never drops one another key made. */
static int land_signature(struct registry *reg, const char *repo, const char *image_digest, const char *incoming)
{
    struct trust_store s;
    struct buf old, add, manifest, config;
    buf_init(&old, MANIFEST_LIMIT);
    buf_init(&add, MANIFEST_LIMIT);
    buf_init(&manifest, MANIFEST_LIMIT);
    buf_init(&config, MANIFEST_LIMIT);
    struct cosign_layer *have = NULL, *more = NULL;
    size_t n_have = 0, n_more = 0;
    char tag[80], found[TRUST_STORE_MAX_FOUND][72];
    size_t n = 0;
    cosign_sig_tag(tag, image_digest);
    int rc = trust_store_attach(&s, reg, repo, image_digest);
    rc = rc ? rc : trust_store_find(&s, found, &n, COSIGN_SIG_ARTIFACT_TYPE, tag);
    rc = rc ? rc : trust_store_read(&s, &add, incoming, 0, 1);
    if (rc || (n && !strcmp(found[0], incoming)))
        goto done;
    if (!n) {
        rc = trust_store_put(&s, COSIGN_SIG_ARTIFACT_TYPE, NULL, 0, &add, tag);
        goto done;
    }
    if ((rc = trust_store_read(&s, &old, found[0], 0, 1)) ||
        (rc = cosign_sig_parse(&have, &n_have, old.data, old.len, tag)) ||
        (rc = cosign_sig_parse(&more, &n_more, add.data, add.len, incoming)))
        goto done;
    struct cosign_layer *all = realloc(have, (n_have + n_more) * sizeof *have);
    if (!all) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    have = all;
    size_t before = n_have;
    for (size_t i = 0; i < n_more; i++)
        if (!has_layer(have, n_have, &more[i])) {
            have[n_have] = more[i]; /* moved: its raw descriptor now belongs to have */
            more[i].raw = NULL;
            n_have++;
        }
    if (n_have == before)
        goto done; /* every incoming signature is there already */
    struct trust_blob blobs[1] = {{&config, CONFIG_MEDIA_TYPE}};
    rc = cosign_sig_manifest(&manifest, &config, have, n_have);
    rc = rc ? rc : trust_store_put(&s, COSIGN_SIG_ARTIFACT_TYPE, blobs, 1, &manifest, tag);
done:
    cosign_layers_free(have, n_have);
    cosign_layers_free(more, n_more);
    trust_store_close(&s);
    buf_release(&old);
    buf_release(&add);
    buf_release(&manifest);
    buf_release(&config);
    return rc;
}

int trust_carry_push(struct trust_carried *out, struct image_source *src, struct registry *reg, const char *repo,
                     int jobs)
{
    static const char *const types[] = {COSIGN_SIG_ARTIFACT_TYPE, PROVENANCE_PAYLOAD_TYPE, SIGSTORE_BUNDLE_MEDIA_TYPE};
    memset(out, 0, sizeof *out);
    struct trust_store s;
    int rc = trust_store_use_source(&s, src);
    for (size_t t = 0; !rc && t < sizeof types / sizeof *types; t++) {
        char found[TRUST_STORE_MAX_FOUND][72];
        size_t n = 0;
        int is_sig = t == 0;
        rc = trust_store_find(&s, found, &n, types[t], NULL);
        for (size_t i = 0; !rc && i < n; i++) {
            struct image_transfer x = {.jobs = jobs};
            rc = registry_image_push_manifest(reg, repo, NULL, src, found[i], &x);
            if (!rc && is_sig) /* by digest first, then under the tag, merged with what is there */
                rc = land_signature(reg, repo, s.image_digest, found[i]);
            *(is_sig ? &out->signature_tags : &out->referrers) += !rc;
            out->referrers_fallback |= x.referrers_fallback;
        }
    }
    trust_store_close(&s);
    return rc;
}

/* The digests listed in a referrers index (bytes) into found. */
static int referrer_digests(char found[][72], size_t *n, const struct buf *index)
{
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    *n = 0;
    int rc = json_parse(&root, &arena, index->data, index->len, "referrers");
    const struct json_value *ms = rc ? NULL : json_member(root, "manifests");
    for (const struct json_value *d = ms && ms->type == JSON_ARRAY ? ms->child : NULL; d; d = d->next) {
        const struct json_value *dg = json_member(d, "digest");
        if (dg && dg->type == JSON_STRING && reference_valid_digest(dg->as.string.ptr) && *n < TRUST_STORE_MAX_FOUND)
            snprintf(found[(*n)++], 72, "%s", dg->as.string.ptr);
    }
    arena_release(&arena);
    return rc;
}

int trust_carry_copy(struct trust_carried *out, struct registry *src_reg, const char *src_repo, const char *digest,
                     struct registry *dst_reg, const char *dst_repo, int jobs)
{
    memset(out, 0, sizeof *out);
    struct registry_conn *c = NULL;
    struct buf m, index;
    buf_init(&m, MANIFEST_LIMIT);
    buf_init(&index, MANIFEST_LIMIT);
    char tag[80], media_type[256], got[72], found[TRUST_STORE_MAX_FOUND][72];
    size_t n = 0;
    cosign_sig_tag(tag, digest);
    int rc = registry_conn_new(&c, src_reg);
    int has_sig = !rc && !(rc = registry_manifest_get(c, &m, media_type, got, src_repo, tag));
    if (rc == ERR_NOTFOUND) {
        err_clear();
        rc = 0;
    }
    rc = rc ? rc : registry_referrers_list(c, &index, src_repo, digest);
    rc = rc ? rc : referrer_digests(found, &n, &index);
    registry_conn_free(c); /* back to src_reg's idle handles for the copies */
    if (!rc && has_sig) {
        struct image_transfer x = {.jobs = jobs};
        if (!(rc = registry_image_copy(src_reg, src_repo, tag, dst_reg, dst_repo, NULL, &x)) &&
            !(rc = land_signature(dst_reg, dst_repo, digest, x.digest)))
            out->signature_tags++;
    }
    for (size_t i = 0; !rc && i < n; i++) {
        struct image_transfer x = {.jobs = jobs};
        if (!(rc = registry_image_copy(src_reg, src_repo, found[i], dst_reg, dst_repo, NULL, &x)))
            out->referrers++;
        out->referrers_fallback |= x.referrers_fallback;
    }
    buf_release(&m);
    buf_release(&index);
    return rc;
}
