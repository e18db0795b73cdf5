#include "builder/registry/registry_image.h"

#include "common/arena.h"
#include "common/err.h"
#include "common/json.h"
#include "builder/sys/fsutil.h"
#include "common/path.h"
#include "builder/image/oci_archive.h"
#include "builder/image/oci_image.h"
#include "builder/image/reference.h"
#include "builder/registry/registry_blob.h"
#include "builder/registry/registry_referrers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_NODES 64

struct node {
    char digest[72];
    char media_type[256];
    struct buf bytes;
};

struct gblob {
    char digest[72];
    int64_t size;
    char *path; /* local file (push source or download target) */
    const char *media_type;
    enum blob_result result; /* push and copy: what happened to it */
};

struct graph {
    struct node nodes[MAX_NODES]; /* children first, top last */
    size_t n_nodes;
    struct gblob *blobs;
    size_t n_blobs, cap_blobs;
};

typedef int (*fetch_fn)(void *ctx, struct buf *out, char media_type[256], const char *digest);

static void graph_release(struct graph *g)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        buf_release(&g->nodes[i].bytes);
    for (size_t i = 0; i < g->n_blobs; i++)
        free(g->blobs[i].path);
    free(g->blobs);
    memset(g, 0, sizeof *g);
}

static int add_blob(struct graph *g, const struct json_value *d, const char *what)
{
    const struct json_value *dg = d ? json_member(d, "digest") : NULL, *sz = d ? json_member(d, "size") : NULL;
    const struct json_value *mt = d ? json_member(d, "mediaType") : NULL;
    if (!dg || dg->type != JSON_STRING || !reference_valid_digest(dg->as.string.ptr) || !sz ||
        sz->type != JSON_NUMBER || sz->as.number < 0)
        return err_set(ERR_PARSE, "%s: a descriptor lacks a sha256 digest or a size", what);
    for (size_t i = 0; i < g->n_blobs; i++)
        if (!strcmp(g->blobs[i].digest, dg->as.string.ptr))
            return 0;
    if (g->n_blobs == g->cap_blobs) {
        size_t cap = g->cap_blobs ? 2 * g->cap_blobs : 16;
        struct gblob *nb = realloc(g->blobs, cap * sizeof *nb);
        if (!nb)
            return err_set(ERR_NOMEM, "out of memory");
        g->blobs = nb;
        g->cap_blobs = cap;
    }
    struct gblob *b = &g->blobs[g->n_blobs++];
    memset(b, 0, sizeof *b);
    snprintf(b->digest, sizeof b->digest, "%s", dg->as.string.ptr);
    b->size = (int64_t)sz->as.number;
    b->media_type = mt && mt->type == JSON_STRING && strstr(mt->as.string.ptr, "config")
                        ? OCI_MEDIA_TYPE_CONFIG
                        : "application/vnd.oci.image.layer.v1.tar+gzip";
    return 0;
}

int registry_image_platform_matches(const struct json_value *d, const char *platform)
{
    const struct json_value *p = json_member(d, "platform");
    if (!p)
        return 0;
    const struct json_value *os = json_member(p, "os"), *arch = json_member(p, "architecture"),
                            *var = json_member(p, "variant");
    char have[256];
    snprintf(have, sizeof have, "%s/%s", os && os->type == JSON_STRING ? os->as.string.ptr : "",
             arch && arch->type == JSON_STRING ? arch->as.string.ptr : "");
    if (!strcmp(have, platform))
        return 1;
    size_t n = strlen(have);
    snprintf(have + n, sizeof have - n, "/%s", var && var->type == JSON_STRING ? var->as.string.ptr : "");
    return !strcmp(have, platform);
}

/* Adds the manifest (digest) and everything below it. With platform set, an
 * index is resolved to its one matching manifest instead of being kept. */
