/* oci_layout_add keeps what other tools put in index.json and replaces only
 * the entry with the image's name. */
#include "builder/sys/digest.h"
#include "builder/sys/fsutil.h"
#include "common/path.h"
#include "builder/image/oci_layout.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "test.h"

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[] = "/tmp/amlpkg-test-layout-XXXXXX";

static void write_file(const char *dir, const char *name, const char *text)
{
    char *p = path_join(dir, name);
    FILE *f = fopen(p, "wb");
    fputs(text, f);
    fclose(f);
    free(p);
}

/* A blob file in the work directory and its descriptor. */
static void make_blob(struct oci_blob *b, const char *work, const char *text, const char *media_type)
{
    memset(b, 0, sizeof *b);
    digest_buffer(b->digest, text, strlen(text));
    memcpy(b->diff_id, b->digest, sizeof b->diff_id);
    b->size = (int64_t)strlen(text);
    b->media_type = media_type;
    b->path = path_join(work, b->digest + 7);
    FILE *f = fopen(b->path, "wb");
    fputs(text, f);
    fclose(f);
}

static void make_image(struct oci_image *img, const char *work, const char *manifest_text)
{
    memset(img, 0, sizeof *img);
    img->layers = calloc(1, sizeof *img->layers);
    img->n_layers = 1;
    make_blob(&img->layers[0], work, "layer bytes", "application/vnd.oci.image.layer.v1.tar");
    make_blob(&img->config, work, "{\"config\":{}}", OCI_MEDIA_TYPE_CONFIG);
    make_blob(&img->manifest, work, manifest_text, OCI_MEDIA_TYPE_MANIFEST);
    img->ref_name = strdup("ridge:1");
}

static const char foreign_index[] =
    "{\"schemaVersion\":2,\"manifests\":["
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:"
    "1111111111111111111111111111111111111111111111111111111111111111\",\"size\":1234,"
    "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"},"
    "\"annotations\":{\"org.opencontainers.image.ref.name\":\"other:1\",\"note\":\"caf\\u00e9 \\\"q\\\"\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:"
    "2222222222222222222222222222222222222222222222222222222222222222\",\"size\":99,"
    "\"annotations\":{\"org.opencontainers.image.ref.name\":\"ridge:1\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:"
    "3333333333333333333333333333333333333333333333333333333333333333\",\"size\":7,\"weight\":0.5}],"
    "\"annotations\":{\"com.example\":[1,true,null]}}";

TEST(merges_into_a_foreign_index)
{
    char *layout = path_join(root, "layout"), *work = path_join(root, "work");
    mkdir(layout, 0755);
    mkdir(work, 0755);
    write_file(layout, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
    write_file(layout, "index.json", foreign_index);
    struct oci_image img;
    make_image(&img, work, "{\"manifest\":1}");
    err_clear();
    CHECK_EQ_INT(oci_layout_add(&img, layout), 0);

    char *index_path = path_join(layout, "index.json");
    struct buf b;
    buf_init(&b, 0);
    CHECK_EQ_INT(buf_read_file(&b, index_path), 0);
    struct arena arena;
    arena_init(&arena, 4096, 0);
    struct json_value *root_v = NULL;
    CHECK_EQ_INT(json_parse(&root_v, &arena, b.data, b.len, "index.json"), 0);
    const struct json_value *m = json_member(root_v, "manifests");
    CHECK(m && m->count == 3);
    const struct json_value *first = m->child, *second = first->next, *third = second->next;
    const struct json_value *note = json_member(json_member(first, "annotations"), "note");
    CHECK(note && !strcmp(note->as.string.ptr, "caf\xc3\xa9 \"q\""));
    CHECK(!strcmp(json_member(json_member(first, "platform"), "architecture")->as.string.ptr, "arm64"));
    CHECK_EQ_INT((long long)json_member(first, "size")->as.number, 1234);
    CHECK(!strcmp(json_member(second, "digest")->as.string.ptr, img.manifest.digest)); /* replaced in place */
    CHECK_NEAR(json_member(third, "weight")->as.number, 0.5, 1e-12);
    const struct json_value *kept = json_member(json_member(root_v, "annotations"), "com.example");
    CHECK(kept && kept->type == JSON_ARRAY && kept->count == 3);
    char *blob = path_join(layout, "blobs/sha256");
    char *layer = path_join(blob, img.layers[0].digest + 7);
    CHECK(access(layer, R_OK) == 0);

    /* Adding the same image again changes nothing. */
    struct buf again;
    buf_init(&again, 0);
    CHECK_EQ_INT(oci_layout_add(&img, layout), 0);
    CHECK_EQ_INT(buf_read_file(&again, index_path), 0);
    CHECK(again.len == b.len && !memcmp(again.data, b.data, b.len));
    buf_release(&again);
    free(layer);
    free(blob);
    arena_release(&arena);
    buf_release(&b);
    free(index_path);
    oci_image_release(&img);
    free(layout);
    free(work);
}

TEST(refuses_a_directory_that_is_no_layout)
{
    char *dir = path_join(root, "other"), *work = path_join(root, "work2");
    mkdir(dir, 0755);
    mkdir(work, 0755);
    write_file(dir, "notes.txt", "mine");
    struct oci_image img;
    make_image(&img, work, "{\"manifest\":2}");
    err_clear();
    CHECK_EQ_INT(oci_layout_add(&img, dir), ERR_EXISTS);
    char *blobs = path_join(dir, "blobs");
    CHECK(access(blobs, F_OK) != 0);
    free(blobs);
    oci_image_release(&img);
    free(dir);
    free(work);
}

int main(void)
{
    if (!mkdtemp(root))
        return 1;
    RUN(merges_into_a_foreign_index);
    RUN(refuses_a_directory_that_is_no_layout);
    fs_remove_tree(root);
    TEST_EXIT();
}
