#include "builder/registry/registry_blob.h"

#include "common/arena.h"
#include "common/err.h"
#include "common/parse_number.h"
#include "common/json.h"
#include "builder/sys/fsutil.h"
#include "builder/image/reference.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int64_t chunk_size(void)
{
    return parse_number_int_or(getenv("AMLPKG_CHUNK_SIZE"), 4096, INT64_MAX, 64LL << 20);
}

int registry_media_is_index(const char *mt)
{
    return !strcmp(mt, MEDIA_OCI_INDEX) || !strcmp(mt, MEDIA_DOCKER_LIST);
}

/* HEAD /v2/<repo>/<kind>/<id>: *out is 1 on 200 (when want is given, only if the
 * registry names that digest), 0 on 404; any other status is an error. */
static int head_check(struct registry_conn *c, int *out, const char *repo, const char *kind, const char *id,
                      const char *accept, const char *want, const char *what)
{
    *out = 0;
    char url[600], scope[600];
    snprintf(url, sizeof url, "/v2/%s/%s/%s", repo, kind, id);
    registry_repo_scope(scope, sizeof scope, repo, 1);
    struct registry_call call;
    registry_call_init(&call, "HEAD", url, scope, repo, what);
    call.accept = accept;
    struct registry_response resp;
    int rc = registry_call(c, &call, &resp);
    if (!rc) {
        if (resp.status == 200)
            *out = !want || !strcmp(resp.docker_digest, want);
        else if (resp.status != 404)
            rc = registry_status_error(c, &call, &resp);
    }
    registry_response_release(&resp);
    return rc;
}

int registry_blob_exists(struct registry_conn *c, int *out, const char *repo, const char *digest)
{
    char what[128];
    snprintf(what, sizeof what, "check blob %.19s", digest);
    return head_check(c, out, repo, "blobs", digest, NULL, NULL, what);
}

/* Appends digest=... to an upload Location (which may already have a query). */
static int with_digest(struct registry *reg, char *out, size_t size, const char *location, const char *digest)
{
    char abs[4096];
    int rc = registry_resolve_url(reg, abs, sizeof abs, location);
    if (rc)
        return rc;
    int n = snprintf(out, size, "%s%sdigest=%s", abs, strchr(abs, '?') ? "&" : "?", digest);
    return n < 0 || (size_t)n >= size ? err_set(ERR_LIMIT, "upload URL too long") : 0;
}

/* Last byte the registry holds for an upload session ("0-N" → N+1), via GET on the Location. */
static int upload_offset(struct registry_conn *c, const char *location, const char *scope, const char *repo,
                         const char *what, int64_t *out)
{
    struct registry_call call;
    registry_call_init(&call, "GET", location, scope, repo, what);
    struct registry_response resp;
    int rc = registry_call(c, &call, &resp);
    if (!rc && resp.status != 204 && resp.status != 200)
        rc = registry_status_error(c, &call, &resp);
    if (!rc) {
        const char *dash = strchr(resp.range, '-');
        *out = dash ? strtoll(dash + 1, NULL, 10) + 1 : 0;
    }
    registry_response_release(&resp);
    return rc;
}

