#include "builder/trust/trust_store.h"

#include "builder/image/oci_layer.h"
#include "builder/image/oci_layout.h"
#include "builder/image/reference.h"
#include "builder/image/tar_writer.h"
#include "builder/registry/registry_blob.h"
#include "builder/registry/registry_referrers.h"
#include "builder/sys/digest.h"
#include "builder/sys/fsutil.h"
#include "builder/trust/cosign_sig.h"
#include "builder/trust/provenance.h"
#include "builder/trust/sigstore_bundle.h"
#include "common/arena.h"
#include "builder/image/plan.h"
#include "common/err.h"
#include "common/path.h"
#include "common/json.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARTIFACT_FOR_KEY "com.amlpkg.artifact.for"
#define INDEX_LIMIT (16u << 20)

#define BUNDLES_KEY "com.amlpkg.bundles"

/* The annotation of an oci-archive's image entry that names the artifact of this type, or NULL.
 * Signatures and provenance name one manifest (the signature manifest gathers every signature);
 * bundles are one manifest each, so theirs is a comma-separated list. */
static const char *archive_key(const char *artifact_type)
{
    if (!strcmp(artifact_type, COSIGN_SIG_ARTIFACT_TYPE))
        return "com.amlpkg.signatures";
    if (!strcmp(artifact_type, PROVENANCE_PAYLOAD_TYPE))
        return "com.amlpkg.provenance";
    return !strcmp(artifact_type, SIGSTORE_BUNDLE_MEDIA_TYPE) ? BUNDLES_KEY : NULL;
}

void trust_store_close(struct trust_store *s)
{
    registry_conn_free(s->c);
    if (s->own_reg)
        registry_free(s->reg);
    if (!s->borrowed_src)
        image_source_free(s->src);
    if (s->work)
        fs_remove_tree(s->work);
    free(s->work);
    memset(s, 0, sizeof *s);
}

static int make_work(struct trust_store *s)
{
    return fs_make_tmp_dir(&s->work, "amlpkg-trust-");
}

/* A path on disk (file, directory, or DIR:NAME:TAG) rather than a registry reference. */
static int is_local(const char *target)
{
    struct stat st;
    if (stat(target, &st) == 0)
        return 1;
    for (const char *c = strchr(target, ':'); c; c = strchr(c + 1, ':')) {
        char dir[4096];
        if ((size_t)(c - target) >= sizeof dir)
            break;
        memcpy(dir, target, (size_t)(c - target));
        dir[c - target] = '\0';
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return 1;
    }
    return 0;
}

static int open_local(struct trust_store *s, const char *target)
{
    char media_type[256], ref_name[256];
    int64_t size;
    int rc = image_source_open(&s->src, target);
    if (rc || (rc = image_source_top(s->src, s->image_digest, media_type, &size, ref_name)))
        return rc;
    s->is_archive = s->src->temp_dir != NULL;
    if (s->is_archive) {
        if (s->src->docker_archive) /* docker load would not keep a signature beside the image */
            return err_set(ERR_UNSUPPORTED,
                           "%s: a docker-archive has no place for a signature; sign an oci-archive, a layout or "
                           "the pushed image",
                           target);
    }
    s->image_size = size;
    snprintf(s->image_media_type, sizeof s->image_media_type, "%s", media_type);
    snprintf(s->default_identity, sizeof s->default_identity, "%s", ref_name);
    snprintf(s->location, sizeof s->location, "%s", target);
    return make_work(s);
}

