/* The cache API: put blobs, record, look up, verify, gc, and several
 * processes writing at once. */
#include "test.h"

#include "cache/cache.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/amlpkg-test-cache-XXXXXX";
static char cdir[300];

#define K1 "1111111111111111111111111111111111111111111111111111111111111111"
#define K2 "2222222222222222222222222222222222222222222222222222222222222222"

/* Puts a layer, a config and a manifest naming both; returns the manifest digest. */
static int put_image(struct cache *c, const char *layer_text, char manifest[CACHE_DIGEST_SIZE],
                     char layer[CACHE_DIGEST_SIZE])
{
    char config[CACHE_DIGEST_SIZE];
    int rc = cache_put_blob_buffer(c, layer_text, strlen(layer_text), layer);
    if (!rc)
        rc = cache_put_blob_buffer(c, "{\"architecture\":\"amd64\",\"os\":\"linux\"}", 37, config);
    if (rc)
        return rc;
    char m[1024];
    int n = snprintf(m, sizeof m,
                     "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                     "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
                     "\"size\":37},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                     "\"digest\":\"%s\",\"size\":%zu}]}",
                     config, layer, strlen(layer_text));
    return cache_put_blob_buffer(c, m, (size_t)n, manifest);
}

TEST(record_then_lookup)
{
    struct cache *c = NULL;
    CHECK_EQ_INT(cache_open(&c, cdir), 0);
    char manifest[CACHE_DIGEST_SIZE], layer[CACHE_DIGEST_SIZE];
    CHECK_EQ_INT(put_image(c, "layer one", manifest, layer), 0);
    struct cache_entry e;
    err_clear();
    CHECK_EQ_INT(cache_lookup(c, K1, &e), ERR_NOTFOUND);
    CHECK_STR(err_message(ERR_NOTFOUND), "not found"); /* a miss sets no message */
    CHECK_EQ_INT(cache_record(c, K1, manifest, "azureml/azureml_" K1), 0);
    CHECK_EQ_INT(cache_lookup(c, K1, &e), 0);
    CHECK_STR(e.manifest_digest, manifest);
    CHECK_STR(e.image_name, "azureml/azureml_" K1);
    CHECK(e.size > 0);
    struct cache_stats s;
    CHECK_EQ_INT(cache_stats(c, &s), 0);
    CHECK_EQ_INT(s.entries, 1);
    CHECK_EQ_INT(s.blobs, 3);
    CHECK_EQ_INT(s.entry_bytes, s.blob_bytes);
    int fd = -1;
    CHECK_EQ_INT(cache_blob_open(c, layer, CACHE_VERIFY, &fd), 0);
    char buf[32] = {0};
    CHECK_EQ_INT(read(fd, buf, sizeof buf), 9);
    close(fd);
    CHECK_STR(buf, "layer one");
    cache_close(c);
}

TEST(record_refuses_missing_blobs_and_bad_input)
{
    struct cache *c = NULL;
    CHECK_EQ_INT(cache_open(&c, cdir), 0);
    char m[CACHE_DIGEST_SIZE];
    const char *text =
        "{\"config\":{\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"},"
        "\"layers\":[]}";
    CHECK_EQ_INT(cache_put_blob_buffer(c, text, strlen(text), m), 0);
    err_clear();
    CHECK_EQ_INT(cache_record(c, K2, m, "x"), ERR_NOTFOUND);
    CHECK(strstr(err_message(ERR_NOTFOUND), "is not in the cache"));
    err_clear();
    struct cache_entry e;
    CHECK_EQ_INT(cache_lookup(c, K2, &e), ERR_NOTFOUND);
    CHECK_EQ_INT(cache_record(c, "nothex", m, "x"), ERR_INVALID);
    err_clear();
    char notjson[CACHE_DIGEST_SIZE];
    CHECK_EQ_INT(cache_put_blob_buffer(c, "plain bytes", 11, notjson), 0);
    CHECK(cache_record(c, K2, notjson, "x") != 0);
    err_clear();
    cache_close(c);
}