/* One upload session: POST, then PUT (small) or PATCH chunks + PUT. */
static int upload_once(struct registry_conn *c, enum blob_result *out, const char *repo, const char *digest,
                       int64_t size, int fd, const char *mount_from)
{
    char url[1200], scope[1200], what[128], location[4096], final_url[4400];
    struct registry_response resp = {0};
    buf_init(&resp.error_body, 1);
    if (mount_from) {
        snprintf(url, sizeof url, "/v2/%s/blobs/uploads/?mount=%s&from=%s", repo, digest, mount_from);
        snprintf(scope, sizeof scope, "repository:%s:pull,push repository:%s:pull", repo, mount_from);
    } else {
        snprintf(url, sizeof url, "/v2/%s/blobs/uploads/", repo);
        registry_repo_scope(scope, sizeof scope, repo, 1);
    }
    snprintf(what, sizeof what, "upload blob %.19s", digest);
    struct registry_call call;
    registry_call_init(&call, "POST", url, scope, repo, what);
    int rc = registry_call(c, &call, &resp);
    if (rc)
        goto done;
    if (mount_from && resp.status == 201) {
        *out = BLOB_MOUNTED;
        goto done;
    }
    if (resp.status != 202 || !resp.location[0]) {
        rc = registry_status_error(c, &call, &resp);
        goto done;
    }
    snprintf(location, sizeof location, "%s", resp.location);
    int64_t chunk = chunk_size();
    int64_t offset = 0;
    if (size > chunk) {
        int resumes = 0;
        while (offset < size) {
            int64_t n = size - offset < chunk ? size - offset : chunk;
            char range[64];
            snprintf(range, sizeof range, "%lld-%lld", (long long)offset, (long long)(offset + n - 1));
            registry_call_init(&call, "PATCH", location, scope, repo, what);
            call.content_type = "application/octet-stream";
            call.content_range = range;
            call.fd = fd;
            call.offset = offset;
            call.length = n;
            call.no_retry = 1;
            registry_response_release(&resp);
            rc = registry_call(c, &call, &resp);
            if (!rc && resp.status == 202) {
                if (resp.location[0])
                    snprintf(location, sizeof location, "%s", resp.location);
                offset += n;
                continue;
            }
            /* Dropped connection or a refused chunk: ask where the session stands and go on from there. */
            if (resumes++ >= 5 || (!rc && !(resp.status >= 500 || resp.status == 416 || resp.status == 429))) {
                if (!rc)
                    rc = registry_status_error(c, &call, &resp);
                goto done;
            }
            err_clear();
            int64_t have = 0;
            if ((rc = upload_offset(c, location, scope, repo, what, &have)))
                goto done;
            if (getenv("AMLPKG_DEBUG"))
                fprintf(stderr, "amlpkg: %s: resuming at byte %lld\n", what, (long long)have);
            offset = have;
        }
    }
    /* The closing PUT: empty after PATCH chunks, else the whole blob. */
    if ((rc = with_digest(c->reg, final_url, sizeof final_url, location, digest)))
        goto done;
    registry_call_init(&call, "PUT", final_url, scope, repo, what);
    if (size > chunk) {
        call.data = "";
    } else {
        call.fd = fd;
        call.length = size;
    }
    call.content_type = "application/octet-stream";
    call.no_retry = 1;
    registry_response_release(&resp);
    if ((rc = registry_call(c, &call, &resp)))
        goto done;
    if (resp.status != 201) {
        rc = registry_status_error(c, &call, &resp);
        goto done;
    }
    if (resp.docker_digest[0] && strcmp(resp.docker_digest, digest)) {
        rc = err_set(ERR_MISMATCH, "%s %s/%s: %s: the registry stored digest %s", c->reg->op, c->reg->name, repo, what,
                     resp.docker_digest);
        goto done;
    }
    *out = BLOB_UPLOADED;
done:
    registry_response_release(&resp);
    return rc;
}

int registry_blob_push(struct registry_conn *c, enum blob_result *out, const char *repo, const char *digest,
                       int64_t size, const char *path, const char *mount_from)
{
    int exists = 0;
    int rc = registry_blob_exists(c, &exists, repo, digest);
    if (rc)
        return rc;
    if (exists) {
        *out = BLOB_EXISTED;
        return 0;
    }
    int fd = -1;
    if (path) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return err_set_errno(ERR_IO, "%s: cannot open blob", path);
        struct stat st;
        if (fstat(fd, &st) != 0 || st.st_size != size) {
            close(fd);
            return err_set(ERR_MISMATCH, "%s: blob %s should be %lld bytes", path, digest, (long long)size);
        }
    }
    if (mount_from) {
        rc = upload_once(c, out, repo, digest, size, fd, mount_from);
        if (rc || *out == BLOB_MOUNTED || fd < 0) {
            if (fd >= 0)
                close(fd);
            return rc;
        }
        /* 202: the registry could not mount and opened a session we abandon for a plain upload. */
    }
    if (fd < 0)
        return err_set(ERR_NOTFOUND, "blob %s: no local copy to upload", digest);
    /* Whole-session retries: an upload session cannot be replayed request by request. */
    long tries = (long)parse_number_int_or(getenv("AMLPKG_RETRIES"), 0, 100, 3) + 1;
    for (long i = 0;; i++) {
        rc = upload_once(c, out, repo, digest, size, fd, NULL);
        if (!rc || i + 1 >= tries || rc == ERR_MISMATCH || rc == ERR_INVALID || rc == ERR_NOTFOUND)
            break;
        if (getenv("AMLPKG_DEBUG"))
            fprintf(stderr, "amlpkg: blob %.19s: %s; starting the upload again\n", digest, err_message(rc));
        err_clear();
        sleep((unsigned)(i < 4 ? 1u << i : 16u));
    }
    close(fd);
    return rc;
}

