/* libFuzzer target: an oci-archive as a base image or push source reads it
 * (builder/image/image_source.h): the lazy first pass (index.json, small
 * blobs, the names and sizes of the others), the top of index.json, the
 * manifest, and the on-demand unpacking of the blobs it names, each bounded by
 * its descriptor's size. */
#include "builder/image/image_source.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "fuzz_files.h"
#include "common/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The config and layer descriptors of a manifest, as wants (at most 8). */
static size_t wants_of(const struct json_value *m, struct image_source_want *w)
{
    size_t n = 0;
    const struct json_value *cfg = json_member(m, "config"), *layers = json_member(m, "layers");
    const struct json_value *list[9] = {cfg};
    size_t k = 1;
    for (const struct json_value *l = layers && layers->type == JSON_ARRAY ? layers->child : NULL; l && k < 9;
         l = l->next)
        list[k++] = l;
    for (size_t i = 0; i < k; i++) {
        const struct json_value *d = list[i] ? json_member(list[i], "digest") : NULL;
        const struct json_value *s = list[i] ? json_member(list[i], "size") : NULL;
        if (d && d->type == JSON_STRING && s && s->type == JSON_NUMBER && s->as.number >= 0 && s->as.number < 1e9)
            w[n++] = (struct image_source_want){d->as.string.ptr, (int64_t)s->as.number};
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (!fuzz_write(path, "oci.tar", data, size))
        return 0;
    struct image_source *src = NULL;
    if (image_source_open(&src, path) == 0) {
        char digest[72], mt[256], ref[256];
        int64_t top_size;
        struct buf b;
        buf_init(&b, 1 << 20);
        struct arena arena;
        arena_init(&arena, 4096, 8u << 20);
        struct json_value *root = NULL;
        if (image_source_top(src, digest, mt, &top_size, ref) == 0 && image_source_read_blob(src, &b, digest) == 0 &&
            json_parse(&root, &arena, b.data, b.len, "manifest") == 0) {
            struct image_source_want w[9];
            size_t n = wants_of(root, w);
            if (image_source_fetch(src, w, n) == 0)
                for (size_t i = 0; i < n; i++) {
                    struct buf blob;
                    buf_init(&blob, 1 << 20);
                    (void)image_source_read_blob(src, &blob, w[i].digest);
                    buf_release(&blob);
                }
        }
        arena_release(&arena);
        buf_release(&b);
        image_source_free(src);
    }
    err_clear();
    unlink(path);
    return 0;
}
