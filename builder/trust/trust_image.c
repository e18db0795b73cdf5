#include "builder/trust/trust_image.h"

#include "builder/image/image_source.h"
#include "builder/image/oci_layout.h"
#include "builder/image/reference.h"
#include "builder/image/tar_writer.h"
#include "builder/registry/registry_blob.h"
#include "builder/sys/digest.h"
#include "builder/sys/fsutil.h"
#include "builder/trust/cosign_sig.h"
#include "common/arena.h"
#include "common/base64.h"
#include "common/err.h"
#include "common/json.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARTIFACT_FOR_KEY "com.amlpkg.artifact.for"
/* In an oci-archive the signature manifest is named by an annotation of the image's own index
 * entry: a second entry would make podman load and skopeo ask which image to take. */
#define SIGNATURES_KEY "com.amlpkg.signatures"
#define INDEX_LIMIT (16u << 20)

/* Where the image and its signatures are: a registry repository or a local layout. */
struct store {
    struct registry *reg; /* borrowed when !own_reg */
    int own_reg;
    struct registry_conn *c;
    char repo[256];
    struct image_source *src; /* local */
    int is_archive;
    char *work; /* temporary directory for blobs on their way */
    char image_digest[72];
    char default_identity[512];
    char location[1024];
};

static void store_close(struct store *s)
{
    registry_conn_free(s->c);
    if (s->own_reg)
        registry_free(s->reg);
    image_source_free(s->src);
    if (s->work)
        fs_remove_tree(s->work);
    free(s->work);
}