static int open_remote(struct trust_store *s, const char *target, const struct registry_options *opt)
{
    struct reference ref;
    struct buf m;
    buf_init(&m, MANIFEST_LIMIT);
    char media_type[256];
    int rc = reference_parse(&ref, target);
    if (rc)
        return rc;
    snprintf(s->repo, sizeof s->repo, "%s", ref.repository);
    s->own_reg = 1;
    if ((rc = registry_open(&s->reg, ref.registry, opt)) || (rc = registry_conn_new(&s->c, s->reg)) ||
        (rc = registry_manifest_get(s->c, &m, media_type, s->image_digest, s->repo, reference_manifest_id(&ref))))
        goto done;
    s->image_size = (long long)m.len;
    snprintf(s->image_media_type, sizeof s->image_media_type, "%s", media_type);
    struct reference named = ref;
    named.digest[0] = '\0';
    reference_format(s->default_identity, sizeof s->default_identity, &named);
    if (!ref.tag[0]) /* by digest: the repository is the identity (what podman matches for a digest pull) */
        snprintf(s->default_identity, sizeof s->default_identity, "%s/%s", ref.registry, ref.repository);
    snprintf(s->location, sizeof s->location, "%s/%s", ref.registry, ref.repository);
    rc = make_work(s);
done:
    buf_release(&m);
    return rc;
}

int trust_store_open(struct trust_store *s, const char *target, const struct registry_options *opt)
{
    memset(s, 0, sizeof *s);
    /* Transports as skopeo writes them (docker://, oci-archive:, oci:); without one, what exists on disk is
     * local and anything else a registry reference (Docker Hub short names included). */
    struct image_location loc;
    int rc = image_location_parse(&loc, target);
    if (rc)
        return rc;
    if (loc.transport == IMAGE_UNSPECIFIED)
        return is_local(target) ? open_local(s, target) : open_remote(s, target, opt);
    return loc.transport == IMAGE_REGISTRY ? open_remote(s, loc.rest, opt) : open_local(s, target);
}

int trust_store_use_source(struct trust_store *s, struct image_source *src)
{
    memset(s, 0, sizeof *s);
    char media_type[256], ref_name[256];
    int64_t size;
    s->src = src;
    s->borrowed_src = 1;
    s->is_archive = src->temp_dir != NULL;
    int rc = image_source_top(src, s->image_digest, media_type, &size, ref_name);
    if (rc)
        return rc;
    s->image_size = size;
    snprintf(s->image_media_type, sizeof s->image_media_type, "%s", media_type);
    snprintf(s->default_identity, sizeof s->default_identity, "%s", ref_name);
    snprintf(s->location, sizeof s->location, "%s", src->path);
    return make_work(s);
}

int trust_store_attach(struct trust_store *s, struct registry *reg, const char *repo, const char *digest)
{
    memset(s, 0, sizeof *s);
    s->reg = reg;
    snprintf(s->repo, sizeof s->repo, "%s", repo);
    snprintf(s->image_digest, sizeof s->image_digest, "%s", digest);
    snprintf(s->location, sizeof s->location, "%s/%s", reg->name, repo);
    struct buf m;
    buf_init(&m, MANIFEST_LIMIT);
    char got[72];
    /* The manifest's size and media type, for a referrer's subject descriptor. */
    int rc = registry_conn_new(&s->c, reg);
    rc = rc ? rc : registry_manifest_get(s->c, &m, s->image_media_type, got, repo, digest);
    s->image_size = (long long)m.len;
    buf_release(&m);
    return rc ? rc : make_work(s);
}

