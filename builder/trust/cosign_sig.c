#include "builder/trust/cosign_sig.h"

#include "builder/sys/digest.h"
#include "builder/trust/simple_signing.h"
#include "common/arena.h"
#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 256

void cosign_sig_tag(char out[80], const char *image_digest)
{
    const char *colon = strchr(image_digest, ':');
    snprintf(out, 80, "%.*s-%.64s.sig", colon ? (int)(colon - image_digest) : 6, colon ? image_digest : "sha256",
             colon ? colon + 1 : image_digest);
}

void cosign_layers_free(struct cosign_layer *layers, size_t n)
{
    for (size_t i = 0; layers && i < n; i++)
        free(layers[i].raw);
    free(layers);
}

static int read_layer(struct cosign_layer *l, const struct json_value *d, const char *what, size_t i)
{
    const struct json_value *dg = json_member(d, "digest"), *sz = json_member(d, "size"),
                            *mt = json_member(d, "mediaType"), *an = json_member(d, "annotations");
    if (d->type != JSON_OBJECT || !dg || dg->type != JSON_STRING || dg->as.string.len >= sizeof l->digest || !sz ||
        sz->type != JSON_NUMBER || !(sz->as.number >= 0 && sz->as.number <= 1e12)) /* NaN fails too */
        return err_set(ERR_PARSE, "%s:%d: layers[%zu]: needs a digest and a size", what, d->line, i);
    snprintf(l->digest, sizeof l->digest, "%s", dg->as.string.ptr);
    l->size = (long long)sz->as.number;
    if (mt && mt->type == JSON_STRING)
        snprintf(l->media_type, sizeof l->media_type, "%s", mt->as.string.ptr);
    const struct json_value *s = an && an->type == JSON_OBJECT ? json_member(an, COSIGN_SIGNATURE_ANNOTATION) : NULL;
    if (s && s->type == JSON_STRING) {
        if (s->as.string.len >= sizeof l->signature)
            return err_set(ERR_LIMIT, "%s:%d: layers[%zu]: the signature annotation is too long", what, s->line, i);
        memcpy(l->signature, s->as.string.ptr, s->as.string.len + 1);
    }
    struct buf raw;
    buf_init(&raw, 1u << 20);
    int rc = json_write_value(&raw, d);
    rc = rc ? rc : buf_append(&raw, "", 1);
    if (rc) {
        buf_release(&raw);
        return rc;
    }
    l->raw = raw.data;
    return 0;
}

int cosign_sig_parse(struct cosign_layer **out, size_t *out_n, const char *manifest, size_t len, const char *what)
{
    *out = NULL;
    *out_n = 0;
    struct arena arena;
    arena_init(&arena, 8192, 16u << 20);
    struct json_value *root = NULL;
    struct cosign_layer *layers = NULL;
    size_t n = 0;
    int rc = json_parse(&root, &arena, manifest, len, what);
    if (rc)
        goto done;
    const struct json_value *ls = root->type == JSON_OBJECT ? json_member(root, "layers") : NULL;
    if (!ls || ls->type != JSON_ARRAY) {
        rc = err_set(ERR_PARSE, "%s: not an image manifest (no \"layers\" array)", what);
        goto done;
    }
    if (ls->count > MAX_LAYERS) {
        rc = err_set(ERR_LIMIT, "%s: %zu signatures, more than %d", what, ls->count, MAX_LAYERS);
        goto done;
    }
    if (!(layers = calloc(ls->count ? ls->count : 1, sizeof *layers))) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    for (const struct json_value *d = ls->child; d && !rc; d = d->next)
        rc = read_layer(&layers[n], d, what, n), n++;
done:
    arena_release(&arena);
    if (rc) {
        cosign_layers_free(layers, n);
        return rc;
    }
    *out = layers;
    *out_n = n;
    return 0;
}

static int write_descriptor(struct buf *b, const struct cosign_layer *l)
{
    if (l->raw)
        return buf_append_str(b, l->raw);
    int rc = buf_appendf(b, "{\"annotations\":{\"" COSIGN_SIGNATURE_ANNOTATION "\":");
    rc = rc ? rc : json_write_string(b, l->signature, strlen(l->signature));
    return rc ? rc
              : buf_appendf(b, "},\"digest\":\"%s\",\"mediaType\":\"%s\",\"size\":%lld}", l->digest,
                            l->media_type[0] ? l->media_type : SIMPLE_SIGNING_MEDIA_TYPE, l->size);
}

int cosign_sig_manifest(struct buf *manifest, struct buf *config, const struct cosign_layer *layers, size_t n)
{
    /* What cosign writes as the config: an empty image whose rootfs lists the payloads. */
    int rc = buf_append_str(config, "{\"architecture\":\"\",\"config\":{},\"created\":\"0001-01-01T00:00:00Z\","
                                    "\"history\":[{\"created\":\"0001-01-01T00:00:00Z\"}],\"os\":\"\","
                                    "\"rootfs\":{\"diff_ids\":[");
    for (size_t i = 0; i < n && !rc; i++)
        rc = buf_appendf(config, "%s\"%s\"", i ? "," : "", layers[i].digest);
    rc = rc ? rc : buf_append_str(config, "],\"type\":\"layers\"}}");
    char config_digest[DIGEST_STRING_SIZE];
    rc = rc ? rc : digest_buffer(config_digest, config->data, config->len);
    rc = rc ? rc
            : buf_appendf(manifest,
                          "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                          "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":%zu,"
                          "\"digest\":\"%s\"},\"layers\":[",
                          config->len, config_digest);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = i ? buf_append(manifest, ",", 1) : 0;
        rc = rc ? rc : write_descriptor(manifest, &layers[i]);
    }
    return rc ? rc : buf_append_str(manifest, "]}");
}