int registry_blob_pull(struct registry_conn *c, const char *repo, const char *digest, int64_t size,
                       const char *dest_path)
{
    char url[600], scope[600], what[128];
    snprintf(url, sizeof url, "/v2/%s/blobs/%s", repo, digest);
    registry_repo_scope(scope, sizeof scope, repo, 0);
    snprintf(what, sizeof what, "download blob %.19s", digest);
    FILE *f = NULL;
    char *tmp = NULL;
    struct digest d = {0};
    struct registry_response resp = {0};
    buf_init(&resp.error_body, 1);
    int rc = fs_temp_beside(&f, &tmp, dest_path);
    if (rc || (rc = digest_init(&d)))
        goto done;
    struct registry_call call;
    registry_call_init(&call, "GET", url, scope, repo, what);
    call.out_fd = fileno(f);
    call.out_digest = &d;
    call.out_max = size;
    if ((rc = registry_call(c, &call, &resp)))
        goto done;
    if (resp.status != 200) {
        rc = registry_status_error(c, &call, &resp);
        goto done;
    }
    char got[DIGEST_STRING_SIZE];
    if ((rc = digest_final(&d, got)))
        goto done;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size != size || strcmp(got, digest)) {
        rc = err_set(ERR_MISMATCH,
                     "%s %s/%s: %s: the registry sent %lld bytes with digest %s, expected %lld bytes with %s; "
                     "nothing was kept",
                     c->reg->op, c->reg->name, repo, what, (long long)st.st_size, got, (long long)size, digest);
        goto done;
    }
    rc = fs_commit(f, tmp, dest_path);
    f = NULL;
done:
    digest_release(&d);
    if (f) {
        fclose(f);
        remove(tmp);
    }
    free(tmp);
    registry_response_release(&resp);
    return rc;
}

int registry_manifest_get(struct registry_conn *c, struct buf *out, char media_type[256], char digest[72],
                          const char *repo, const char *id)
{
    char url[600], scope[600], what[160];
    snprintf(url, sizeof url, "/v2/%s/manifests/%s", repo, id);
    registry_repo_scope(scope, sizeof scope, repo, 0);
    snprintf(what, sizeof what, "get manifest %.80s", id);
    struct registry_call call;
    registry_call_init(&call, "GET", url, scope, repo, what);
    call.accept = MEDIA_OCI_MANIFEST ", " MEDIA_OCI_INDEX ", " MEDIA_DOCKER_MANIFEST ", " MEDIA_DOCKER_LIST;
    call.body_buf = out;
    call.out_max = MANIFEST_LIMIT;
    struct registry_response resp;
    int rc = registry_call(c, &call, &resp);
    if (!rc && resp.status != 200)
        rc = registry_status_error(c, &call, &resp);
    if (rc)
        goto done;
    if ((rc = digest_buffer(digest, out->data, out->len)))
        goto done;
    const char *want = reference_valid_digest(id) ? id : resp.docker_digest[0] ? resp.docker_digest : NULL;
    if (want && strcmp(want, digest)) {
        rc = err_set(ERR_MISMATCH, "%s %s/%s: %s: the manifest's digest is %s, expected %s; refused", c->reg->op,
                     c->reg->name, repo, what, digest, want);
        goto done;
    }
    /* The document's own mediaType wins over a generic Content-Type. */
    snprintf(media_type, 256, "%.*s", (int)strcspn(resp.content_type, ";"), resp.content_type);
    struct arena arena;
    arena_init(&arena, 4096, 64u << 20);
    struct json_value *root = NULL;
    if (json_parse(&root, &arena, out->data, out->len, what) == 0) {
        const struct json_value *mt = json_member(root, "mediaType");
        if (mt && mt->type == JSON_STRING && mt->as.string.len < 256)
            snprintf(media_type, 256, "%s", mt->as.string.ptr);
        else if (!media_type[0] || !strcmp(media_type, "application/json"))
            snprintf(media_type, 256, "%s", json_member(root, "manifests") ? MEDIA_OCI_INDEX : MEDIA_OCI_MANIFEST);
    }
    err_clear();
    arena_release(&arena);
done:
    registry_response_release(&resp);
    return rc;
}

