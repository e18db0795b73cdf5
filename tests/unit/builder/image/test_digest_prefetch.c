/* Large files hashed on another core: the digests match a plain hash, only
 * files over the size are taken, a file changed since is not answered for,
 * and covers() says which layers must wait. */
#include "builder/sys/digest.h"
#include "builder/image/digest_prefetch.h"
#include "builder/sys/fsutil.h"
#include "common/path.h"
#include "common/err.h"
#include "test.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/amlpkg-test-prefetch-XXXXXX";

static void write_bytes(const char *path, size_t n, unsigned seed)
{
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; f && i < n; i++)
        fputc((int)((seed = seed * 1103515245 + 12345) >> 16) & 0xff, f);
    if (f)
        fclose(f);
}

TEST(hashes_large_files_for_lookup)
{
    CHECK(mkdtemp(dir) != NULL);
    char *tree = path_join(dir, "model"), *big = path_join(dir, "model/weights.bin"),
         *small = path_join(dir, "model/a.txt"), *other = path_join(dir, "other.bin");
    CHECK(mkdir(tree, 0755) == 0);
    write_bytes(big, 3 << 20, 1);
    write_bytes(small, 100, 2);
    write_bytes(other, 3 << 20, 3);
    const char *paths[] = {tree, other};
    struct digest_prefetch *p = NULL;
    CHECK_EQ_INT(digest_prefetch_start(&p, NULL, paths, 2, 1 << 20), 0);
    CHECK(p != NULL);
    const char *layer_a[] = {tree}, *unrelated[] = {dir};
    char elsewhere[300];
    snprintf(elsewhere, sizeof elsewhere, "%s/mode", dir); /* a prefix of "model", not a parent */
    const char *prefix_only[] = {elsewhere};
    CHECK(digest_prefetch_covers(p, layer_a, 1));
    CHECK(digest_prefetch_covers(p, unrelated, 1));
    CHECK(!digest_prefetch_covers(p, prefix_only, 1));
    char got[DIGEST_STRING_SIZE], want[DIGEST_STRING_SIZE];
    int64_t size;
    CHECK_EQ_INT(digest_prefetch_lookup(p, big, got), 0);
    CHECK_EQ_INT(digest_file(big, want, &size), 0);
    CHECK(!strcmp(got, want));
    CHECK_EQ_INT(digest_prefetch_lookup(p, small, got), ERR_NOTFOUND); /* under the size: not taken */
    /* Changed after it was hashed: the old digest is not given out. */
    FILE *f = fopen(other, "ab");
    CHECK(f && fputs("more", f) >= 0 && fclose(f) == 0);
    CHECK_EQ_INT(digest_prefetch_lookup(p, other, got), ERR_NOTFOUND);
    digest_prefetch_free(p);
    CHECK_EQ_INT(digest_prefetch_lookup(NULL, big, got), ERR_NOTFOUND);
    digest_prefetch_free(NULL);
    fs_remove_tree(dir);
    free(tree);
    free(big);
    free(small);
    free(other);
}

int main(void)
{
    RUN(hashes_large_files_for_lookup);
    return test_failures ? 1 : 0;
}