TEST(verify_drops_corrupt_blobs_and_their_entries)
{
    struct cache *c = NULL;
    CHECK_EQ_INT(cache_open(&c, cdir), 0);
    char manifest[CACHE_DIGEST_SIZE], layer[CACHE_DIGEST_SIZE];
    CHECK_EQ_INT(put_image(c, "layer two", manifest, layer), 0);
    CHECK_EQ_INT(cache_record(c, K2, manifest, "two"), 0);
    struct cache_report r;
    CHECK_EQ_INT(cache_verify(c, &r), 0);
    CHECK_EQ_INT(r.corrupt, 0);
    CHECK(r.checked >= 3);
    cache_report_release(&r);
    char *path = NULL;
    CHECK_EQ_INT(cache_blob_path(c, layer, &path), 0);
    FILE *f = fopen(path, "w");
    fputs("tampered", f);
    fclose(f);
    free(path);
    int fd = -1;
    err_clear();
    CHECK_EQ_INT(cache_blob_open(c, layer, CACHE_VERIFY, &fd), ERR_MISMATCH);
    err_clear();
    CHECK_EQ_INT(cache_verify(c, &r), 0);
    CHECK_EQ_INT(r.corrupt, 1);
    CHECK_EQ_INT(r.entries_removed, 1);
    CHECK_EQ_INT(r.n_problems, 1);
    CHECK_STR(r.problems[0].digest, layer);
    CHECK_STR(r.problems[0].what, "corrupt");
    cache_report_release(&r);
    struct cache_entry e;
    CHECK_EQ_INT(cache_lookup(c, K2, &e), ERR_NOTFOUND);
    CHECK_EQ_INT(cache_lookup(c, K1, &e), 0); /* other entries are untouched */
    cache_close(c);
}

TEST(gc_removes_unreferenced_and_expired)
{
    struct cache *c = NULL;
    CHECK_EQ_INT(cache_open(&c, cdir), 0);
    struct cache_report r;
    /* With the default grace period nothing young goes. */
    CHECK_EQ_INT(cache_gc(c, -1, CACHE_GC_GRACE_SECONDS, &r), 0);
    CHECK_EQ_INT(r.blobs_removed, 0);
    CHECK_EQ_INT(cache_gc(c, -1, 0, &r), 0);
    CHECK(r.blobs_removed >= 3); /* K2's manifest and config, the bad test blobs */
    CHECK_EQ_INT(r.entries_removed, 0);
    struct cache_entry e;
    CHECK_EQ_INT(cache_lookup(c, K1, &e), 0);
    struct cache_stats s;
    CHECK_EQ_INT(cache_stats(c, &s), 0);
    CHECK_EQ_INT(s.blobs, 3);
    /* Entries unused for longer than older_than go, then their blobs. */
    sleep(1);
    CHECK_EQ_INT(cache_gc(c, 0, 0, &r), 0);
    CHECK_EQ_INT(r.entries_removed, 1);
    CHECK_EQ_INT(r.blobs_removed, 3);
    CHECK_EQ_INT(cache_stats(c, &s), 0);
    CHECK_EQ_INT(s.entries, 0);
    CHECK_EQ_INT(s.blobs, 0);
    cache_close(c);
}

TEST(gc_keeps_the_grace_period_while_others_use_the_cache)
{
    char d[320];
    snprintf(d, sizeof d, "%s/grace", dir);
    struct cache *builder = NULL, *gc = NULL;
    CHECK_EQ_INT(cache_open(&builder, d), 0);
    CHECK_EQ_INT(cache_open(&gc, d), 0);
    char digest[CACHE_DIGEST_SIZE];
    CHECK_EQ_INT(cache_put_blob_buffer(builder, "not recorded yet", 16, digest), 0);
    struct cache_report r;
    CHECK_EQ_INT(cache_gc(gc, -1, 0, &r), 0);
    CHECK_EQ_INT(r.grace_kept, 1);
    CHECK_EQ_INT(r.blobs_removed, 0);
    cache_close(builder);
    CHECK_EQ_INT(cache_gc(gc, -1, 0, &r), 0);
    CHECK_EQ_INT(r.grace_kept, 0);
    CHECK_EQ_INT(r.blobs_removed, 1);
    cache_close(gc);
}

