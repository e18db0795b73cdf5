#include "builder/registry/registry_inspect.h"

#include "builder/registry/registry_blob.h"
#include "builder/registry/registry_image.h"
#include "builder/image/reference.h"
#include "common/arena.h"
#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <string.h>

void registry_inspect_init(struct registry_inspect *ri)
{
    memset(ri, 0, sizeof *ri);
    buf_init(&ri->top, MANIFEST_LIMIT);
    buf_init(&ri->manifest, MANIFEST_LIMIT);
    buf_init(&ri->config, MANIFEST_LIMIT);
}

void registry_inspect_release(struct registry_inspect *ri)
{
    buf_release(&ri->top);
    buf_release(&ri->manifest);
    buf_release(&ri->config);
}

static const char *str_member(const struct json_value *v, const char *key)
{
    const struct json_value *m = v ? json_member(v, key) : NULL;
    return m && m->type == JSON_STRING ? m->as.string.ptr : NULL;
}

int registry_inspect_pick_platform(char out[72], const struct buf *index, const char *platform, const char *where)
{
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    int rc = json_parse(&root, &arena, index->data, index->len, where);
    const struct json_value *list = rc ? NULL : json_member(root, "manifests");
    if (!rc && (!list || list->type != JSON_ARRAY))
        rc = err_set(ERR_PARSE, "%s: the index has no manifests list", where);
    char have[512] = "";
    for (const struct json_value *d = list && !rc ? list->child : NULL; d; d = d->next) {
        const struct json_value *p = json_member(d, "platform");
        const char *dg = str_member(d, "digest");
        if (registry_image_platform_matches(d, platform) && dg && reference_valid_digest(dg)) {
            snprintf(out, 72, "%s", dg);
            goto done;
        }
        const char *os = str_member(p, "os"), *arch = str_member(p, "architecture");
        size_t n = strlen(have);
        if (os && arch && n < sizeof have - 80)
            snprintf(have + n, sizeof have - n, "%s%s/%s", n ? ", " : "", os, arch);
    }
    if (!rc)
        rc = err_set(ERR_NOTFOUND, "%s: the index has no image for %s (it has: %s); choose one with --platform", where,
                     platform, have[0] ? have : "none with a platform");
done:
    arena_release(&arena);
    return rc;
}

int registry_inspect_fetch(struct registry_inspect *ri, struct registry *reg, const char *repo, const char *id,
                           const char *platform, int top_only)
{
    struct registry_conn *c = NULL;
    char where[600];
    snprintf(where, sizeof where, "inspect %s/%s", reg->name, repo);
    int rc = registry_conn_new(&c, reg);
    if (rc || (rc = registry_manifest_get(c, &ri->top, ri->top_media_type, ri->top_digest, repo, id)))
        goto done;
    ri->top_is_index = registry_media_is_index(ri->top_media_type);
    if (top_only)
        goto done;
    if (ri->top_is_index) {
        char child[72];
        if ((rc = registry_inspect_pick_platform(child, &ri->top, platform, where)) ||
            (rc = registry_manifest_get(c, &ri->manifest, ri->media_type, ri->digest, repo, child)))
            goto done;
        if (registry_media_is_index(ri->media_type)) {
            rc = err_set(ERR_UNSUPPORTED, "%s: the index entry for %s is itself an index", where, platform);
            goto done;
        }
    } else {
        if ((rc = buf_append(&ri->manifest, ri->top.data, ri->top.len)))
            goto done;
        snprintf(ri->digest, sizeof ri->digest, "%s", ri->top_digest);
        snprintf(ri->media_type, sizeof ri->media_type, "%s", ri->top_media_type);
    }
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    const struct json_value *cfg = NULL;
    if (!(rc = json_parse(&root, &arena, ri->manifest.data, ri->manifest.len, where)))
        cfg = json_member(root, "config");
    const char *cd = str_member(cfg, "digest");
    const struct json_value *size = cfg ? json_member(cfg, "size") : NULL;
    if (!rc && (!cd || !reference_valid_digest(cd) || !size || size->type != JSON_NUMBER))
        rc = err_set(ERR_PARSE, "%s: the manifest %s names no config (sha256 digest and size)", where, ri->digest);
    if (!rc) {
        snprintf(ri->config_digest, sizeof ri->config_digest, "%s", cd);
        rc = registry_blob_get(c, &ri->config, repo, cd, (int64_t)size->as.number);
    }
    arena_release(&arena);
done:
    registry_conn_free(c);
    return rc;
}
