/* Mapped model files: weights borrowed where they lie (aligned raw_data,
 * external data, misaligned raw_data a MatMul reads), copied when misaligned
 * for any other reader; a file replaced by rename keeps
 * serving, one truncated or rewritten in place fails runs with ERR_IO, and a
 * read past a truncated mapping's end is caught (SIGBUS) instead of killing us. */
#include "onnx_model_pack.h"
#include "test.h"

#include "common/arena.h"
#include "common/err.h"
#include "onnx.pb-c.h"
#include "runtime/engine/backends/backend.h"
#include "runtime/engine/engine.h"
#include "runtime/engine/model_map.h"
#include "runtime/engine/onnx_strip.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define N 1024 /* weights: 4 KiB, well above ONNX_STRIP_MIN */
#define K 32   /* a MatMul's W is K × K = N floats */

static char dir[] = "/tmp/test_model_map.XXXXXX";
static char paths[16][512];
static int n_paths;

static const char *path_of(const char *name)
{
    for (int i = 0; i < n_paths; i++)
        if (!strcmp(strrchr(paths[i], '/') + 1, name))
            return paths[i];
    snprintf(paths[n_paths], sizeof paths[0], "%s/%s", dir, name);
    return paths[n_paths++];
}

static int write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t put = fwrite(data, 1, len, f);
    return fclose(f) == 0 && put == len ? 0 : -1;
}

/* y = x + W, x and y float [N]; W named wname, in raw_data or (external) in data file "w.bin". */
static size_t pack_model(uint8_t **out, const char *wname, const float *w, int external, int matmul);

static size_t pack_add_model(uint8_t **out, const char *wname, const float *w, int external)
{
    return pack_model(out, wname, w, external, 0);
}

/* y = x · W (matmul), x [1, K], W [K, K], y [1, K] with K · K = N; otherwise y = x + W as above. */
static size_t pack_model(uint8_t **out, const char *wname, const float *w, int external, int matmul)
{
    Onnx__TensorShapeProto__Dimension d = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT, one, *pd[] = {&d},
                                      *pd2[] = {&one, &d};
    d.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d.dim_value = matmul ? K : N;
    one = d;
    one.dim_value = 1;
    Onnx__TensorShapeProto shape = ONNX__TENSOR_SHAPE_PROTO__INIT;
    shape.n_dim = matmul ? 2 : 1;
    shape.dim = matmul ? pd2 : pd;
    Onnx__TypeProto__Tensor tt = ONNX__TYPE_PROTO__TENSOR__INIT;
    tt.has_elem_type = 1;
    tt.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt.shape = &shape;
    Onnx__TypeProto type = ONNX__TYPE_PROTO__INIT;
    type.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type.tensor_type = &tt;
    Onnx__ValueInfoProto vx = ONNX__VALUE_INFO_PROTO__INIT, vy = ONNX__VALUE_INFO_PROTO__INIT;
    vx.name = "x";
    vx.type = &type;
    vy.name = "y";
    vy.type = &type;
    int64_t dims[] = {matmul ? K : N, K};
    Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT;
    t.name = (char *)wname;
    t.has_data_type = 1;
    t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t.n_dims = matmul ? 2 : 1;
    t.dims = dims;
    Onnx__StringStringEntryProto loc = ONNX__STRING_STRING_ENTRY_PROTO__INIT, *ext[] = {&loc};
    loc.key = "location";
    loc.value = "w.bin";
    if (external) {
        t.has_data_location = 1;
        t.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        t.n_external_data = 1;
        t.external_data = ext;
    } else {
        t.has_raw_data = 1;
        t.raw_data.len = N * sizeof(float);
        t.raw_data.data = (uint8_t *)w;
    }
    Onnx__TensorProto *inits[] = {&t};
    char *node_in[] = {"x", (char *)wname}, *node_out[] = {"y"};
    Onnx__NodeProto node = ONNX__NODE_PROTO__INIT;
    node.op_type = matmul ? "MatMul" : "Add";
    node.n_input = 2;
    node.input = node_in;
    node.n_output = 1;
    node.output = node_out;
    Onnx__NodeProto *nodes[] = {&node};
    Onnx__ValueInfoProto *ins[] = {&vx}, *outs[] = {&vy};
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    graph.name = "g";
    graph.n_node = 1;
    graph.node = nodes;
    graph.n_input = 1;
    graph.input = ins;
    graph.n_output = 1;
    graph.output = outs;
    graph.n_initializer = 1;
    graph.initializer = inits;
    size_t len = onnx_model_pack(out, &graph, "", 13);
    return len;
}