static int walk(struct graph *g, fetch_fn fetch, void *ctx, const char *digest, const char *platform, int depth)
{
    if (depth > 2)
        return err_set(ERR_UNSUPPORTED, "manifest %s: indexes nested too deep", digest);
    for (size_t i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].digest, digest))
            return 0;
    if (g->n_nodes == MAX_NODES)
        return err_set(ERR_LIMIT, "more than %d manifests in one image", MAX_NODES);
    struct node n = {0};
    buf_init(&n.bytes, MANIFEST_LIMIT);
    snprintf(n.digest, sizeof n.digest, "%s", digest);
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    int rc = fetch(ctx, &n.bytes, n.media_type, digest);
    if (rc || (rc = json_parse(&root, &arena, n.bytes.data, n.bytes.len, digest)))
        goto done;
    if (registry_media_is_index(n.media_type)) {
        const struct json_value *m = json_member(root, "manifests");
        if (!m || m->type != JSON_ARRAY) {
            rc = err_set(ERR_PARSE, "index %s has no manifests", digest);
            goto done;
        }
        if (platform) {
            for (const struct json_value *d = m->child; d; d = d->next) {
                const struct json_value *dg = json_member(d, "digest");
                if (registry_image_platform_matches(d, platform) && dg && dg->type == JSON_STRING &&
                    reference_valid_digest(dg->as.string.ptr)) {
                    rc = walk(g, fetch, ctx, dg->as.string.ptr, platform, depth + 1);
                    goto done;
                }
            }
            rc = err_set(ERR_NOTFOUND, "index %s has no image for platform '%s'", digest, platform);
            goto done;
        }
        for (const struct json_value *d = m->child; d && !rc; d = d->next) {
            const struct json_value *dg = json_member(d, "digest");
            if (!dg || dg->type != JSON_STRING || !reference_valid_digest(dg->as.string.ptr))
                rc = err_set(ERR_PARSE, "index %s: a manifest descriptor has no sha256 digest", digest);
            else
                rc = walk(g, fetch, ctx, dg->as.string.ptr, NULL, depth + 1);
        }
    } else {
        rc = add_blob(g, json_member(root, "config"), digest);
        const struct json_value *layers = json_member(root, "layers");
        if (!rc && (!layers || layers->type != JSON_ARRAY))
            rc = err_set(ERR_PARSE, "manifest %s has no layers", digest);
        for (const struct json_value *l = layers ? layers->child : NULL; l && !rc; l = l->next)
            rc = add_blob(g, l, digest);
    }
    if (!rc && g->n_nodes < MAX_NODES) {
        g->nodes[g->n_nodes++] = n;
        n.bytes.data = NULL;
    }
done:
    arena_release(&arena);
    buf_release(&n.bytes);
    return rc;
}

/* ---- parallel blob work ------------------------------------------------- */

struct pool {
    struct registry *reg;
    struct graph *g;
    int (*fn)(struct pool *p, struct registry_conn *c, struct gblob *b);
    atomic_size_t next;
    atomic_int failed;
    pthread_mutex_t lock;
    int rc;
    char err[1024];
    struct progress progress;
    atomic_int existed, mounted, uploaded, downloaded;
    /* job-specific */
    const char *repo, *src_repo, *dir;
    struct registry *src_reg;
};

static void *worker(void *arg)
{
    struct pool *p = arg;
    struct registry_conn *c = NULL;
    int rc = registry_conn_new(&c, p->reg);
    while (!rc && !atomic_load(&p->failed)) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->g->n_blobs)
            break;
        struct gblob *b = &p->g->blobs[i];
        struct progress_blob *pb = progress_blob_begin(&p->progress, i);
        c->blob_bytes = pb ? &pb->done : NULL;
        b->result = BLOB_UPLOADED;
        rc = p->fn(p, c, b);
        c->blob_bytes = NULL;
        progress_blob_end(pb, b->result == BLOB_EXISTED   ? PROGRESS_EXISTED
                              : b->result == BLOB_MOUNTED ? PROGRESS_MOUNTED
                                                          : PROGRESS_DONE);
        atomic_fetch_add(&p->progress.blobs_done, 1);
    }
    if (rc) {
        pthread_mutex_lock(&p->lock);
        if (!p->rc) {
            p->rc = rc;
            snprintf(p->err, sizeof p->err, "%s", err_message(rc));
        }
        pthread_mutex_unlock(&p->lock);
        atomic_store(&p->failed, 1);
    }
    registry_conn_free(c);
    return NULL;
}

