#include "builder/image/oci_image.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/path.h"
#include "builder/image/digest_prefetch.h"
#include "builder/image/layer_cache.h"
#include "builder/image/tar_writer.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

const char *oci_host_architecture(void)
{
    static const char *const names[][2] = {
        {"x86_64", "amd64"}, {"aarch64", "arm64"}, {"ppc64le", "ppc64le"}, {"s390x", "s390x"}, {"riscv64", "riscv64"},
    };
    struct utsname u;
    if (uname(&u) == 0)
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (!strcmp(u.machine, names[i][0]))
                return names[i][1];
    return "amd64";
}

void oci_image_release(struct oci_image *image)
{
    for (size_t i = 0; i < image->n_layers; i++)
        oci_blob_release(&image->layers[i]);
    free(image->layers);
    oci_blob_release(&image->config);
    oci_blob_release(&image->manifest);
    free(image->ref_name);
    memset(image, 0, sizeof *image);
}

/* Stores a JSON document as a blob file in work_dir. */
static int write_json_blob(struct oci_blob *out, const struct buf *doc, const char *media_type, const char *work_dir)
{
    memset(out, 0, sizeof *out);
    int rc = digest_buffer(out->digest, doc->data, doc->len);
    if (rc)
        return rc;
    out->path = path_join(work_dir, out->digest + 7);
    if (!out->path)
        return err_set(ERR_NOMEM, "out of memory");
    FILE *f = fopen(out->path, "wb");
    if (!f || fwrite(doc->data, 1, doc->len, f) != doc->len || fclose(f) != 0) {
        if (f)
            fclose(f);
        return err_set_write(ERR_IO, "%s: write failed", out->path);
    }
    out->size = (int64_t)doc->len;
    out->media_type = media_type;
    return 0;
}

/* The host paths of a layer's entries, as one array (malloc'd). */
static const char **host_paths(const struct plan_layer *layer)
{
    const char **paths = calloc(layer->n_entries ? layer->n_entries : 1, sizeof *paths);
    for (size_t i = 0; paths && i < layer->n_entries; i++)
        paths[i] = layer->entries[i].host_path;
    return paths;
}

static int resolve_auto(enum oci_compression *c, const struct plan_layer *layer)
{
    if (*c != OCI_COMPRESSION_AUTO)
        return 0;
    const char **paths = host_paths(layer);
    int rc = paths ? oci_layer_choose_compression(c, paths, layer->n_entries) : err_set(ERR_NOMEM, "out of memory");
    free(paths);
    return rc;
}

int oci_image_prefetch_digests(struct digest_prefetch **out, const struct plan *plan, struct cache *memo)
{
    size_t n = 0;
    for (size_t i = 0; i < plan->n_layers; i++)
        n += plan->layers[i].n_entries;
    const char **paths = calloc(n ? n : 1, sizeof *paths);
    if (!paths)
        return err_set(ERR_NOMEM, "out of memory");
    n = 0;
    for (size_t i = 0; i < plan->n_layers; i++)
        for (size_t j = 0; j < plan->layers[i].n_entries; j++)
            paths[n++] = plan->layers[i].entries[j].host_path;
    int rc = digest_prefetch_start(out, memo, paths, n, OCI_IMAGE_PREFETCH_MIN_FILE);
    free(paths);
    return rc;
}

/* A plain tar layer staged for an archive keeps room for its tar header in
 * front, so the archive can be built around it instead of copying it. */
static int write_layer(struct oci_blob *out, const struct plan_layer *layer, enum oci_compression compression,
                       const char *work_dir, long long mtime, unsigned flags)
{
    struct oci_layer_writer *w;
    int rc = resolve_auto(&compression, layer);
    if (rc || (rc = oci_layer_begin(&w, work_dir, mtime, compression, layer->gzip_level)))
        return rc;
    if ((flags & OCI_IMAGE_FOR_ARCHIVE) && compression == OCI_COMPRESSION_NONE)
        rc = oci_layer_leave_room(w, TAR_BLOCK);
    for (size_t i = 0; i < layer->n_entries && !rc; i++)
        rc = oci_layer_add_tree(w, layer->entries[i].image_path, layer->entries[i].host_path);
    if (rc) {
        oci_layer_abort(w);
        return rc;
    }
    return oci_layer_finish(w, out);
}

/* Above this, auto is resolved before the key is computed: weights that end
 * up as a plain tar are never kept, so hashing them for a key would be a
 * second read for nothing. */
#define LAYER_CACHE_HASH_FIRST (64 << 20)