int registry_blob_get(struct registry_conn *c, struct buf *out, const char *repo, const char *digest, int64_t size)
{
    char url[600], scope[600], what[128];
    snprintf(url, sizeof url, "/v2/%s/blobs/%s", repo, digest);
    registry_repo_scope(scope, sizeof scope, repo, 0);
    snprintf(what, sizeof what, "get blob %.19s", digest);
    if (!reference_valid_digest(digest))
        return err_set(ERR_INVALID, "%s %s/%s: %s: not a sha256 digest", c->reg->op, c->reg->name, repo, what);
    if (size < 0 || size > MANIFEST_LIMIT)
        return err_set(ERR_LIMIT, "%s %s/%s: %s: %lld bytes, more than the %d a config may have", c->reg->op,
                       c->reg->name, repo, what, (long long)size, MANIFEST_LIMIT);
    struct registry_call call;
    registry_call_init(&call, "GET", url, scope, repo, what);
    buf_reset(out);
    call.body_buf = out;
    call.out_max = size;
    struct registry_response resp;
    int rc = registry_call(c, &call, &resp);
    if (!rc && resp.status != 200)
        rc = registry_status_error(c, &call, &resp);
    char got[DIGEST_STRING_SIZE];
    if (!rc && !(rc = digest_buffer(got, out->data, out->len)) && (strcmp(got, digest) || (int64_t)out->len != size))
        rc = err_set(ERR_MISMATCH, "%s %s/%s: %s: the registry sent %zu bytes with digest %s; refused", c->reg->op,
                     c->reg->name, repo, what, out->len, got);
    registry_response_release(&resp);
    return rc;
}

int registry_manifest_has(struct registry_conn *c, int *out, const char *repo, const char *id, const char *want)
{
    char what[160];
    snprintf(what, sizeof what, "check manifest %.80s", id);
    /* Every type we push, so the registry never converts (which changes the digest). */
    return head_check(c, out, repo, "manifests", id,
                      MEDIA_OCI_MANIFEST ", " MEDIA_OCI_INDEX ", " MEDIA_DOCKER_MANIFEST ", " MEDIA_DOCKER_LIST, want,
                      what);
}

int registry_manifest_put(struct registry_conn *c, const char *repo, const char *id, const char *data, size_t len,
                          const char *media_type, int *subject_ack)
{
    if (subject_ack)
        *subject_ack = 0;
    char url[600], scope[600], what[160];
    snprintf(url, sizeof url, "/v2/%s/manifests/%s", repo, id);
    registry_repo_scope(scope, sizeof scope, repo, 1);
    snprintf(what, sizeof what, "put manifest %.80s", id);
    struct registry_call call;
    registry_call_init(&call, "PUT", url, scope, repo, what);
    call.content_type = media_type;
    call.data = data;
    call.len = len;
    struct registry_response resp;
    int rc = registry_call(c, &call, &resp);
    if (!rc && resp.status != 201 && resp.status != 200)
        rc = registry_status_error(c, &call, &resp);
    if (!rc && resp.docker_digest[0]) {
        char mine[DIGEST_STRING_SIZE];
        if (!(rc = digest_buffer(mine, data, len)) && strcmp(mine, resp.docker_digest))
            rc = err_set(ERR_MISMATCH, "%s %s/%s: %s: the registry stored digest %s, expected %s", c->reg->op,
                         c->reg->name, repo, what, resp.docker_digest, mine);
    }
    if (!rc && subject_ack)
        *subject_ack = resp.oci_subject[0] != '\0';
    registry_response_release(&resp);
    return rc;
}