/* Runs p over the graph's blobs on jobs threads. meanwhile, when given, runs
 * on the calling thread while the workers go (its result is returned if the
 * pool itself succeeded). */
static int run_pool_with(struct pool *p, int jobs, int (*meanwhile)(void *ctx), void *ctx)
{
    if (jobs < 1)
        jobs = 1;
    if ((size_t)jobs > p->g->n_blobs)
        jobs = p->g->n_blobs ? (int)p->g->n_blobs : 1;
    pthread_t threads[64];
    if (jobs > 64)
        jobs = 64;
    pthread_mutex_init(&p->lock, NULL);
    int started = 0;
    for (int i = 0; i < jobs; i++)
        if (pthread_create(&threads[started], NULL, worker, p) == 0)
            started++;
    int side = 0;
    char side_err[1024] = "";
    if (meanwhile && (side = meanwhile(ctx)))
        snprintf(side_err, sizeof side_err, "%s", err_message(side));
    if (!started)
        worker(p);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_destroy(&p->lock);
    if (p->rc)
        return err_set(p->rc, "%s", p->err);
    return side ? err_set(side, "%s", side_err) : 0;
}

static int run_pool(struct pool *p, int jobs)
{
    return run_pool_with(p, jobs, NULL, NULL);
}

static void count_result(struct pool *p, struct gblob *b, enum blob_result r)
{
    b->result = r;
    if (r == BLOB_EXISTED)
        atomic_fetch_add(&p->existed, 1);
    else if (r == BLOB_MOUNTED)
        atomic_fetch_add(&p->mounted, 1);
    else
        atomic_fetch_add(&p->uploaded, 1);
}

static int push_one(struct pool *p, struct registry_conn *c, struct gblob *b)
{
    enum blob_result r;
    int rc = registry_blob_push(c, &r, p->repo, b->digest, b->size, b->path, p->src_repo);
    if (!rc)
        count_result(p, b, r);
    return rc;
}

static int pull_one(struct pool *p, struct registry_conn *c, struct gblob *b)
{
    int rc = registry_blob_pull(c, p->repo, b->digest, b->size, b->path);
    if (!rc)
        atomic_fetch_add(&p->downloaded, 1);
    return rc;
}

/* copy: mount (same registry) or download to dir then upload. */
static int copy_one(struct pool *p, struct registry_conn *c, struct gblob *b)
{
    enum blob_result r;
    int exists = 0;
    int rc = registry_blob_exists(c, &exists, p->repo, b->digest);
    if (rc || exists) {
        if (exists)
            count_result(p, b, BLOB_EXISTED);
        return rc;
    }
    if (!p->src_reg) {
        rc = registry_blob_push(c, &r, p->repo, b->digest, b->size, NULL, p->src_repo);
        if (!rc) {
            count_result(p, b, r);
            return 0;
        }
        if (rc != ERR_NOTFOUND)
            return rc;
        err_clear(); /* the registry would not mount: move the bytes */
    }
    struct registry_conn *sc = NULL;
    if ((rc = registry_conn_new(&sc, p->src_reg ? p->src_reg : p->reg)))
        return rc;
    rc = registry_blob_pull(sc, p->src_repo, b->digest, b->size, b->path);
    registry_conn_free(sc);
    if (!rc)
        atomic_fetch_add(&p->downloaded, 1);
    if (!rc && !(rc = registry_blob_push(c, &r, p->repo, b->digest, b->size, b->path, NULL)))
        count_result(p, b, r);
    remove(b->path);
    return rc;
}

/* Progress for the pool's blobs (bars only when tty). */
static int start_progress(struct pool *p, const char *label, atomic_llong *bytes, int tty)
{
    size_t n = p->g->n_blobs;
    const char **digests = calloc(n ? n : 1, sizeof *digests);
    int64_t *sizes = calloc(n ? n : 1, sizeof *sizes);
    int rc = digests && sizes ? 0 : err_set(ERR_NOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        digests[i] = p->g->blobs[i].digest;
        sizes[i] = p->g->blobs[i].size;
    }
    if (!rc && !(rc = progress_init(&p->progress, n, digests, sizes)))
        progress_start(&p->progress, label, bytes, tty);
    free(digests);
    free(sizes);
    return rc;
}