/* A layer from the cache when the same tar was compressed the same way before, else written (and kept). */
static int build_layer(struct oci_blob *out, const struct plan_layer *layer, enum oci_compression compression,
                       const char *work_dir, long long mtime, struct cache *cache, unsigned flags,
                       struct digest_prefetch *prefetch)
{
    int rc = 0;
    if (cache && compression == OCI_COMPRESSION_AUTO) {
        int64_t total = 0;
        for (size_t i = 0; i < layer->n_entries && !rc; i++)
            rc = oci_layer_input_bytes(layer->entries[i].host_path, &total);
        if (!rc && total > LAYER_CACHE_HASH_FIRST)
            rc = resolve_auto(&compression, layer);
        if (rc)
            return rc;
    }
    if (!cache || compression == OCI_COMPRESSION_NONE)
        return write_layer(out, layer, compression, work_dir, mtime, flags);
    /* The key needs the digests of this layer's files: wait for those being hashed. */
    if (prefetch) {
        const char **paths = host_paths(layer);
        if (!paths)
            return err_set(ERR_NOMEM, "out of memory");
        if (digest_prefetch_covers(prefetch, paths, layer->n_entries))
            digest_prefetch_wait(prefetch);
        free(paths);
    }
    struct layer_cache_key key;
    if ((rc = layer_cache_key(&key, cache, layer, compression, mtime)))
        return rc;
    if ((rc = layer_cache_find(cache, &key, out)) != ERR_NOTFOUND)
        return rc;
    /* Only compressed layers are kept, so a plain one may be staged for an archive. */
    if (!(rc = write_layer(out, layer, compression, work_dir, mtime, flags)) &&
        strcmp(out->media_type, OCI_MEDIA_TYPE_LAYER))
        layer_cache_keep(cache, &key, out);
    return rc;
}

static int write_string_array(struct buf *b, char *const *items, size_t n)
{
    int rc = buf_append(b, "[", 1);
    for (size_t i = 0; i < n && !rc; i++) {
        if (i)
            rc = buf_append(b, ",", 1);
        if (!rc)
            rc = json_write_string(b, items[i], strlen(items[i]));
    }
    return rc ? rc : buf_append(b, "]", 1);
}

static size_t env_name_len(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq ? (size_t)(eq - entry) : strlen(entry);
}

static int env_has_name(char *const *env, size_t n, const char *entry)
{
    size_t len = env_name_len(entry);
    for (size_t i = 0; i < n; i++)
        if (env_name_len(env[i]) == len && !strncmp(env[i], entry, len))
            return 1;
    return 0;
}

static int append_item(struct buf *b, int *first, const char *s, size_t len)
{
    int rc = *first ? 0 : buf_append(b, ",", 1);
    *first = 0;
    return rc ? rc : json_write_string(b, s, len);
}

static int env_is(const char *entry, const char *name)
{
    return env_name_len(entry) == strlen(name) && !strncmp(entry, name, strlen(name));
}

/* Env by the merge rules of struct oci_base. */
static int write_env(struct buf *b, const struct plan *plan, const struct oci_base *base)
{
    int rc = buf_append(b, "[", 1), first = 1;
    const char *base_path = NULL, *base_libs = NULL;
    for (size_t i = 0; base && i < base->n_env && !rc; i++) {
        const char *e = base->env[i], *value = e + env_name_len(e) + (e[env_name_len(e)] == '=');
        if (env_is(e, "PATH"))
            base_path = value;
        else if (env_is(e, "LD_LIBRARY_PATH") && plan->environment.cuda_library_path)
            base_libs = value[0] ? value : NULL;
        else if (!env_has_name(plan->env, plan->n_env, e))
            rc = append_item(b, &first, e, strlen(e));
    }
    const char *prefix = plan->environment.conda_prefix;
    for (size_t i = 0; i < plan->n_env && !rc; i++) {
        const char *e = plan->env[i];
        char *merged = NULL;
        if (base_path && env_is(e, "PATH")) {
            if (asprintf(&merged, "PATH=%s%s%s", prefix ? prefix : "", prefix ? "/bin:" : "", base_path) < 0)
                return ERR_NOMEM;
        } else if (base_libs && env_is(e, "LD_LIBRARY_PATH") && plan_env_is_gpu_variable(&plan->environment, e)) {
            if (asprintf(&merged, "%s:%s", e, base_libs) < 0)
                return ERR_NOMEM;
        }
        rc = append_item(b, &first, merged ? merged : e, strlen(merged ? merged : e));
        free(merged);
    }
    return rc ? rc : buf_append(b, "]", 1);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int compare_label_ptrs(const void *a, const void *b)
{
    return strcmp((*(const struct plan_label *const *)a)->key, (*(const struct plan_label *const *)b)->key);
}

/* Labels: the base's and ours, ours winning, sorted by key. */
static int write_labels(struct buf *b, const struct plan *plan, const struct oci_base *base)
{
    size_t n_base = base ? base->n_labels : 0, n = 0;
    const struct plan_label **all = calloc(plan->n_labels + n_base + 1, sizeof *all);
    if (!all)
        return ERR_NOMEM;
    for (size_t i = 0; i < plan->n_labels; i++)
        all[n++] = &plan->labels[i];
    for (size_t i = 0; i < n_base; i++) {
        int ours = 0;
        for (size_t j = 0; j < plan->n_labels && !ours; j++)
            ours = !strcmp(plan->labels[j].key, base->labels[i].key);
        for (size_t j = plan->n_labels; j < n && !ours; j++)
            ours = !strcmp(all[j]->key, base->labels[i].key); /* a duplicate in the base: first wins */
        if (!ours)
            all[n++] = &base->labels[i];
    }
    qsort(all, n, sizeof *all, compare_label_ptrs);
    int rc = buf_append(b, "{", 1);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = i ? buf_append(b, ",", 1) : 0;
        rc = rc ? rc : json_write_string(b, all[i]->key, strlen(all[i]->key));
        rc = rc ? rc : buf_append(b, ":", 1);
        rc = rc ? rc : json_write_string(b, all[i]->value, strlen(all[i]->value));
    }
    free(all);
    return rc ? rc : buf_append(b, "}", 1);
}