TEST(concurrent_processes_share_a_cache)
{
    char shared[320];
    snprintf(shared, sizeof shared, "%s/shared", dir);
    enum { PROCS = 6, ROUNDS = 10 };
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        if (pids[p] == 0) {
            struct cache *c = NULL;
            int rc = cache_open(&c, shared);
            for (int i = 0; i < ROUNDS && !rc; i++) {
                char text[64], key[65], m[CACHE_DIGEST_SIZE], l[CACHE_DIGEST_SIZE];
                snprintf(text, sizeof text, "layer %d", i % 3); /* overlapping content */
                snprintf(key, sizeof key, "%064x", p * 100 + i);
                if (!(rc = put_image(c, text, m, l)))
                    rc = cache_record(c, key, m, "img");
                struct cache_entry e;
                if (!rc)
                    rc = cache_lookup(c, key, &e);
                struct cache_report r;
                if (!rc && i == ROUNDS / 2 && !(rc = cache_gc(c, -1, 3600, &r)))
                    cache_report_release(&r);
            }
            if (rc)
                fprintf(stderr, "child %d: %s\n", p, err_message(rc));
            cache_close(c);
            _exit(rc ? 1 : 0);
        }
    }
    int ok = 1;
    for (int p = 0; p < PROCS; p++) {
        int status = 0;
        waitpid(pids[p], &status, 0);
        ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    CHECK(ok);
    struct cache *c = NULL;
    CHECK_EQ_INT(cache_open(&c, shared), 0);
    struct cache_stats s;
    CHECK_EQ_INT(cache_stats(c, &s), 0);
    CHECK_EQ_INT(s.entries, PROCS * ROUNDS);
    CHECK_EQ_INT(s.blobs, 7); /* 3 layers, 1 config, 3 manifests */
    struct cache_report r;
    CHECK_EQ_INT(cache_verify(c, &r), 0);
    CHECK_EQ_INT(r.corrupt + r.missing, 0);
    cache_report_release(&r);
    cache_close(c);
}

/* A digest computed elsewhere (builder/image/digest_prefetch.c) is used for the rest
 * of the run when the file has not changed since; one that is too recent to
 * trust a stamp across runs is not kept for the next one. */
TEST(learned_file_digests)
{
    struct cache *c = NULL;
    CHECK_EQ_INT(cache_open(&c, cdir), 0);
    char path[400], digest[CACHE_DIGEST_SIZE], got[CACHE_DIGEST_SIZE];
    snprintf(path, sizeof path, "%s/learned.bin", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f && fputs("weights", f) >= 0 && fclose(f) == 0);
    struct stat before;
    CHECK_EQ_INT(stat(path, &before), 0);
    CHECK_EQ_INT(cache_file_digest_remembered(c, path, &before, got), ERR_NOTFOUND);
    /* Deliberately not its real digest: proves the learned one is what is answered. */
    memcpy(digest, "sha256:", 7);
    memset(digest + 7, 'a', 64);
    digest[71] = '\0';
    cache_file_digest_learn(c, path, &before, digest);
    CHECK_EQ_INT(cache_file_digest_remembered(c, path, &before, got), 0);
    CHECK(!strcmp(got, digest));
    CHECK_EQ_INT(cache_file_digest(c, path, got), 0);
    CHECK(!strcmp(got, digest));
    cache_close(c);
    /* Written just now: not trusted by a later run, which hashes it. */
    CHECK_EQ_INT(cache_open(&c, cdir), 0);
    CHECK_EQ_INT(cache_file_digest_remembered(c, path, &before, got), ERR_NOTFOUND);
    CHECK_EQ_INT(cache_file_digest(c, path, got), 0);
    CHECK(strcmp(got, digest) != 0);
    /* Changed after `before` was taken: nothing is learned. */
    f = fopen(path, "ab");
    CHECK(f && fputs(" changed", f) >= 0 && fclose(f) == 0);
    cache_file_digest_learn(c, path, &before, digest);
    struct stat now;
    CHECK_EQ_INT(stat(path, &now), 0);
    CHECK_EQ_INT(cache_file_digest_remembered(c, path, &now, got), ERR_NOTFOUND);
    cache_close(c);
}

TEST(default_dir_follows_the_environment)
{
    char *d = NULL;
    setenv("AMLPKG_CACHE_DIR", "/x/cache", 1);
    CHECK_EQ_INT(cache_default_dir(&d), 0);
    CHECK_STR(d, "/x/cache");
    free(d);
    unsetenv("AMLPKG_CACHE_DIR");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    CHECK_EQ_INT(cache_default_dir(&d), 0);
    CHECK_STR(d, "/xdg/amlpkg");
    free(d);
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    CHECK_EQ_INT(cache_default_dir(&d), 0);
    CHECK_STR(d, "/home/u/.cache/amlpkg");
    free(d);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(text, 1, strlen(text), f);
    return fclose(f) == 0 && n == strlen(text) ? 0 : -1;
}

static int read_text(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
    return (int)n;
}