static int64_t graph_bytes(const struct graph *g)
{
    int64_t t = 0;
    for (size_t i = 0; i < g->n_blobs; i++)
        t += g->blobs[i].size;
    return t;
}

static void finish(struct image_transfer *x, struct pool *p, const struct graph *g, double t0)
{
    x->blobs = (int)g->n_blobs;
    x->existed = atomic_load(&p->existed);
    x->mounted = atomic_load(&p->mounted);
    x->uploaded = atomic_load(&p->uploaded);
    x->downloaded = atomic_load(&p->downloaded);
    x->bytes = graph_bytes(g);
    x->bytes_moved = atomic_load(p->progress.bytes) - p->progress.bytes_base;
    x->seconds = progress_now() - t0;
}

/* Which manifests the registry already holds under the name they will be put
 * as (the tag for the top one): asked on the calling thread while the blob
 * workers run, so a re-push costs no extra round trip for it. */
struct manifest_check {
    struct registry *reg;
    const char *repo, *id;
    const struct graph *g;
    int has[MAX_NODES];
};

static const char *manifest_ref(const struct graph *g, size_t i, const char *id)
{
    return i + 1 == g->n_nodes && id ? id : g->nodes[i].digest;
}

static int check_manifests(void *ctx)
{
    struct manifest_check *m = ctx;
    struct registry_conn *c = NULL;
    int rc = registry_conn_new(&c, m->reg);
    for (size_t i = 0; !rc && i + 1 < m->g->n_nodes; i++) /* the top one move_blobs asked already */
        rc = registry_manifest_has(c, &m->has[i], m->repo, manifest_ref(m->g, i, m->id), m->g->nodes[i].digest);
    registry_conn_free(c);
    return rc;
}

/* The blobs, in parallel, while the child manifests are checked. First the
 * top manifest: when the registry already has it under its name (the tag
 * names this very digest) it holds the whole image, since registries accept
 * a manifest only once its blobs and children are in place; a re-push then
 * costs that one HEAD and every blob counts as skipped. */
static int move_blobs(struct pool *p, struct manifest_check *m, int jobs)
{
    const struct graph *g = m->g;
    size_t top = g->n_nodes - 1;
    struct registry_conn *c = NULL;
    int rc = registry_conn_new(&c, m->reg);
    if (!rc)
        rc = registry_manifest_has(c, &m->has[top], m->repo, manifest_ref(g, top, m->id), g->nodes[top].digest);
    registry_conn_free(c); /* its kept-alive connection goes to the first worker */
    if (rc || !m->has[top])
        return rc ? rc : run_pool_with(p, jobs, g->n_nodes > 1 ? check_manifests : NULL, m);
    for (size_t i = 0; i < g->n_nodes; i++)
        m->has[i] = 1;
    for (size_t i = 0; i < g->n_blobs; i++) {
        count_result(p, &p->g->blobs[i], BLOB_EXISTED);
        progress_blob_end(progress_blob_begin(&p->progress, i), PROGRESS_EXISTED);
        atomic_fetch_add(&p->progress.blobs_done, 1);
    }
    return 0;
}

/* Puts the manifests the check found missing, children before the index. */
static int put_manifests(const struct manifest_check *m, struct image_transfer *x)
{
    struct registry_conn *c = NULL;
    const struct graph *g = m->g;
    int rc = registry_conn_new(&c, m->reg);
    for (size_t i = 0; !rc && i < g->n_nodes; i++) {
        const struct node *n = &g->nodes[i];
        int ack = 0;
        char subject[72];
        /* With has[i] a PUT would only make the registry rewrite what it has. */
        if (!m->has[i] && !(rc = registry_manifest_put(c, m->repo, manifest_ref(g, i, m->id), n->bytes.data,
                                                       n->bytes.len, n->media_type, &ack)))
            x->manifests_put++;
        /* A referrer (the SBOM) must be findable from its subject on registries without the referrers API too. */
        if (!rc && !(rc = registry_manifest_subject(subject, n->bytes.data, n->bytes.len, n->digest)) && subject[0])
            rc = registry_referrers_record(c, m->repo, subject, n->digest, n->media_type, n->bytes.data, n->bytes.len,
                                           ack, &x->referrers_fallback);
    }
    if (!rc && g->n_nodes)
        snprintf(x->digest, sizeof x->digest, "%s", g->nodes[g->n_nodes - 1].digest);
    registry_conn_free(c);
    return rc;
}