/* ExposedPorts: ours and the base's, sorted, each once. */
static int write_ports(struct buf *b, const struct plan *plan, const struct oci_base *base)
{
    size_t n_base = base ? base->n_ports : 0, n = 0;
    char ours[32];
    snprintf(ours, sizeof ours, "%d/tcp", plan->port);
    const char **all = calloc(n_base + 1, sizeof *all);
    if (!all)
        return ERR_NOMEM;
    all[n++] = ours;
    for (size_t i = 0; i < n_base; i++)
        all[n++] = base->ports[i];
    qsort(all, n, sizeof *all, compare_strings);
    int rc = buf_append(b, "{", 1);
    for (size_t i = 0; i < n && !rc; i++) {
        if (i && !strcmp(all[i], all[i - 1]))
            continue;
        rc = i ? buf_append(b, ",", 1) : 0;
        rc = rc ? rc : json_write_string(b, all[i], strlen(all[i]));
        rc = rc ? rc : buf_append_str(b, ":{}");
    }
    free(all);
    return rc ? rc : buf_append(b, "}", 1);
}

/* Keys in byte order at every level, no whitespace: one canonical text. */
static int config_json(struct buf *b, const struct plan *plan, const struct oci_base *base,
                       const struct oci_image *image, const char *created)
{
    int rc = buf_append_str(b, "{\"architecture\":");
    const char *arch = base && base->architecture ? base->architecture : oci_host_architecture();
    rc = rc ? rc : json_write_string(b, arch, strlen(arch));
    rc = rc ? rc : buf_append_str(b, ",\"config\":{\"Entrypoint\":");
    char *entry[] = {plan->entrypoint};
    rc = rc ? rc : write_string_array(b, entry, 1);
    rc = rc ? rc : buf_append_str(b, ",\"Env\":");
    rc = rc ? rc : write_env(b, plan, base);
    rc = rc ? rc : buf_append_str(b, ",\"ExposedPorts\":");
    rc = rc ? rc : write_ports(b, plan, base);
    rc = rc ? rc : buf_append_str(b, ",\"Labels\":");
    rc = rc ? rc : write_labels(b, plan, base);
    rc = rc ? rc : buf_append_str(b, ",\"StopSignal\":\"SIGTERM\"");
    if (!rc && base && base->user && base->user[0]) {
        rc = buf_append_str(b, ",\"User\":");
        rc = rc ? rc : json_write_string(b, base->user, strlen(base->user));
    }
    rc = rc ? rc : buf_append_str(b, ",\"WorkingDir\":");
    rc = rc ? rc : json_write_string(b, plan->workdir, strlen(plan->workdir));
    rc = rc ? rc : buf_appendf(b, "},\"created\":\"%s\",\"history\":[", created);
    size_t n_base_history = base ? base->n_history : 0;
    for (size_t i = 0; i < n_base_history && !rc; i++)
        rc = buf_appendf(b, "%s%s", i ? "," : "", base->history[i]);
    for (size_t i = 0; i < plan->n_layers && !rc; i++) {
        rc = buf_appendf(b, "%s{\"created\":\"%s\",\"created_by\":", i || n_base_history ? "," : "", created);
        const char *by = plan->layers[i].created_by;
        rc = rc ? rc : json_write_string(b, by, strlen(by));
        rc = rc ? rc : buf_append(b, "}", 1);
    }
    const char *os = base && base->os ? base->os : "linux";
    rc = rc ? rc : buf_append_str(b, "],\"os\":");
    rc = rc ? rc : json_write_string(b, os, strlen(os));
    rc = rc ? rc : buf_append_str(b, ",\"rootfs\":{\"diff_ids\":[");
    for (size_t i = 0; i < image->n_layers && !rc; i++)
        rc = buf_appendf(b, "%s\"%s\"", i ? "," : "", image->layers[i].diff_id);
    rc = rc ? rc : buf_append_str(b, "],\"type\":\"layers\"}");
    if (!rc && base && base->variant && base->variant[0]) {
        rc = buf_append_str(b, ",\"variant\":");
        rc = rc ? rc : json_write_string(b, base->variant, strlen(base->variant));
    }
    return rc ? rc : buf_append(b, "}", 1);
}