/* In a layout's (or unpacked archive's) index.json: the artifact of this type kept for the image. */
static int local_find(const struct trust_store *s, char found[][72], size_t *n, const char *artifact_type)
{
    struct buf b;
    buf_init(&b, INDEX_LIMIT);
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    char *path = path_join(s->src->root, "index.json");
    const char *key = archive_key(artifact_type);
    int rc = path ? buf_read_file(&b, path) : err_set(ERR_NOMEM, "out of memory");
    key = key ? key : "";
    if (rc || (rc = json_parse(&root, &arena, b.data, b.len, s->location)))
        goto done;
    const struct json_value *ms = json_member(root, "manifests");
    for (const struct json_value *d = ms && ms->type == JSON_ARRAY ? ms->child : NULL; d; d = d->next) {
        const struct json_value *t = json_member(d, "artifactType"), *an = json_member(d, "annotations");
        const struct json_value *f = an ? json_member(an, ARTIFACT_FOR_KEY) : NULL, *dg = json_member(d, "digest");
        const struct json_value *named = an ? json_member(an, key) : NULL;
        int is_image = dg && dg->type == JSON_STRING && !strcmp(dg->as.string.ptr, s->image_digest);
        const char *hit = NULL;
        if (is_image && named && named->type == JSON_STRING) {
            /* One digest, or (bundles) several separated by commas. */
            for (const char *p = named->as.string.ptr; *p && *n < TRUST_STORE_MAX_FOUND;) {
                size_t len = strcspn(p, ",");
                char one[72];
                snprintf(one, sizeof one, "%.*s", (int)(len < 71 ? len : 71), p);
                if (len < sizeof one && reference_valid_digest(one))
                    snprintf(found[(*n)++], 72, "%s", one);
                p += len + (p[len] == ',');
            }
        } else if (t && t->type == JSON_STRING && !strcmp(t->as.string.ptr, artifact_type) && f &&
                 f->type == JSON_STRING && !strcmp(f->as.string.ptr, s->image_digest) && dg &&
                 dg->type == JSON_STRING && reference_valid_digest(dg->as.string.ptr))
            hit = dg->as.string.ptr;
        if (hit && *n < TRUST_STORE_MAX_FOUND)
            snprintf(found[(*n)++], 72, "%s", hit);
    }
done:
    free(path);
    arena_release(&arena);
    buf_release(&b);
    return rc;
}

/* The registry's referrers of the image with this artifactType. */
static int remote_referrers(struct trust_store *s, char found[][72], size_t *n, const char *artifact_type)
{
    struct buf b;
    buf_init(&b, MANIFEST_LIMIT);
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    int rc = registry_referrers_list(s->c, &b, s->repo, s->image_digest);
    if (rc || (rc = json_parse(&root, &arena, b.data, b.len, "referrers")))
        goto done;
    const struct json_value *ms = json_member(root, "manifests");
    for (const struct json_value *d = ms && ms->type == JSON_ARRAY ? ms->child : NULL; d; d = d->next) {
        const struct json_value *t = json_member(d, "artifactType"), *dg = json_member(d, "digest");
        if (t && t->type == JSON_STRING && !strcmp(t->as.string.ptr, artifact_type) && dg && dg->type == JSON_STRING &&
            reference_valid_digest(dg->as.string.ptr) && *n < TRUST_STORE_MAX_FOUND)
            snprintf(found[(*n)++], 72, "%s", dg->as.string.ptr);
    }
done:
    arena_release(&arena);
    buf_release(&b);
    return rc;
}

int trust_store_find(struct trust_store *s, char found[][72], size_t *n_found, const char *artifact_type,
                     const char *tag)
{
    *n_found = 0;
    if (s->src)
        return local_find(s, found, n_found, artifact_type);
    if (!tag)
        return remote_referrers(s, found, n_found, artifact_type);
    /* cosign's tag: HEAD-free, a GET tells both whether it is there and its digest. */
    struct buf m;
    buf_init(&m, MANIFEST_LIMIT);
    char media_type[256], digest[72];
    int rc = registry_manifest_get(s->c, &m, media_type, digest, s->repo, tag);
    if (rc == ERR_NOTFOUND) {
        err_clear();
        rc = 0;
    } else if (!rc) {
        snprintf(found[(*n_found)++], 72, "%s", digest);
    }
    buf_release(&m);
    return rc;
}

int trust_store_read(struct trust_store *s, struct buf *out, const char *digest, long long size, int manifest)
{
    if (!reference_valid_digest(digest))
        return err_set(ERR_PARSE, "%s: digest '%.80s' is not sha256:<hex>", s->location, digest);
    if (s->src)
        return image_source_read_blob(s->src, out, digest);
    if (manifest) {
        char media_type[256], got[72];
        return registry_manifest_get(s->c, out, media_type, got, s->repo, digest);
    }
    char *path = path_join(s->work, digest + 7);
    int rc = path ? registry_blob_pull(s->c, s->repo, digest, size, path) : err_set(ERR_NOMEM, "out of memory");
    rc = rc ? rc : buf_read_file(out, path);
    if (path)
        unlink(path);
    free(path);
    return rc;
}