/* Where W's bytes landed in the packed model (offset of the pattern), or -1. */
static long weight_offset(const uint8_t *bytes, size_t len, const float *w)
{
    for (size_t i = 0; i + N * sizeof(float) <= len; i++)
        if (!memcmp(bytes + i, w, N * sizeof(float)))
            return (long)i;
    return -1;
}

/* Writes the model at path with W's bytes at an offset aligned (or not) for float. */
static int write_model_of(const char *path, const float *w, int aligned, int matmul)
{
    char name[16];
    for (int pad = 0; pad < 8; pad++) {
        snprintf(name, sizeof name, "W%.*s", pad, "wwwwwwww");
        uint8_t *bytes;
        size_t len = pack_model(&bytes, name, w, 0, matmul);
        long off = weight_offset(bytes, len, w);
        if (off >= 0 && (off % 4 == 0) == aligned) {
            int rc = write_bytes(path, bytes, len);
            free(bytes);
            return rc;
        }
        free(bytes);
    }
    return -1;
}

static int write_model(const char *path, const float *w, int aligned)
{
    return write_model_of(path, w, aligned, 0);
}

/* Runs y = x · W with x = 1 and checks y[j] against the sum of W's column j. */
static int run_matmul_checks(const struct engine_model *m, const float *w)
{
    static float x[K];
    for (int i = 0; i < K; i++)
        x[i] = 1;
    struct tensor in = {.type = TENSOR_FLOAT, .rank = 2, .dims = {1, K}, .data = x}, out;
    struct arena arena;
    arena_init(&arena, 0, 0);
    int rc = engine_run(m, &arena, &in, &out);
    for (int j = 0; !rc && j < K; j++) {
        double want = 0;
        for (int k = 0; k < K; k++)
            want += w[k * K + j];
        if (fabs(((float *)out.data)[j] - want) > 1e-3 * (1 + fabs(want)))
            rc = -1;
    }
    arena_release(&arena);
    return rc;
}

/* Runs y = x + W with x = 1 and checks y against want + 1. */
static int run_checks(const struct engine_model *m, const float *want)
{
    static float x[N];
    for (int i = 0; i < N; i++)
        x[i] = 1;
    struct tensor in = {.type = TENSOR_FLOAT, .rank = 1, .dims = {N}, .data = x}, out;
    struct arena arena;
    arena_init(&arena, 0, 0);
    int rc = engine_run(m, &arena, &in, &out);
    for (int i = 0; !rc && i < N; i++)
        if (((float *)out.data)[i] != want[i] + 1)
            rc = -1;
    arena_release(&arena);
    return rc;
}

static float w1[N], w2[N];

TEST(aligned_weights_are_borrowed_not_copied)
{
    const char *path = path_of("aligned.onnx");
    CHECK_EQ_INT(write_model(path, w1, 1), 0);
    struct engine_model *m = NULL;
    CHECK_EQ_INT(engine_model_load_file(&m, path), 0);
    CHECK_EQ_INT(engine_model_copied_bytes(m), 0);
    CHECK_EQ_INT(run_checks(m, w1), 0);
    engine_model_free(m);
}

TEST(misaligned_weights_are_copied_once)
{
    const char *path = path_of("misaligned.onnx");
    CHECK_EQ_INT(write_model(path, w1, 0), 0);
    struct engine_model *m = NULL;
    CHECK_EQ_INT(engine_model_load_file(&m, path), 0);
    CHECK_EQ_INT(engine_model_copied_bytes(m), N * sizeof(float));
    CHECK_EQ_INT(run_checks(m, w1), 0);
    engine_model_free(m);
}