int registry_link_next(char *out, size_t size, const char *link)
{
    out[0] = '\0';
    /* Link: <url>; rel="next"[, <url2>; rel="prev"] */
    for (const char *p = link; (p = strchr(p, '<'));) {
        const char *end = strchr(p, '>');
        if (!end)
            return err_set(ERR_PARSE, "Link header '%.200s': no closing '>'", link);
        const char *params = end + 1, *stop = strchr(params, ',');
        size_t plen = stop ? (size_t)(stop - params) : strlen(params);
        char rel[256];
        snprintf(rel, sizeof rel, "%.*s", (int)(plen < sizeof rel ? plen : sizeof rel - 1), params);
        if (strstr(rel, "rel=\"next\"") || strstr(rel, "rel=next")) {
            size_t n = (size_t)(end - p - 1);
            if (n >= size)
                return err_set(ERR_LIMIT, "Link header: URL too long");
            memcpy(out, p + 1, n);
            out[n] = '\0';
            return 0;
        }
        p = end + 1;
    }
    return 0;
}

void registry_tags_free(char **tags, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(tags[i]);
    free(tags);
}

/* Appends the "tags" of one tags/list page to *tags. */
static int add_tag_page(char ***tags, size_t *n, size_t *cap, const struct buf *page, const char *what)
{
    struct arena arena;
    arena_init(&arena, 8192, 64u << 20);
    struct json_value *root = NULL;
    int rc = json_parse(&root, &arena, page->data, page->len, what);
    if (rc)
        goto done;
    const struct json_value *t = root->type == JSON_OBJECT ? json_member(root, "tags") : NULL;
    if (!t || t->type == JSON_NULL)
        goto done; /* a repository with no tags may say "tags": null */
    if (t->type != JSON_ARRAY) {
        rc = err_set(ERR_PARSE, "%s: 'tags' is not a list", what);
        goto done;
    }
    for (const struct json_value *e = t->child; e; e = e->next) {
        if (e->type != JSON_STRING) {
            rc = err_set(ERR_PARSE, "%s: a tag is not a string", what);
            goto done;
        }
        if (*n == *cap) {
            size_t nc = *cap ? 2 * *cap : 64;
            char **nt = realloc(*tags, nc * sizeof *nt);
            if (!nt) {
                rc = err_set(ERR_NOMEM, "out of memory");
                goto done;
            }
            *tags = nt;
            *cap = nc;
        }
        if (!((*tags)[*n] = strdup(e->as.string.ptr))) {
            rc = err_set(ERR_NOMEM, "out of memory");
            goto done;
        }
        (*n)++;
    }
done:
    arena_release(&arena);
    return rc;
}

int registry_tags_list(struct registry_conn *c, char ***out, size_t *out_n, const char *repo, long page_size)
{
    *out = NULL;
    *out_n = 0;
    char **tags = NULL;
    size_t n = 0, cap = 0;
    char url[4096], scope[600], what[320];
    struct buf page;
    buf_init(&page, 16u << 20);
    if (page_size > 0)
        snprintf(url, sizeof url, "/v2/%s/tags/list?n=%ld", repo, page_size);
    else
        snprintf(url, sizeof url, "/v2/%s/tags/list", repo);
    registry_repo_scope(scope, sizeof scope, repo, 0);
    int rc = 0;
    for (int pages = 0;; pages++) {
        if (pages >= 100000) {
            rc = err_set(ERR_LIMIT, "%s %s/%s: list tags: more than %d pages", c->reg->op, c->reg->name, repo, pages);
            break;
        }
        snprintf(what, sizeof what, "list tags%s", pages ? " (next page)" : "");
        struct registry_call call;
        registry_call_init(&call, "GET", url, scope, repo, what);
        call.accept = "application/json";
        call.body_buf = &page;
        buf_reset(&page);
        struct registry_response resp;
        rc = registry_call(c, &call, &resp);
        if (!rc && resp.status != 200)
            rc = registry_status_error(c, &call, &resp);
        char next[4096] = "";
        if (!rc)
            rc = add_tag_page(&tags, &n, &cap, &page, what);
        if (!rc)
            rc = registry_link_next(next, sizeof next, resp.link);
        registry_response_release(&resp);
        if (rc || !next[0])
            break;
        if (!strcmp(next, url)) {
            rc = err_set(ERR_PARSE, "%s %s/%s: list tags: the registry's next page is the same page", c->reg->op,
                         c->reg->name, repo);
            break;
        }
        snprintf(url, sizeof url, "%s", next);
    }
    buf_release(&page);
    if (rc) {
        registry_tags_free(tags, n);
        return rc;
    }
    *out = tags;
    *out_n = n;
    return 0;
}