static int write_blob(struct oci_blob *b, const char *work, const struct buf *data, const char *media_type)
{
    memset(b, 0, sizeof *b);
    int rc = digest_buffer(b->digest, data->data, data->len);
    if (rc || !(b->path = path_join(work, b->digest + 7)))
        return rc ? rc : err_set(ERR_NOMEM, "out of memory");
    b->size = (int64_t)data->len;
    b->media_type = media_type;
    FILE *f = fopen(b->path, "wbe");
    if (!f || fwrite(data->data, 1, data->len, f) != data->len) {
        if (f)
            fclose(f);
        return err_set_write(ERR_IO, "%s: cannot write", b->path);
    }
    return fclose(f) == 0 ? 0 : err_set_write(ERR_IO, "%s: cannot write", b->path);
}

/* Copies a blob file into the layout under its digest (kept when it is there already). */
static int place_blob(const char *root, const struct oci_blob *b)
{
    char name[100];
    snprintf(name, sizeof name, "blobs/sha256/%s", b->digest + 7);
    char *dest = path_join(root, name);
    FILE *out = NULL;
    char *tmp = NULL;
    struct buf data;
    buf_init(&data, 0);
    int rc = dest ? buf_read_file(&data, b->path) : err_set(ERR_NOMEM, "out of memory");
    if (!rc && access(dest, F_OK) != 0 && !(rc = fs_temp_beside(&out, &tmp, dest))) {
        if (fwrite(data.data, 1, data.len, out) != data.len) {
            fclose(out);
            unlink(tmp);
            rc = err_set_write(ERR_IO, "%s: write failed", dest);
        } else {
            rc = fs_commit(out, tmp, dest);
        }
    }
    free(tmp);
    free(dest);
    buf_release(&data);
    return rc;
}

