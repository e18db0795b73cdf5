#include "builder/registry/registry_referrers.h"

#include "common/arena.h"
#include "common/err.h"
#include "common/json.h"
#include "builder/image/reference.h"
#include "builder/registry/registry_blob.h"

#include <stdio.h>
#include <string.h>

void registry_referrers_tag(char out[80], const char *subject)
{
    snprintf(out, 80, "sha256-%.64s", strncmp(subject, "sha256:", 7) ? subject : subject + 7);
}

int registry_manifest_subject(char subject[72], const char *bytes, size_t len, const char *what)
{
    subject[0] = '\0';
    struct arena arena;
    arena_init(&arena, 4096, 64u << 20);
    struct json_value *root = NULL;
    int rc = json_parse(&root, &arena, bytes, len, what);
    const struct json_value *s = rc ? NULL : json_member(root, "subject");
    const struct json_value *d = s ? json_member(s, "digest") : NULL;
    if (s && (!d || d->type != JSON_STRING || !reference_valid_digest(d->as.string.ptr)))
        rc = err_set(ERR_PARSE, "%s: 'subject' has no sha256 digest", what);
    else if (d)
        snprintf(subject, 72, "%s", d->as.string.ptr);
    arena_release(&arena);
    return rc;
}

/* GET /v2/<repo>/referrers/<subject>: *supported is 1 when the registry
 * answered with an index (then in out, when out is given). */
static int api_get(struct registry_conn *c, int *supported, struct buf *out, const char *repo, const char *subject)
{
    *supported = 0;
    char url[600], scope[600], what[128];
    snprintf(url, sizeof url, "/v2/%s/referrers/%s", repo, subject);
    registry_repo_scope(scope, sizeof scope, repo, 0);
    snprintf(what, sizeof what, "list referrers of %.19s", subject);
    struct buf body;
    buf_init(&body, MANIFEST_LIMIT);
    struct registry_call call;
    registry_call_init(&call, "GET", url, scope, repo, what);
    call.accept = MEDIA_OCI_INDEX;
    call.body_buf = &body;
    call.out_max = MANIFEST_LIMIT;
    struct registry_response resp;
    int rc = registry_call(c, &call, &resp);
    /* 404 (or 400/405 from older registries) means no API: not an error. */
    if (!rc && resp.status == 200 && !strncmp(resp.content_type, MEDIA_OCI_INDEX, strlen(MEDIA_OCI_INDEX))) {
        *supported = 1;
        if (out) {
            buf_reset(out);
            rc = buf_append(out, body.data, body.len);
        }
    } else if (!rc && (resp.status == 401 || resp.status == 403)) {
        rc = registry_status_error(c, &call, &resp);
    }
    registry_response_release(&resp);
    buf_release(&body);
    return rc;
}

/* The fallback index's bytes into out; *found 0 when the tag does not exist. */
static int fallback_get(struct registry_conn *c, int *found, struct buf *out, const char *repo, const char *subject)
{
    char tag[80], mt[256], digest[72];
    registry_referrers_tag(tag, subject);
    buf_reset(out);
    int rc = registry_manifest_get(c, out, mt, digest, repo, tag);
    *found = !rc;
    if (rc == ERR_NOTFOUND) {
        err_clear();
        buf_reset(out);
        return 0;
    }
    if (!rc && !registry_media_is_index(mt))
        rc = err_set(ERR_PARSE, "%s %s/%s:%s: the referrers tag names a %s, not an image index", c->reg->op,
                     c->reg->name, repo, tag, mt);
    return rc;
}

/* The descriptor of the referrer manifest, as the referrers list gives it. */
static int write_descriptor(struct buf *b, const char *digest, const char *media_type, const char *bytes, size_t len)
{
    struct arena arena;
    arena_init(&arena, 4096, 64u << 20);
    struct json_value *root = NULL;
    int rc = json_parse(&root, &arena, bytes, len, digest);
    if (rc)
        goto done;
    const struct json_value *at = json_member(root, "artifactType"), *an = json_member(root, "annotations");
    const struct json_value *cfg = json_member(root, "config");
    if (!at || at->type != JSON_STRING)
        at = cfg ? json_member(cfg, "mediaType") : NULL; /* the spec's rule when artifactType is absent */
    buf_append_str(b, "{");
    if (an && an->type == JSON_OBJECT) {
        buf_append_str(b, "\"annotations\":");
        json_write_value(b, an);
        buf_append_str(b, ",");
    }
    if (at && at->type == JSON_STRING) {
        buf_append_str(b, "\"artifactType\":");
        json_write_string(b, at->as.string.ptr, at->as.string.len);
        buf_append_str(b, ",");
    }
    rc = buf_appendf(b, "\"digest\":\"%s\",\"mediaType\":\"%s\",\"size\":%zu}", digest, media_type, len);
done:
    arena_release(&arena);
    return rc;
}