/* The second half of a push or copy: every blob to m's registry, with progress
 * labelled label, then the manifests m found missing, then the report in x. */
static int send_image(struct pool *p, struct manifest_check *m, struct image_transfer *x, const char *label,
                      atomic_llong *bytes, double t0)
{
    int rc = start_progress(p, label, bytes, x->tty);
    if (rc)
        return rc;
    rc = move_blobs(p, m, x->jobs);
    progress_stop(&p->progress);
    if (!rc)
        rc = put_manifests(m, x);
    finish(x, p, m->g, t0);
    return rc;
}

/* ---- push --------------------------------------------------------------- */

struct local_ctx {
    const struct image_source *src;
    const char *top_digest, *top_media_type;
};

static int fetch_local(void *ctx, struct buf *out, char media_type[256], const char *digest)
{
    struct local_ctx *l = ctx;
    int rc = image_source_read_blob(l->src, out, digest);
    if (rc)
        return rc;
    /* The descriptor's media type for the top; the document's own for children. */
    struct arena arena;
    arena_init(&arena, 4096, 64u << 20);
    struct json_value *root = NULL;
    const char *mt = l->top_media_type && !strcmp(digest, l->top_digest) ? l->top_media_type : NULL;
    if (!json_parse(&root, &arena, out->data, out->len, digest)) {
        const struct json_value *m = json_member(root, "mediaType");
        if (m && m->type == JSON_STRING)
            mt = m->as.string.ptr;
        else if (!mt)
            mt = json_member(root, "manifests") ? MEDIA_OCI_INDEX : MEDIA_OCI_MANIFEST;
    }
    snprintf(media_type, 256, "%s", mt ? mt : MEDIA_OCI_MANIFEST);
    arena_release(&arena);
    return 0;
}

/* Pushes the manifest top (media type mt, or NULL: the document's own) of src and what it names. */
static int push_from(struct registry *reg, const char *repo, const char *id, const struct image_source *src,
                     const char *top, const char *mt, struct image_transfer *x)
{
    double t0 = progress_now();
    struct graph g = {0};
    struct pool p = {.reg = reg, .g = &g, .fn = push_one, .repo = repo};
    struct local_ctx l = {src, top, mt};
    int rc = walk(&g, fetch_local, &l, top, NULL, 0);
    if (rc)
        goto done;
    /* An archive's blobs are unpacked now, only those the manifests name, none past its descriptor's size. */
    struct image_source_want *want = calloc(g.n_blobs + 1, sizeof *want);
    if (!want) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < g.n_blobs; i++)
        want[i] = (struct image_source_want){g.blobs[i].digest, g.blobs[i].size};
    rc = image_source_fetch(src, want, g.n_blobs);
    free(want);
    for (size_t i = 0; i < g.n_blobs && !rc; i++)
        if (!(g.blobs[i].path = image_source_blob_path(src, g.blobs[i].digest)))
            rc = err_set(ERR_NOMEM, "out of memory");
    if (rc)
        goto done;
    struct manifest_check m = {.reg = reg, .repo = repo, .id = id, .g = &g};
    rc = send_image(&p, &m, x, "pushing", &reg->bytes_moved, t0);
done:
    graph_release(&g);
    return rc;
}

int registry_image_push(struct registry *reg, const char *repo, const char *id, const struct image_source *src,
                        struct image_transfer *x)
{
    char top[72], mt[256], ref_name[256];
    int64_t size;
    int rc = image_source_top(src, top, mt, &size, ref_name);
    return rc ? rc : push_from(reg, repo, id, src, top, mt, x);
}

