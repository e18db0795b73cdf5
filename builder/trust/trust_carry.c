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
#include <string.h>

int trust_carry_push(struct trust_carried *out, struct image_source *src, struct registry *reg, const char *repo,
                     int jobs)
{
    static const char *const types[] = {COSIGN_SIG_ARTIFACT_TYPE, PROVENANCE_PAYLOAD_TYPE, SIGSTORE_BUNDLE_MEDIA_TYPE};
    memset(out, 0, sizeof *out);
    struct trust_store s;
    int rc = trust_store_use_source(&s, src);
    for (size_t t = 0; !rc && t < sizeof types / sizeof *types; t++) {
        char found[TRUST_STORE_MAX_FOUND][72], tag[80];
        size_t n = 0;
        int is_sig = t == 0;
        cosign_sig_tag(tag, s.image_digest);
        rc = trust_store_find(&s, found, &n, types[t], NULL);
        for (size_t i = 0; !rc && i < n; i++) {
            struct image_transfer x = {.jobs = jobs};
            rc = registry_image_push_manifest(reg, repo, is_sig ? tag : NULL, src, found[i], &x);
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
        if (!(rc = registry_image_copy(src_reg, src_repo, tag, dst_reg, dst_repo, tag, &x)))
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