TEST(misaligned_matmul_weights_are_read_in_place)
{
    const char *path = path_of("misaligned_matmul.onnx");
    CHECK_EQ_INT(write_model_of(path, w1, 0, 1), 0);
    struct engine_model *m = NULL;
    CHECK_EQ_INT(engine_model_load_file(&m, path), 0);
    CHECK_EQ_INT(engine_model_copied_bytes(m), 0);
    CHECK_EQ_INT(run_matmul_checks(m, w1), 0);
    engine_model_free(m);
    /* The reference kernels read W as floats: an aligned copy at load. */
    CHECK_EQ_INT(backend_configure("cpu-ref", 0), 0);
    int rc = engine_model_load_file(&m, path);
    backend_configure("auto", 0);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(engine_model_copied_bytes(m), N * sizeof(float));
    CHECK_EQ_INT(run_matmul_checks(m, w1), 0);
    engine_model_free(m);
}

TEST(buffer_models_borrow_from_their_decoded_proto)
{
    uint8_t *bytes;
    size_t len = pack_add_model(&bytes, "W", w1, 0);
    struct engine_model *m = NULL;
    CHECK_EQ_INT(engine_model_load_buffer(&m, bytes, len, "buffer.onnx"), 0);
    free(bytes); /* the model must not point into the caller's buffer */
    CHECK_EQ_INT(engine_model_copied_bytes(m), 0);
    CHECK_EQ_INT(run_checks(m, w1), 0);
    engine_model_free(m);
}

TEST(external_data_is_mapped_not_copied)
{
    uint8_t *bytes;
    size_t len = pack_add_model(&bytes, "W", w2, 1);
    const char *path = path_of("external.onnx");
    int rc = write_bytes(path, bytes, len);
    free(bytes);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(write_bytes(path_of("w.bin"), w2, sizeof w2), 0);
    struct engine_model *m = NULL;
    CHECK_EQ_INT(engine_model_load_file(&m, path), 0);
    CHECK_EQ_INT(engine_model_copied_bytes(m), 0);
    CHECK_EQ_INT(run_checks(m, w2), 0);
    engine_model_free(m);
    CHECK_EQ_INT(engine_model_load_graph(&m, path), 0);
    CHECK_EQ_INT(engine_model_copied_bytes(m), 0);
    engine_model_free(m);
}

TEST(a_model_replaced_by_rename_keeps_serving_the_old_one)
{
    const char *path = path_of("renamed.onnx"), *next = path_of("renamed.next");
    CHECK_EQ_INT(write_model(path, w1, 1), 0);
    struct engine_model *m = NULL;
    CHECK_EQ_INT(engine_model_load_file(&m, path), 0);
    CHECK_EQ_INT(write_model(next, w2, 1), 0);
    CHECK_EQ_INT(rename(next, path), 0);
    CHECK_EQ_INT(run_checks(m, w1), 0); /* the old weights, from the old inode */
    engine_model_free(m);
    CHECK_EQ_INT(engine_model_load_file(&m, path), 0); /* a reload sees the new ones */
    CHECK_EQ_INT(run_checks(m, w2), 0);
    engine_model_free(m);
}

TEST(a_model_rewritten_in_place_fails_runs_until_reloaded)
{
    const char *path = path_of("rewritten.onnx");
    CHECK_EQ_INT(write_model(path, w1, 1), 0);
    struct engine_model *m = NULL;
    CHECK_EQ_INT(engine_model_load_file(&m, path), 0);
    usleep(20000); /* past the file system's timestamp granularity, so the rewrite shows in mtime */
    uint8_t *bytes;
    size_t len = pack_add_model(&bytes, "W", w1, 0);
    long off = weight_offset(bytes, len, w1);
    free(bytes);
    CHECK(off >= 0);
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    ssize_t put = pwrite(fd, w2, 64, 0); /* same size, other bytes: an in-place rewrite */
    close(fd);
    CHECK_EQ_INT(put, 64);
    err_clear();
    CHECK_EQ_INT(run_checks(m, w1), ERR_IO);
    CHECK(strstr(err_message(ERR_IO), "rewritten on disk") != NULL);
    engine_model_free(m);
}