int registry_image_push_manifest(struct registry *reg, const char *repo, const char *id,
                                 const struct image_source *src, const char *digest, struct image_transfer *x)
{
    return push_from(reg, repo, id, src, digest, NULL, x);
}

/* ---- pull --------------------------------------------------------------- */

struct remote_ctx {
    struct registry_conn *c;
    const char *repo;
};

static int fetch_remote(void *ctx, struct buf *out, char media_type[256], const char *digest)
{
    struct remote_ctx *r = ctx;
    char got[72];
    buf_reset(out);
    return registry_manifest_get(r->c, out, media_type, got, r->repo, digest);
}

/* Resolves id (tag or digest) to the top manifest digest. */
static int resolve(struct registry_conn *c, const char *repo, const char *id, char digest[72])
{
    struct buf b;
    buf_init(&b, MANIFEST_LIMIT);
    char mt[256];
    int rc = registry_manifest_get(c, &b, mt, digest, repo, id);
    buf_release(&b);
    return rc;
}

static int default_platform(char *out, size_t n, const char *given)
{
    if (given) {
        if (!strchr(given, '/'))
            return err_set(ERR_USAGE, "--platform '%s': expected os/arch[/variant]", given);
        snprintf(out, n, "%s", given);
    } else {
        snprintf(out, n, "linux/%s", oci_host_architecture());
    }
    return 0;
}

static int write_archive(const struct graph *g, const char *dir, const char *out_path, const char *ref_name)
{
    struct oci_image img = {0};
    const struct node *top = &g->nodes[g->n_nodes - 1];
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    int rc = json_parse(&root, &arena, top->bytes.data, top->bytes.len, top->digest);
    if (rc)
        goto done;
    const struct json_value *cfg = json_member(root, "config"), *layers = json_member(root, "layers");
    const struct json_value *cd = cfg ? json_member(cfg, "digest") : NULL;
    if (!cd || cd->type != JSON_STRING || !layers || layers->type != JSON_ARRAY) {
        rc = err_set(ERR_PARSE, "manifest %s: no config or layers", top->digest);
        goto done;
    }
    img.layers = calloc(layers->count ? layers->count : 1, sizeof *img.layers);
    img.ref_name = strdup(ref_name);
    if (!img.layers || !img.ref_name) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    for (const struct json_value *l = layers->child; l; l = l->next) {
        const struct json_value *d = json_member(l, "digest"), *s = json_member(l, "size");
        struct oci_blob *b = &img.layers[img.n_layers++];
        snprintf(b->digest, sizeof b->digest, "%s", d->as.string.ptr);
        b->size = (int64_t)s->as.number;
        if (asprintf(&b->path, "%s/blobs/sha256/%s", dir, b->digest + 7) < 0)
            b->path = NULL;
    }
    snprintf(img.config.digest, sizeof img.config.digest, "%s", cd->as.string.ptr);
    img.config.size = (int64_t)json_member(cfg, "size")->as.number;
    if (asprintf(&img.config.path, "%s/blobs/sha256/%s", dir, img.config.digest + 7) < 0)
        img.config.path = NULL;
    snprintf(img.manifest.digest, sizeof img.manifest.digest, "%s", top->digest);
    img.manifest.size = (int64_t)top->bytes.len;
    if (asprintf(&img.manifest.path, "%s/manifest.json", dir) < 0)
        img.manifest.path = NULL;
    if (!img.config.path || !img.manifest.path) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    FILE *f = fopen(img.manifest.path, "wb");
    if (!f || fwrite(top->bytes.data, 1, top->bytes.len, f) != top->bytes.len) {
        rc = err_set_write(ERR_IO, "%s: cannot write", img.manifest.path);
        if (f)
            fclose(f);
        goto done;
    }
    fclose(f);
    rc = oci_archive_write(&img, out_path, 0, 0, NULL);
done:
    oci_image_release(&img);
    arena_release(&arena);
    return rc;
}