/* index.json of the unpacked archive with the image's entry annotated key = digest. */
static int annotate_index(const struct trust_store *s, const char *key, const char *digest)
{
    struct buf old, doc;
    buf_init(&old, INDEX_LIMIT);
    buf_init(&doc, 0);
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    char *path = path_join(s->src->root, "index.json");
    FILE *f = NULL;
    char *tmp = NULL;
    int rc = path ? buf_read_file(&old, path) : err_set(ERR_NOMEM, "out of memory");
    if (rc || (rc = json_parse(&root, &arena, old.data, old.len, s->location)))
        goto done;
    if (root->type != JSON_OBJECT) {
        rc = err_set(ERR_PARSE, "%s: index.json is not an object", s->location);
        goto done;
    }
    rc = buf_append(&doc, "{", 1);
    for (const struct json_value *m = root->child; m && !rc; m = m->next) {
        rc = m != root->child ? buf_append(&doc, ",", 1) : 0;
        rc = rc ? rc : json_write_string(&doc, m->key, m->key_len);
        rc = rc ? rc : buf_append(&doc, ":", 1);
        if (rc || strcmp(m->key, "manifests") || m->type != JSON_ARRAY) {
            rc = rc ? rc : json_write_value(&doc, m);
            continue;
        }
        rc = buf_append(&doc, "[", 1);
        for (const struct json_value *d = m->child; d && !rc; d = d->next) {
            const struct json_value *dg = json_member(d, "digest");
            rc = d != m->child ? buf_append(&doc, ",", 1) : 0;
            if (rc || d->type != JSON_OBJECT || !dg || dg->type != JSON_STRING ||
                strcmp(dg->as.string.ptr, s->image_digest) || json_member(d, "artifactType")) {
                rc = rc ? rc : json_write_value(&doc, d);
                continue;
            }
            /* The image's entry: its members as they were, annotations plus ours. */
            rc = buf_append_str(&doc, "{\"annotations\":{");
            const struct json_value *an = json_member(d, "annotations");
            int n = 0;
            const char *kept = ""; /* bundles: the list so far, the new one appended */
            for (const struct json_value *a = an && an->type == JSON_OBJECT ? an->child : NULL; a && !rc; a = a->next) {
                if (!strcmp(a->key, key)) {
                    if (!strcmp(key, BUNDLES_KEY) && a->type == JSON_STRING)
                        kept = a->as.string.ptr;
                    continue;
                }
                rc = n++ ? buf_append(&doc, ",", 1) : 0;
                rc = rc ? rc : json_write_string(&doc, a->key, a->key_len);
                rc = rc ? rc : buf_append(&doc, ":", 1);
                rc = rc ? rc : json_write_value(&doc, a);
            }
            rc = rc ? rc : buf_appendf(&doc, "%s", n ? "," : "");
            rc = rc ? rc : json_write_string(&doc, key, strlen(key));
            int listed = strstr(kept, digest) != NULL;
            rc = rc ? rc : buf_appendf(&doc, ":\"%s%s%s\"}", kept, kept[0] && !listed ? "," : "", listed ? "" : digest);
            for (const struct json_value *x = d->child; x && !rc; x = x->next) {
                if (!strcmp(x->key, "annotations"))
                    continue;
                rc = buf_append(&doc, ",", 1);
                rc = rc ? rc : json_write_string(&doc, x->key, x->key_len);
                rc = rc ? rc : buf_append(&doc, ":", 1);
                rc = rc ? rc : json_write_value(&doc, x);
            }
            rc = rc ? rc : buf_append(&doc, "}", 1);
        }
        rc = rc ? rc : buf_append(&doc, "]", 1);
    }
    rc = rc ? rc : buf_append(&doc, "}", 1);
    if (rc || (rc = fs_temp_beside(&f, &tmp, path)))
        goto done;
    if (fwrite(doc.data, 1, doc.len, f) != doc.len) {
        fclose(f);
        unlink(tmp);
        rc = err_set_write(ERR_IO, "%s: write failed", path);
    } else {
        rc = fs_commit(f, tmp, path);
    }
done:
    free(tmp);
    free(path);
    arena_release(&arena);
    buf_release(&old);
    buf_release(&doc);
    return rc;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Writes the layout at root as the oci-archive target (beside it, then renamed over it). */
static int rewrite_archive(const char *root, const char *target)
{
    struct tar_writer t = {.fd = -1, .target = target};
    long long epoch = 0;
    int bad_epoch = plan_source_date_epoch(&epoch); /* the archive's times, as build wrote them */
    if (bad_epoch)
        return bad_epoch;
    t.mtime = epoch;
    char *blob_dir = path_join(root, "blobs/sha256"), **names = NULL, *tmp_path = NULL;
    size_t n = 0, cap = 0;
    struct buf small;
    buf_init(&small, INDEX_LIMIT);
    DIR *d = blob_dir ? opendir(blob_dir) : NULL;
    int rc = d ? 0 : err_set_errno(ERR_IO, "%s: cannot list", blob_dir ? blob_dir : root);
    for (struct dirent *e; !rc && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **grown = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
            if (!grown) {
                rc = err_set(ERR_NOMEM, "out of memory");
                break;
            }
            names = grown;
        }
        if (!(names[n++] = strdup(e->d_name)))
            rc = err_set(ERR_NOMEM, "out of memory");
    }
    if (d)
        closedir(d);
    if (rc)
        goto done;
    qsort(names, n, sizeof *names, compare_names);
    FILE *f;
    if ((rc = fs_temp_beside(&f, &tmp_path, target)))
        goto done;
    t.fd = dup(fileno(f));
    fclose(f);
    if (t.fd < 0) {
        rc = err_set_errno(ERR_IO, "%s: cannot open the temporary file", target);
        goto done;
    }
    static const char *const top[] = {"oci-layout", "index.json"};
    for (size_t i = 0; i < 2 && !rc; i++) {
        char *p = path_join(root, top[i]);
        buf_reset(&small);
        rc = p ? buf_read_file(&small, p) : err_set(ERR_NOMEM, "out of memory");
        rc = rc ? rc : tar_put_bytes(&t, top[i], small.data, small.len);
        free(p);
    }
    if (rc || (rc = tar_put_dir(&t, "blobs")) || (rc = tar_put_dir(&t, "blobs/sha256")))
        goto done;
    for (size_t i = 0; i < n && !rc; i++) {
        char name[300], *p = path_join(blob_dir, names[i]);
        snprintf(name, sizeof name, "blobs/sha256/%s", names[i]);
        int fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1;
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0)
            rc = err_set_errno(ERR_IO, "%s: cannot open", p ? p : names[i]);
        else
            rc = tar_put_file_range(&t, name, fd, 0, st.st_size);
        if (fd >= 0)
            close(fd);
        free(p);
    }
    if (!rc)
        rc = tar_commit(&t, tmp_path, 1, "the signed archive");