static int make_work(struct store *s)
{
    const char *tmp = getenv("TMPDIR");
    return fs_make_temp_dir(&s->work, tmp && tmp[0] ? tmp : "/tmp", "amlpkg-trust-");
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

static int open_local(struct store *s, const char *target)
{
    char media_type[256], ref_name[256];
    int64_t size;
    int rc = image_source_open(&s->src, target);
    if (rc || (rc = image_source_top(s->src, s->image_digest, media_type, &size, ref_name)))
        return rc;
    s->is_archive = s->src->temp_dir != NULL;
    if (s->is_archive) {
        char *docker = fs_join(s->src->root, "docker");
        struct stat st;
        int is_docker = docker && stat(docker, &st) == 0;
        free(docker);
        if (is_docker)
            return err_set(ERR_UNSUPPORTED,
                           "%s: a docker-archive has no place for a signature; sign an oci-archive, a layout or "
                           "the pushed image",
                           target);
    }
    snprintf(s->default_identity, sizeof s->default_identity, "%s", ref_name);
    snprintf(s->location, sizeof s->location, "%s", target);
    return make_work(s);
}

static int open_remote(struct store *s, const char *target, const struct registry_options *opt)
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

static int store_open(struct store *s, const char *target, const struct registry_options *opt)
{
    memset(s, 0, sizeof *s);
    return is_local(target) ? open_local(s, target) : open_remote(s, target, opt);
}

/* The layout's signature manifest for the image: its descriptor's digest into digest, or "" for none. */
static int local_sig_digest(const struct store *s, char digest[72])
{
    digest[0] = '\0';
    struct buf b;
    buf_init(&b, INDEX_LIMIT);
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    char *path = fs_join(s->src->root, "index.json");
    int rc = path ? buf_read_file(&b, path) : err_set(ERR_NOMEM, "out of memory");
    if (rc || (rc = json_parse(&root, &arena, b.data, b.len, s->location)))
        goto done;
    const struct json_value *ms = json_member(root, "manifests");
    for (const struct json_value *d = ms && ms->type == JSON_ARRAY ? ms->child : NULL; d; d = d->next) {
        const struct json_value *t = json_member(d, "artifactType"), *an = json_member(d, "annotations");
        const struct json_value *f = an ? json_member(an, ARTIFACT_FOR_KEY) : NULL, *dg = json_member(d, "digest");
        const struct json_value *sg = an ? json_member(an, SIGNATURES_KEY) : NULL;
        if (sg && sg->type == JSON_STRING && reference_valid_digest(sg->as.string.ptr) && dg &&
            dg->type == JSON_STRING && !strcmp(dg->as.string.ptr, s->image_digest)) {
            snprintf(digest, 72, "%s", sg->as.string.ptr);
            break;
        }
        if (t && t->type == JSON_STRING && !strcmp(t->as.string.ptr, COSIGN_SIG_ARTIFACT_TYPE) && f &&
            f->type == JSON_STRING && !strcmp(f->as.string.ptr, s->image_digest) && dg && dg->type == JSON_STRING &&
            reference_valid_digest(dg->as.string.ptr))
            snprintf(digest, 72, "%s", dg->as.string.ptr);
    }
done:
    free(path);
    arena_release(&arena);
    buf_release(&b);
    return rc;
}

/* The signature manifest into out; *found 0 when there is none. */
static int store_sig_manifest(struct store *s, struct buf *out, int *found, const char *tag)
{
    *found = 0;
    if (s->src) {
        char digest[72];
        int rc = local_sig_digest(s, digest);
        if (rc || !digest[0])
            return rc;
        *found = 1;
        return image_source_read_blob(s->src, out, digest);
    }
    char media_type[256], digest[72];
    int rc = registry_manifest_get(s->c, out, media_type, digest, s->repo, tag);
    if (rc == ERR_NOTFOUND) {
        err_clear();
        buf_reset(out);
        return 0;
    }
    *found = !rc;
    return rc;
}

static int store_blob(struct store *s, struct buf *out, const char *digest, long long size)
{
    if (!reference_valid_digest(digest))
        return err_set(ERR_PARSE, "%s: signature layer digest '%.80s' is not sha256:<hex>", s->location, digest);
    if (s->src)
        return image_source_read_blob(s->src, out, digest);
    char *path = fs_join(s->work, digest + 7);
    int rc = path ? registry_blob_pull(s->c, s->repo, digest, size, path) : err_set(ERR_NOMEM, "out of memory");
    rc = rc ? rc : buf_read_file(out, path);
    free(path);
    return rc;
}

static int write_blob(struct oci_blob *b, const char *work, const struct buf *data, const char *media_type)
{
    memset(b, 0, sizeof *b);
    int rc = digest_buffer(b->digest, data->data, data->len);
    if (rc || !(b->path = fs_join(work, b->digest + 7)))
        return rc ? rc : err_set(ERR_NOMEM, "out of memory");
    b->size = (int64_t)data->len;
    b->media_type = media_type;
    FILE *f = fopen(b->path, "wbe");
    if (!f || fwrite(data->data, 1, data->len, f) != data->len) {
        if (f)
            fclose(f);
        return err_set_errno(ERR_IO, "%s: cannot write", b->path);
    }
    return fclose(f) == 0 ? 0 : err_set_errno(ERR_IO, "%s: cannot write", b->path);
}

/* Copies a blob file into the layout under its digest (kept when it is there already). */
static int place_blob(const char *root, const struct oci_blob *b)
{
    char name[100];
    snprintf(name, sizeof name, "blobs/sha256/%s", b->digest + 7);
    char *dest = fs_join(root, name);
    FILE *out = NULL;
    char *tmp = NULL;
    struct buf data;
    buf_init(&data, 0);
    int rc = dest ? buf_read_file(&data, b->path) : err_set(ERR_NOMEM, "out of memory");
    if (!rc && access(dest, F_OK) != 0 && !(rc = fs_temp_beside(&out, &tmp, dest))) {
        if (fwrite(data.data, 1, data.len, out) != data.len) {
            fclose(out);
            unlink(tmp);
            rc = err_set_errno(ERR_IO, "%s: write failed", dest);
        } else {
            rc = fs_commit(out, tmp, dest);
        }
    }
    free(tmp);
    free(dest);
    buf_release(&data);
    return rc;
}

/* index.json of the unpacked archive with the image's entry annotated SIGNATURES_KEY = sig_digest. */
static int annotate_index(const struct store *s, const char *sig_digest)
{
    struct buf old, doc;
    buf_init(&old, INDEX_LIMIT);
    buf_init(&doc, 0);
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    char *path = fs_join(s->src->root, "index.json");
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
            for (const struct json_value *a = an && an->type == JSON_OBJECT ? an->child : NULL; a && !rc; a = a->next) {
                if (!strcmp(a->key, SIGNATURES_KEY))
                    continue;
                rc = n++ ? buf_append(&doc, ",", 1) : 0;
                rc = rc ? rc : json_write_string(&doc, a->key, a->key_len);
                rc = rc ? rc : buf_append(&doc, ":", 1);
                rc = rc ? rc : json_write_value(&doc, a);
            }
            rc = rc ? rc : buf_appendf(&doc, "%s\"" SIGNATURES_KEY "\":\"%s\"}", n ? "," : "", sig_digest);
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
        rc = err_set_errno(ERR_IO, "%s: write failed", path);
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
    const char *epoch = getenv("SOURCE_DATE_EPOCH");
    t.mtime = epoch ? strtoll(epoch, NULL, 10) : 0;
    char *blob_dir = fs_join(root, "blobs/sha256"), **names = NULL, *tmp_path = NULL;
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
        char *p = fs_join(root, top[i]);
        buf_reset(&small);
        rc = p ? buf_read_file(&small, p) : err_set(ERR_NOMEM, "out of memory");
        rc = rc ? rc : tar_put_bytes(&t, top[i], small.data, small.len);
        free(p);
    }
    if (rc || (rc = tar_put_dir(&t, "blobs")) || (rc = tar_put_dir(&t, "blobs/sha256")))
        goto done;
    for (size_t i = 0; i < n && !rc; i++) {
        char name[300], *p = fs_join(blob_dir, names[i]);
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
    if (rc || (rc = tar_finish(&t)))
        goto done;
    if (ftruncate(t.fd, t.offset) != 0 || fsync(t.fd) != 0) {
        rc = err_set_errno(ERR_IO, "%s: write failed", target);
        goto done;
    }
    int fd = t.fd;
    t.fd = -1;
    if (close(fd) != 0)
        rc = err_set_errno(ERR_IO, "%s: write failed", target);
    else if (fs_replace(tmp_path, target) != 0)
        rc = err_set_errno(ERR_IO, "%s: cannot rename the signed archive into place", target);
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

/* Stores payload, config and manifest: pushed under tag, or added to the layout (and archive). */
static int store_put(struct store *s, const struct buf *payload, const struct buf *config,
                     const struct buf *manifest, const char *tag)
{
    struct oci_blob blobs[2], m;
    memset(&m, 0, sizeof m);
    memset(blobs, 0, sizeof blobs);
    int rc = write_blob(&blobs[0], s->work, payload, SIMPLE_SIGNING_MEDIA_TYPE);
    rc = rc ? rc : write_blob(&blobs[1], s->work, config, "application/vnd.oci.image.config.v1+json");
    rc = rc ? rc : write_blob(&m, s->work, manifest, "application/vnd.oci.image.manifest.v1+json");
    if (rc)
        goto done;
    if (s->src && !s->is_archive) {
        rc = oci_layout_add_artifact(s->src->root, &m, COSIGN_SIG_ARTIFACT_TYPE, s->image_digest, blobs, 2);
        goto done;
    }
    if (s->src) {
        rc = place_blob(s->src->root, &blobs[0]);
        rc = rc ? rc : place_blob(s->src->root, &blobs[1]);
        rc = rc ? rc : place_blob(s->src->root, &m);
        rc = rc ? rc : annotate_index(s, m.digest);
        rc = rc ? rc : rewrite_archive(s->src->root, s->src->path);
        goto done;
    }
    enum blob_result r;
    for (size_t i = 0; i < 2 && !rc; i++)
        rc = registry_blob_push(s->c, &r, s->repo, blobs[i].digest, blobs[i].size, blobs[i].path, NULL);
    rc = rc ? rc
            : registry_manifest_put(s->c, s->repo, tag, manifest->data, manifest->len,
                                    "application/vnd.oci.image.manifest.v1+json", NULL);
done:
    free(blobs[0].path);
    free(blobs[1].path);
    free(m.path);
    return rc;
}

static int sign_store(struct trust_signed *out, struct store *s, const struct trust_key *key,
                      const struct trust_sign_options *opt)
{
    memset(out, 0, sizeof *out);
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
    if ((rc = simple_signing_write(&payload, identity, s->image_digest, opt->creator ? opt->creator : "amlpkg",
                                   opt->timestamp)) ||
        (rc = trust_sign(&sig, key, payload.data, payload.len)))
        goto done;
    if ((rc = store_sig_manifest(s, &old, &found, out->sig_tag)))
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
    if ((rc = cosign_sig_manifest(&manifest, &config, layers, n)) ||
        (rc = store_put(s, &payload, &config, &manifest, out->sig_tag)))
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
    struct store s;
    int rc = store_open(&s, target, opt->reg);
    rc = rc ? rc : sign_store(out, &s, key, opt);
    store_close(&s);
    return rc;
}

int trust_sign_registry(struct trust_signed *out, struct registry *reg, const char *repo, const char *digest,
                        const struct trust_key *key, const struct trust_sign_options *opt)
{
    struct store s;
    memset(&s, 0, sizeof s);
    s.reg = reg;
    snprintf(s.repo, sizeof s.repo, "%s", repo);
    snprintf(s.image_digest, sizeof s.image_digest, "%s", digest);
    snprintf(s.location, sizeof s.location, "%s/%s", reg->name, repo);
    int rc = registry_conn_new(&s.c, reg);
    rc = rc ? rc : make_work(&s);
    rc = rc ? rc : sign_store(out, &s, key, opt);
    store_close(&s);
    return rc;
}

/* One signature layer: fetched, parsed, its signature checked, its digest compared. */
static void check_layer(struct trust_check *c, struct store *s, const struct cosign_layer *l,
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
    else if (store_blob(s, &payload, l->digest, l->size) ||
             simple_signing_parse(&c->payload, payload.data, payload.len, what))
        snprintf(c->problem, sizeof c->problem, "%s", err_message(ERR_INVALID));
    else if ((n = base64_decode(sig, l->signature, strlen(l->signature))) < 0)
        snprintf(c->problem, sizeof c->problem, "%s: the signature annotation is not base64", what);
    else if (trust_verify(key, payload.data, payload.len, sig, (size_t)n))
        snprintf(c->problem, sizeof c->problem, "%s: not signed by key %s (or the payload was changed)", what,
                 key->key_id);
    else if (strcmp(c->payload.digest, s->image_digest))
        snprintf(c->problem, sizeof c->problem, "%s: signs manifest %s, but the image is %s", what,
                 c->payload.digest, s->image_digest);
    else
        c->good = 1;
    err_clear();
    buf_release(&payload);
}

int trust_verify_image(struct trust_verified *out, const char *target, const struct trust_key *key,
                       const struct registry_options *reg)
{
    memset(out, 0, sizeof *out);
    struct store s;
    struct buf m;
    buf_init(&m, MANIFEST_LIMIT);
    struct cosign_layer *layers = NULL;
    size_t n = 0;
    int found = 0;
    char tag[80];
    int rc = store_open(&s, target, reg);
    if (rc)
        goto done;
    snprintf(out->image_digest, sizeof out->image_digest, "%s", s.image_digest);
    snprintf(out->location, sizeof out->location, "%s", s.location);
    cosign_sig_tag(tag, s.image_digest);
    if ((rc = store_sig_manifest(&s, &m, &found, tag)))
        goto done;
    if (!found) {
        rc = err_set(ERR_NOTFOUND, "%s: image %s is not signed (no %s)", target, s.image_digest, tag);
        goto done;
    }
    if ((rc = cosign_sig_parse(&layers, &n, m.data, m.len, tag)))
        goto done;
    out->n_signatures = n;
    for (size_t i = 0; i < n; i++) {
        struct trust_check c;
        memset(&c, 0, sizeof c);
        check_layer(&c, &s, &layers[i], key, i);
        out->n_good += (size_t)c.good;
        if (out->n_checks < TRUST_MAX_REPORTED)
            out->checks[out->n_checks++] = c;
    }
    if (!out->n_good)
        rc = err_set(n ? ERR_MISMATCH : ERR_NOTFOUND, "%s: none of the %zu signature(s) of %s verifies with key %s",
                     target, n, s.image_digest, key->key_id);
done:
    cosign_layers_free(layers, n);
    buf_release(&m);
    store_close(&s);
    return rc;
}