/* cache_adopt_blob: a file amlpkg wrote or checked goes in as a hard link, not a copy; a blob that is
 * already that file is only marked used; a damaged copy of the name is replaced; and a link taken from a
 * blob (a base layer reused by a build) stays whole when gc evicts the blob. */
TEST(adopt_links_without_copying_and_survives_eviction)
{
    char d[320], src[340], again[340], held[340];
    snprintf(d, sizeof d, "%s/adopt", dir);
    snprintf(src, sizeof src, "%s/layer-a", dir);
    snprintf(again, sizeof again, "%s/layer-b", dir);
    snprintf(held, sizeof held, "%s/held", dir);
    struct cache *c = NULL;
    CHECK_EQ_INT(cache_open(&c, d), 0);
    const char *text = "a layer amlpkg has just written and hashed";
    CHECK_EQ_INT(write_file(src, text), 0);
    char digest[CACHE_DIGEST_SIZE], *blob = NULL;
    CHECK_EQ_INT(cache_file_digest(NULL, src, digest), 0);
    CHECK_EQ_INT(cache_adopt_blob(c, src, digest), 0);
    CHECK_EQ_INT(cache_blob_path(c, digest, &blob), 0);
    struct stat a, b;
    CHECK_EQ_INT(stat(src, &a), 0);
    CHECK_EQ_INT(stat(blob, &b), 0);
    CHECK(a.st_ino == b.st_ino); /* linked, not copied */
    CHECK_EQ_INT(b.st_mode & 0777, 0644);
    struct cache_stats s;
    CHECK_EQ_INT(cache_stats(c, &s), 0);
    CHECK_EQ_INT(s.blobs, 1);
    /* Adopting the blob's own file again is only a use. */
    CHECK_EQ_INT(cache_adopt_blob(c, blob, digest), 0);
    CHECK_EQ_INT(stat(blob, &b), 0);
    CHECK(a.st_ino == b.st_ino);
    unlink(src);
    int fd = -1;
    CHECK_EQ_INT(cache_blob_open(c, digest, CACHE_VERIFY, &fd), 0);
    close(fd);

    /* A damaged blob of that name is replaced by a checked file, not kept. */
    FILE *f = fopen(blob, "r+b");
    CHECK(f != NULL);
    if (f) {
        fputs("XXXX", f);
        fclose(f);
    }
    CHECK_EQ_INT(write_file(again, text), 0);
    CHECK_EQ_INT(cache_adopt_blob(c, again, digest), 0);
    CHECK_EQ_INT(stat(again, &a), 0);
    CHECK_EQ_INT(stat(blob, &b), 0);
    CHECK(a.st_ino == b.st_ino);
    CHECK_EQ_INT(cache_blob_open(c, digest, CACHE_VERIFY, &fd), 0);
    close(fd);
    unlink(again);

    /* A build holds a link to the blob; gc evicts the blob (no entry needs it); the link is untouched. */
    CHECK_EQ_INT(link(blob, held), 0);
    struct cache_report r;
    CHECK_EQ_INT(cache_gc(c, -1, 0, &r), 0);
    CHECK_EQ_INT(r.blobs_removed, 1);
    CHECK(access(blob, F_OK) != 0);
    char got[CACHE_DIGEST_SIZE], body[128];
    CHECK_EQ_INT(cache_file_digest(NULL, held, got), 0);
    CHECK_STR(got, digest);
    CHECK_EQ_INT(read_text(held, body, sizeof body), (int)strlen(text));
    CHECK_STR(body, text);
    unlink(held);

    free(blob);
    cache_close(c);

    /* A read-only tier is never written. */
    struct cache *ro = NULL;
    CHECK_EQ_INT(write_file(src, text), 0);
    CHECK_EQ_INT(cache_open_readonly(&ro, d), 0);
    err_clear();
    if (ro)
        CHECK_EQ_INT(cache_adopt_blob(ro, src, digest), ERR_UNSUPPORTED);
    cache_close(ro);
    unlink(src);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(cdir, sizeof cdir, "%s/c", dir);
    RUN(record_then_lookup);
    RUN(record_refuses_missing_blobs_and_bad_input);
    RUN(verify_drops_corrupt_blobs_and_their_entries);
    RUN(gc_removes_unreferenced_and_expired);
    RUN(gc_keeps_the_grace_period_while_others_use_the_cache);
    RUN(concurrent_processes_share_a_cache);
    RUN(learned_file_digests);
    RUN(default_dir_follows_the_environment);
    RUN(adopt_links_without_copying_and_survives_eviction);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    TEST_EXIT();
}
