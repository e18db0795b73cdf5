/* The sqlite index: schema, entries and the blobs they need. */
#include "test.h"

#include "cache/index.h"
#include "common/err.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/amlpkg-test-index-XXXXXX";
static char db[300];

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define K1 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define K2 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static int count_cb(void *ctx, const char *digest, int64_t size, int64_t added)
{
    (void)digest;
    (void)size;
    (void)added;
    (*(int *)ctx)++;
    return 0;
}

TEST(entries_and_refs_round_trip)
{
    struct cache_index *ix = NULL;
    CHECK_EQ_INT(index_open(&ix, db), 0);
    struct index_counts k;
    CHECK_EQ_INT(index_counts(ix, &k), 0);
    CHECK_EQ_INT(k.schema, INDEX_SCHEMA);
    CHECK_EQ_INT(index_begin(ix), 0);
    CHECK_EQ_INT(index_blob_put(ix, D1, 10, 100), 0);
    CHECK_EQ_INT(index_blob_put(ix, D2, 20, 100), 0);
    CHECK_EQ_INT(index_blob_put(ix, D3, 30, 100), 0);
    struct index_entry e = {.key = K1,
                            .manifest_digest = D1,
                            .image_name = "azureml/azureml_x",
                            .size = 30,
                            .created = 100,
                            .last_used = 100};
    const char *refs[] = {D1, D2};
    CHECK_EQ_INT(index_entry_put(ix, &e, refs, 2), 0);
    CHECK_EQ_INT(index_commit(ix), 0);

    struct index_entry got;
    CHECK_EQ_INT(index_entry_get(ix, K1, &got), 0);
    CHECK_STR(got.manifest_digest, D1);
    CHECK_STR(got.image_name, "azureml/azureml_x");
    CHECK_EQ_INT(got.size, 30);
    CHECK_EQ_INT(index_entry_get(ix, K2, &got), ERR_NOTFOUND);
    char **list = NULL;
    size_t n = 0;
    CHECK_EQ_INT(index_entry_refs(ix, K1, &list, &n), 0);
    CHECK_EQ_INT(n, 2);
    CHECK_STR(list[1], D2);
    index_strings_free(list, n);
    int unref = 0;
    CHECK_EQ_INT(index_each_unreferenced(ix, 1000, count_cb, &unref), 0);
    CHECK_EQ_INT(unref, 1);
    unref = 0;
    CHECK_EQ_INT(index_each_unreferenced(ix, 50, count_cb, &unref), 0); /* grace: too young */
    CHECK_EQ_INT(unref, 0);

    /* Dropping a blob drops the entries that need it (and their refs). */
    size_t removed = 0;
    CHECK_EQ_INT(index_begin(ix), 0);
    CHECK_EQ_INT(index_blob_delete(ix, D2, &removed), 0);
    CHECK_EQ_INT(index_commit(ix), 0);
    CHECK_EQ_INT(removed, 1);
    CHECK_EQ_INT(index_entry_get(ix, K1, &got), ERR_NOTFOUND);
    CHECK_EQ_INT(index_counts(ix, &k), 0);
    CHECK_EQ_INT(k.entries, 0);
    CHECK_EQ_INT(k.blobs, 2);
    index_close(ix);
}

TEST(expiry_and_touch)
{
    struct cache_index *ix = NULL;
    CHECK_EQ_INT(index_open(&ix, db), 0);
    struct index_entry e = {.key = K2, .manifest_digest = D1, .image_name = "n", .created = 100, .last_used = 100};
    const char *refs[] = {D1};
    CHECK_EQ_INT(index_begin(ix), 0);
    CHECK_EQ_INT(index_entry_put(ix, &e, refs, 1), 0);
    CHECK_EQ_INT(index_commit(ix), 0);
    CHECK_EQ_INT(index_entry_touch(ix, K2, 500), 0);
    size_t removed = 0;
    CHECK_EQ_INT(index_entries_expire(ix, 400, &removed), 0);
    CHECK_EQ_INT(removed, 0);
    CHECK_EQ_INT(index_entries_expire(ix, 501, &removed), 0);
    CHECK_EQ_INT(removed, 1);
    index_close(ix);
}

TEST(a_newer_schema_is_refused)
{
    char path[320];
    snprintf(path, sizeof path, "%s/newer.db", dir);
    sqlite3 *raw = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &raw), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(raw, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    struct cache_index *ix = NULL;
    err_clear();
    CHECK_EQ_INT(index_open(&ix, path), ERR_UNSUPPORTED);
    CHECK(strstr(err_message(ERR_UNSUPPORTED), "cache index schema 7 is newer"));
    CHECK(ix == NULL);
    err_clear();
}

/* A schema-1 index (amlpkg before hit counts and layers): upgraded in place, its entries kept. */
TEST(a_version_1_index_is_upgraded)
{
    char path[320];
    snprintf(path, sizeof path, "%s/v1.db", dir);
    sqlite3 *raw = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &raw), SQLITE_OK);
    CHECK_EQ_INT(
        sqlite3_exec(raw,
                     "CREATE TABLE blobs (digest TEXT PRIMARY KEY, size INTEGER NOT NULL, added INTEGER NOT NULL);"
                     "CREATE TABLE entries (key TEXT PRIMARY KEY, manifest_digest TEXT NOT NULL, image_name "
                     "TEXT NOT NULL, size INTEGER NOT NULL, created INTEGER NOT NULL, last_used INTEGER NOT NULL);"
                     "CREATE TABLE refs (key TEXT NOT NULL REFERENCES entries(key) ON DELETE CASCADE, digest "
                     "TEXT NOT NULL REFERENCES blobs(digest), PRIMARY KEY (key, digest));"
                     "INSERT INTO entries VALUES('" K1 "', '" D1 "', 'old', 5, 1, 2);"
                     "PRAGMA user_version = 1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(raw);
    /* Read-only, a v1 index is read as it is. */
    struct cache_index *ix = NULL;
    struct index_entry e;
    CHECK_EQ_INT(index_open_readonly(&ix, path), 0);
    CHECK_EQ_INT(index_entry_get(ix, K1, &e), 0);
    CHECK_STR(e.kind, "environment");
    CHECK_EQ_INT(index_begin(ix), ERR_UNSUPPORTED);
    err_clear();
    index_close(ix);
    /* Opened to write, it is upgraded. */
    CHECK_EQ_INT(index_open(&ix, path), 0);
    struct index_counts k;
    CHECK_EQ_INT(index_counts(ix, &k), 0);
    CHECK_EQ_INT(k.schema, INDEX_SCHEMA);
    CHECK_EQ_INT(k.entries, 1);
    CHECK_EQ_INT(index_entry_touch(ix, K1, 10), 0);
    CHECK_EQ_INT(index_entry_get(ix, K1, &e), 0);
    CHECK_EQ_INT((int)e.hits, 1);
    CHECK_STR(e.image_name, "old");
    index_close(ix);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(db, sizeof db, "%s/index.db", dir);
    RUN(entries_and_refs_round_trip);
    RUN(expiry_and_touch);
    RUN(a_newer_schema_is_refused);
    RUN(a_version_1_index_is_upgraded);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    TEST_EXIT();
}