int registry_image_pull(struct registry *reg, const char *repo, const char *id, const char *out_path,
                        const char *ref_name, struct image_transfer *x)
{
    double t0 = progress_now();
    struct graph g = {0};
    struct registry_conn *c = NULL;
    char *out_dir = fs_dirname(out_path), *dir = NULL, *blob_dir = NULL;
    char top[72], platform[128];
    struct pool p = {.reg = reg, .g = &g, .fn = pull_one, .repo = repo};
    int rc = out_dir ? default_platform(platform, sizeof platform, x->platform) : err_set(ERR_NOMEM, "out of memory");
    if (rc || (rc = registry_conn_new(&c, reg)) || (rc = resolve(c, repo, id, top)))
        goto done;
    struct remote_ctx r = {c, repo};
    if ((rc = walk(&g, fetch_remote, &r, top, platform, 0)))
        goto done;
    registry_conn_free(c); /* its handle, connection still open, goes to the first worker */
    c = NULL;
    /* Staged beside the output so the final renames stay on one file system. */
    if ((rc = fs_make_temp_dir(&dir, out_dir, ".amlpkg-pull-")))
        goto done;
    if (!(blob_dir = path_join(dir, "blobs")) || mkdir(blob_dir, 0755) != 0) {
        rc = err_set_errno(ERR_IO, "%s: cannot create the staging directory", dir);
        goto done;
    }
    free(blob_dir);
    if (!(blob_dir = path_join(dir, "blobs/sha256")) || mkdir(blob_dir, 0755) != 0) {
        rc = err_set_errno(ERR_IO, "%s: cannot create the staging directory", dir);
        goto done;
    }
    for (size_t i = 0; i < g.n_blobs && !rc; i++)
        if (!(g.blobs[i].path = path_join(blob_dir, g.blobs[i].digest + 7)))
            rc = err_set(ERR_NOMEM, "out of memory");
    if (rc)
        goto done;
    if ((rc = start_progress(&p, "pulling", &reg->bytes_moved, x->tty)))
        goto done;
    rc = run_pool(&p, x->jobs);
    progress_stop(&p.progress);
    if (!rc)
        rc = write_archive(&g, dir, out_path, ref_name);
    if (!rc)
        snprintf(x->digest, sizeof x->digest, "%s", g.nodes[g.n_nodes - 1].digest);
    finish(x, &p, &g, t0);
done:
    if (dir)
        fs_remove_tree(dir);
    free(dir);
    free(blob_dir);
    free(out_dir);
    registry_conn_free(c);
    graph_release(&g);
    return rc;
}

/* ---- copy --------------------------------------------------------------- */

int registry_image_copy(struct registry *src_reg, const char *src_repo, const char *src_id, struct registry *dst_reg,
                        const char *dst_repo, const char *dst_id, struct image_transfer *x)
{
    double t0 = progress_now();
    struct graph g = {0};
    struct registry_conn *c = NULL;
    char *dir = NULL;
    char top[72];
    int same = !strcmp(src_reg->name, dst_reg->name) && !strcmp(src_reg->base, dst_reg->base);
    struct pool p = {.reg = dst_reg,
                     .g = &g,
                     .fn = copy_one,
                     .repo = dst_repo,
                     .src_repo = src_repo,
                     .src_reg = same ? NULL : src_reg};
    int rc = registry_conn_new(&c, src_reg);
    if (rc || (rc = resolve(c, src_repo, src_id, top)))
        goto done;
    struct remote_ctx r = {c, src_repo};
    if ((rc = walk(&g, fetch_remote, &r, top, NULL, 0)))
        goto done;
    registry_conn_free(c); /* back to src_reg's idle handles for the workers */
    c = NULL;
    if ((rc = fs_make_tmp_dir(&dir, "amlpkg-copy-")))
        goto done;
    for (size_t i = 0; i < g.n_blobs && !rc; i++)
        if (!(g.blobs[i].path = path_join(dir, g.blobs[i].digest + 7)))
            rc = err_set(ERR_NOMEM, "out of memory");
    if (rc)
        goto done;
    struct manifest_check m = {.reg = dst_reg, .repo = dst_repo, .id = dst_id, .g = &g};
    rc = send_image(&p, &m, x, "copying", &dst_reg->bytes_moved, t0);
done:
    if (dir)
        fs_remove_tree(dir);
    free(dir);
    registry_conn_free(c);
    graph_release(&g);
    return rc;
}