int registry_referrers_record(struct registry_conn *c, const char *repo, const char *subject, const char *digest,
                              const char *media_type, const char *bytes, size_t len, int subject_ack,
                              int *used_fallback)
{
    if (used_fallback)
        *used_fallback = 0;
    int supported = subject_ack;
    int rc = supported ? 0 : api_get(c, &supported, NULL, repo, subject);
    if (rc || supported)
        return rc;
    struct buf old, doc;
    buf_init(&old, MANIFEST_LIMIT);
    buf_init(&doc, MANIFEST_LIMIT);
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    int found = 0, listed = 0;
    char tag[80];
    registry_referrers_tag(tag, subject);
    if ((rc = fallback_get(c, &found, &old, repo, subject)))
        goto done;
    if (found && (rc = json_parse(&root, &arena, old.data, old.len, tag)))
        goto done;
    const struct json_value *m = root ? json_member(root, "manifests") : NULL;
    if (root && (!m || m->type != JSON_ARRAY)) {
        rc = err_set(ERR_PARSE, "%s %s/%s:%s: the referrers index has no manifests list", c->reg->op, c->reg->name,
                     repo, tag);
        goto done;
    }
    buf_append_str(&doc, "{\"manifests\":[");
    for (const struct json_value *d = m ? m->child : NULL; d; d = d->next) {
        const struct json_value *dg = json_member(d, "digest");
        listed |= dg && dg->type == JSON_STRING && !strcmp(dg->as.string.ptr, digest);
        json_write_value(&doc, d);
        buf_append_str(&doc, ",");
    }
    if (used_fallback)
        *used_fallback = 1;
    if (listed)
        goto done; /* already there: pushing again changes nothing */
    if ((rc = write_descriptor(&doc, digest, media_type, bytes, len)) ||
        (rc = buf_append_str(&doc, "],\"mediaType\":\"" MEDIA_OCI_INDEX "\",\"schemaVersion\":2}")))
        goto done;
    rc = registry_manifest_put(c, repo, tag, doc.data, doc.len, MEDIA_OCI_INDEX, NULL);
done:
    arena_release(&arena);
    buf_release(&old);
    buf_release(&doc);
    return rc;
}

int registry_referrers_list(struct registry_conn *c, struct buf *out, const char *repo, const char *subject)
{
    int supported = 0, found = 0;
    int rc = api_get(c, &supported, out, repo, subject);
    if (rc || supported)
        return rc;
    if ((rc = fallback_get(c, &found, out, repo, subject)))
        return rc;
    if (!found) {
        buf_reset(out);
        rc = buf_append_str(out, "{\"manifests\":[],\"mediaType\":\"" MEDIA_OCI_INDEX "\",\"schemaVersion\":2}");
    }
    return rc;
}

/* The digest of the first descriptor in index (bytes) whose artifactType is artifact_type. */
static int find_referrer(char digest[72], const struct buf *index, const char *artifact_type, const char *what)
{
    digest[0] = '\0';
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    int rc = json_parse(&root, &arena, index->data, index->len, what);
    const struct json_value *m = rc ? NULL : json_member(root, "manifests");
    for (const struct json_value *d = m && m->type == JSON_ARRAY ? m->child : NULL; d && !digest[0]; d = d->next) {
        const struct json_value *at = json_member(d, "artifactType"), *dg = json_member(d, "digest");
        if (at && at->type == JSON_STRING && !strcmp(at->as.string.ptr, artifact_type) && dg &&
            dg->type == JSON_STRING && reference_valid_digest(dg->as.string.ptr))
            snprintf(digest, 72, "%s", dg->as.string.ptr);
    }
    arena_release(&arena);
    return rc;
}

int registry_referrer_pull_file(struct registry_conn *c, char digest[72], const char *repo, const char *subject,
                                const char *artifact_type, const char *dest_path)
{
    struct buf b;
    buf_init(&b, MANIFEST_LIMIT);
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    char what[128], mt[256], got[72];
    snprintf(what, sizeof what, "referrers of %.19s", subject);
    int rc = registry_referrers_list(c, &b, repo, subject);
    if (rc || (rc = find_referrer(digest, &b, artifact_type, what)))
        goto done;
    if (!digest[0]) {
        char tag[80];
        registry_referrers_tag(tag, subject);
        rc = err_set(ERR_NOTFOUND,
                     "%s %s/%s: %s has no %s referrer (neither the referrers API nor the tag %s lists one)", c->reg->op,
                     c->reg->name, repo, subject, artifact_type, tag);
        goto done;
    }
    buf_reset(&b);
    if ((rc = registry_manifest_get(c, &b, mt, got, repo, digest)) ||
        (rc = json_parse(&root, &arena, b.data, b.len, digest)))
        goto done;
    const struct json_value *layers = json_member(root, "layers");
    const struct json_value *l = layers && layers->type == JSON_ARRAY ? layers->child : NULL;
    const struct json_value *ld = l ? json_member(l, "digest") : NULL, *ls = l ? json_member(l, "size") : NULL;
    if (!ld || ld->type != JSON_STRING || !reference_valid_digest(ld->as.string.ptr) || !ls ||
        ls->type != JSON_NUMBER || ls->as.number < 0) {
        rc = err_set(ERR_PARSE, "%s %s/%s: referrer %s: no layer with a sha256 digest and a size", c->reg->op,
                     c->reg->name, repo, digest);
        goto done;
    }
    rc = registry_blob_pull(c, repo, ld->as.string.ptr, (int64_t)ls->as.number, dest_path);
done:
    arena_release(&arena);
    buf_release(&b);
    return rc;
}