done:
    if (t.fd >= 0)
        close(t.fd);
    if (rc && tmp_path)
        unlink(tmp_path);
    free(tmp_path);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(blob_dir);
    buf_release(&small);
    return rc;
}

int trust_store_put(struct trust_store *s, const char *artifact_type, const struct trust_blob *blobs, size_t n,
                    const struct buf *manifest, const char *tag)
{
    struct oci_blob files[4], m;
    memset(files, 0, sizeof files);
    memset(&m, 0, sizeof m);
    int rc = n <= 4 ? 0 : err_set(ERR_LIMIT, "trust: too many blobs");
    for (size_t i = 0; i < n && !rc; i++)
        rc = write_blob(&files[i], s->work, blobs[i].data, blobs[i].media_type);
    rc = rc ? rc : write_blob(&m, s->work, manifest, "application/vnd.oci.image.manifest.v1+json");
    if (rc)
        goto done;
    if (s->src && !s->is_archive) {
        rc = oci_layout_add_artifact(s->src->root, &m, artifact_type, s->image_digest, files, n,
                                     !strcmp(artifact_type, SIGSTORE_BUNDLE_MEDIA_TYPE));
        goto done;
    }
    if (s->src && !archive_key(artifact_type)) {
        rc = err_set(ERR_UNSUPPORTED, "%s: an oci-archive keeps no %s artifact", s->location, artifact_type);
        goto done;
    }
    if (s->src) {
        for (size_t i = 0; i < n && !rc; i++)
            rc = place_blob(s->src->root, &files[i]);
        rc = rc ? rc : place_blob(s->src->root, &m);
        rc = rc ? rc : annotate_index(s, archive_key(artifact_type), m.digest);
        /* An archive's large blobs are unpacked on demand: all of them before it is written again. */
        rc = rc ? rc : image_source_fetch_all(s->src);
        rc = rc ? rc : rewrite_archive(s->src->root, s->src->archive ? s->src->archive : s->src->path);
        goto done;
    }
    enum blob_result r;
    int ack = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = registry_blob_push(s->c, &r, s->repo, files[i].digest, files[i].size, files[i].path, NULL);
    rc = rc ? rc
            : registry_manifest_put(s->c, s->repo, tag ? tag : m.digest, manifest->data, manifest->len,
                                    "application/vnd.oci.image.manifest.v1+json", &ack);
    /* A referrer must be findable from its subject on registries without the referrers API too. */
    if (!rc && !tag)
        rc = registry_referrers_record(s->c, s->repo, s->image_digest, m.digest,
                                       "application/vnd.oci.image.manifest.v1+json", manifest->data, manifest->len, ack,
                                       NULL);
done:
    for (size_t i = 0; i < n; i++)
        free(files[i].path);
    free(m.path);
    return rc;
}