TEST(a_model_truncated_in_place_fails_runs)
{
    const char *path = path_of("truncated.onnx");
    CHECK_EQ_INT(write_model(path, w1, 1), 0);
    struct engine_model *m = NULL;
    CHECK_EQ_INT(engine_model_load_file(&m, path), 0);
    CHECK_EQ_INT(truncate(path, 100), 0);
    err_clear();
    CHECK_EQ_INT(run_checks(m, w1), ERR_IO);
    CHECK(strstr(err_message(ERR_IO), "changed size on disk") != NULL);
    engine_model_free(m);
}

TEST(a_read_past_a_truncated_mapping_is_caught_not_fatal)
{
    const char *path = path_of("pages.bin");
    static unsigned char data[3 * 65536];
    memset(data, 7, sizeof data);
    CHECK_EQ_INT(write_bytes(path, data, sizeof data), 0);
    struct model_map *map = NULL;
    CHECK_EQ_INT(model_map_open(&map, path, 0), 0);
    CHECK_EQ_INT(model_map_check(map), 0);
    CHECK_EQ_INT(model_map_data(map)[70000], 7);
    CHECK_EQ_INT(truncate(path, 0), 0);
    /* Without the handler this read is a SIGBUS that kills the process. */
    CHECK_EQ_INT(((volatile const unsigned char *)model_map_data(map))[140000], 0);
    err_clear();
    CHECK_EQ_INT(model_map_check(map), ERR_IO);
    CHECK(strstr(err_message(ERR_IO), "truncated while mapped") != NULL);
    model_map_free(map);
}

TEST(strip_replaces_big_raw_data_by_references)
{
    uint8_t *bytes;
    size_t len = pack_add_model(&bytes, "W", w1, 0);
    struct buf out;
    buf_init(&out, 0);
    CHECK_EQ_INT(onnx_strip(&out, bytes, len), 1);
    CHECK(out.len < 200);
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, out.len, (const uint8_t *)out.data);
    CHECK(m && m->graph && m->graph->n_initializer == 1);
    const Onnx__TensorProto *t = m->graph->initializer[0];
    CHECK(!t->has_raw_data && t->base.n_unknown_fields == 1);
    uint64_t offset, length;
    CHECK_EQ_INT(onnx_strip_ref(t->base.unknown_fields[0].data, t->base.unknown_fields[0].len, &offset, &length), 0);
    CHECK_EQ_INT(offset, weight_offset(bytes, len, w1));
    CHECK_EQ_INT(length, sizeof w1);
    onnx__model_proto__free_unpacked(m, NULL);
    /* Truncated protobuf: not walked (the decoder of the original reports it). */
    buf_reset(&out);
    CHECK_EQ_INT(onnx_strip(&out, bytes, len - 10), -1);
    CHECK_EQ_INT(out.len, 0);
    buf_release(&out);
    free(bytes);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        printf("FAIL setup: mkdtemp\n");
        return 1;
    }
    for (int i = 0; i < N; i++) {
        w1[i] = (float)i * 0.5f;
        w2[i] = (float)i * -0.25f - 3;
    }
    RUN(aligned_weights_are_borrowed_not_copied);
    RUN(misaligned_weights_are_copied_once);
    RUN(misaligned_matmul_weights_are_read_in_place);
    RUN(buffer_models_borrow_from_their_decoded_proto);
    RUN(external_data_is_mapped_not_copied);
    RUN(a_model_replaced_by_rename_keeps_serving_the_old_one);
    RUN(a_model_rewritten_in_place_fails_runs_until_reloaded);
    RUN(a_model_truncated_in_place_fails_runs);
    RUN(a_read_past_a_truncated_mapping_is_caught_not_fatal);
    RUN(strip_replaces_big_raw_data_by_references);
    for (int i = 0; i < n_paths; i++)
        unlink(paths[i]);
    rmdir(dir);
    return test_failures ? 1 : 0;
}