static int descriptor_json(struct buf *b, const struct oci_blob *blob)
{
    return buf_appendf(b, "{\"digest\":\"%s\",\"mediaType\":\"%s\",\"size\":%lld}", blob->digest, blob->media_type,
                       (long long)blob->size);
}

static int manifest_json(struct buf *b, const struct plan *plan, const struct oci_image *image, const char *created)
{
    int rc = buf_append_str(b, "{\"annotations\":{\"org.opencontainers.image.created\":");
    rc = rc ? rc : json_write_string(b, created, strlen(created));
    rc = rc ? rc : buf_append_str(b, ",\"org.opencontainers.image.title\":");
    rc = rc ? rc : json_write_string(b, plan->image_name, strlen(plan->image_name));
    rc = rc ? rc : buf_append_str(b, "},\"config\":");
    rc = rc ? rc : descriptor_json(b, &image->config);
    rc = rc ? rc : buf_append_str(b, ",\"layers\":[");
    for (size_t i = 0; i < image->n_layers && !rc; i++) {
        rc = i ? buf_append(b, ",", 1) : 0;
        rc = rc ? rc : descriptor_json(b, &image->layers[i]);
    }
    return rc ? rc : buf_appendf(b, "],\"mediaType\":\"%s\",\"schemaVersion\":2}", OCI_MEDIA_TYPE_MANIFEST);
}

int oci_image_build(struct oci_image *out, const struct plan *plan, const struct oci_base *base,
                    enum oci_compression compression, const char *work_dir, struct cache *layer_cache, unsigned flags,
                    struct digest_prefetch *prefetch)
{
    memset(out, 0, sizeof *out);
    struct buf doc;
    buf_init(&doc, 0);
    const char *created = plan->created_text;
    int rc = 0;
    size_t n_base = base ? base->n_layers : 0;
    out->layers = calloc(n_base + plan->n_layers + 1, sizeof *out->layers);
    if (!out->layers || asprintf(&out->ref_name, "%s:%s", plan->image_name, plan->image_tag) < 0) {
        out->ref_name = NULL;
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_base && !rc; i++) {
        struct oci_blob *l = &out->layers[out->n_layers];
        *l = base->layers[i];
        if (!(l->path = strdup(base->layers[i].path)))
            rc = err_set(ERR_NOMEM, "out of memory");
        else
            out->n_layers++;
    }
    for (size_t i = 0; i < plan->n_layers && !rc; i++) {
        rc = build_layer(&out->layers[out->n_layers], &plan->layers[i], compression, work_dir, plan->created,
                         layer_cache, flags, prefetch);
        if (!rc)
            out->n_layers++;
    }
    if (rc)
        goto done;
    if ((rc = config_json(&doc, plan, base, out, created)) ||
        (rc = write_json_blob(&out->config, &doc, OCI_MEDIA_TYPE_CONFIG, work_dir)))
        goto done;
    buf_reset(&doc);
    if ((rc = manifest_json(&doc, plan, out, created)) ||
        (rc = write_json_blob(&out->manifest, &doc, OCI_MEDIA_TYPE_MANIFEST, work_dir)))
        goto done;
done:
    if (rc == ERR_NOMEM || rc == ERR_LIMIT)
        err_set(rc, "out of memory while writing the image");
    buf_release(&doc);
    if (rc)
        oci_image_release(out);
    return rc;
}
