/* GEMM with a misaligned B (sgemm_unaligned.h): a weight whose bytes sit at
 * an address that is not a multiple of 4, as raw_data does in a mapped ONNX
 * file. Against sgemm_run on an aligned copy of the same B, on every ISA path
 * and with the pool's threads: serving batches (GEMV) and packed products,
 * transposed operands, beta 0, 1 and in between, a fused bias, residual and
 * activation; a pack from misaligned bytes equals the pack from aligned ones,
 * and a product over it matches exactly. */
#include "test.h"

#include "runtime/engine/backends/cpu_isa.h"
#include "runtime/engine/backends/sgemm_unaligned.h"
#include "runtime/engine/backends/threadpool.h"

#include <stdint.h>

static float value(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)((*state >> 8) % 2001) / 1000.0f - 1.0f;
}

static float *random_floats(size_t n, uint32_t seed)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        v[i] = value(&seed);
    return v;
}

struct shape {
    int64_t m, n, k;
};

static const struct shape shapes[] = {
    {1, 100, 37}, {1, 4096, 300}, {3, 64, 300}, {4, 530, 129}, {8, 130, 257}, {40, 96, 600}, {64, 33, 70}, {200, 300, 520},
};

/* One product both ways; the largest difference relative to the largest |C|. */
static double compare(const struct shape *s, int ta, int tb, float beta, int fused, uint32_t seed)
{
    int64_t m = s->m, n = s->n, k = s->k;
    int64_t lda = ta ? m : k, ldb = (tb ? k : n) + 3; /* B rows with room between them */
    size_t b_floats = (size_t)((tb ? n : k) * ldb);
    float *a = random_floats((size_t)(m * k), seed), *b = random_floats(b_floats, seed + 1);
    float *c0 = random_floats((size_t)(m * n), seed + 2), *c1 = malloc((size_t)(m * n) * sizeof *c1);
    float *bias = random_floats((size_t)n, seed + 3), *res = random_floats((size_t)(m * n), seed + 4);
    unsigned char *bytes = malloc(b_floats * sizeof(float) + 1);
    double worst = 1e9;
    if (!a || !b || !c0 || !c1 || !bias || !res || !bytes)
        goto done;
    memcpy(c1, c0, (size_t)(m * n) * sizeof *c1);
    memcpy(bytes + 1, b, b_floats * sizeof(float)); /* B's bytes one past an aligned address */
    struct epilogue e = {.bias = bias, .residual = res, .ldr = n, .act = OP_ACT_RELU};
    struct sgemm_job job = {.trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k, .alpha = 0.75f, .a = a,
                            .lda = lda, .b = b, .ldb = ldb, .beta = beta, .c = c0, .ldc = n,
                            .epi = fused ? &e : NULL};
    sgemm_run(&job);
    job.b = NULL;
    job.c = c1;
    if (sgemm_run_unaligned_b(&job, bytes + 1))
        goto done;
    double diff = 0, top = 1e-6;
    for (int64_t i = 0; i < m * n; i++) {
        diff = fmax(diff, fabs((double)c0[i] - c1[i]));
        top = fmax(top, fabs((double)c0[i]));
    }
    worst = diff / top;
done:
    free(a);
    free(b);
    free(c0);
    free(c1);
    free(bias);
    free(res);
    free(bytes);
    return worst;
}

static void each_isa(void (*body)(enum cpu_isa))
{
    enum cpu_isa top = cpu_isa_detected();
    for (int isa = CPU_ISA_GENERIC; isa <= (int)top; isa++) {
        cpu_isa_limit((enum cpu_isa)isa);
        body((enum cpu_isa)isa);
    }
    cpu_isa_limit(top);
}

static void products(enum cpu_isa isa)
{
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    uint32_t seed = 7;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int bi = 0; bi < 3; bi++)
                    for (int fused = 0; fused < 2; fused++) {
                        double rel = compare(&shapes[i], ta, tb, betas[bi], fused, seed += 5);
                        if (rel > 1e-5) {
                            printf("FAIL misaligned_b_matches_aligned: %s m=%lld n=%lld k=%lld ta=%d tb=%d beta=%g "
                                   "fused=%d: relative difference %g\n",
                                   cpu_isa_name(isa), (long long)shapes[i].m, (long long)shapes[i].n,
                                   (long long)shapes[i].k, ta, tb, betas[bi], fused, rel);
                            test_failures++;
                            test_current_failed = 1;
                            return;
                        }
                    }
}

TEST(misaligned_b_matches_aligned)
{
    each_isa(products);
}

static void packs(enum cpu_isa isa)
{
    (void)isa;
    for (int round = 0; round < 4; round++) {
        int tb = round & 1;
        int64_t m = round < 2 ? 2 : 40, k = 300, n = 70, ldb = tb ? k : n; /* a GEMV, and the packed kernel */
        size_t floats = (size_t)(k * n);
        float *b = random_floats(floats, 11 + (uint32_t)tb), *a = random_floats((size_t)(m * k), 13);
        unsigned char *bytes = malloc(floats * sizeof(float) + 3);
        float c0[40 * 70], c1[40 * 70];
        CHECK(b && a && bytes);
        memcpy(bytes + 3, b, floats * sizeof(float));
        struct sgemm_packed p0, p1;
        CHECK_EQ_INT(sgemm_pack(&p0, tb, k, n, b, ldb), 0);
        CHECK_EQ_INT(sgemm_pack_unaligned(&p1, tb, k, n, bytes + 3, ldb), 0);
        CHECK(p0.nr == p1.nr && p0.n_pad == p1.n_pad);
        CHECK(!memcmp(p0.data, p1.data, (size_t)(k * p0.n_pad) * sizeof(float)));
        struct sgemm_job job = {.trans_b = tb, .m = m, .n = n, .k = k, .alpha = 1.0f, .a = a, .lda = k, .b = b,
                                .ldb = ldb, .packed_b = &p0, .c = c0, .ldc = n};
        sgemm_run(&job);
        job.b = NULL;
        job.packed_b = &p1;
        job.c = c1;
        CHECK_EQ_INT(sgemm_run_unaligned_b(&job, bytes + 3), 0);
        CHECK(!memcmp(c0, c1, (size_t)(m * n) * sizeof *c0)); /* the same packed panels, the same kernel */
        sgemm_packed_free(&p0);
        sgemm_packed_free(&p1);
        free(b);
        free(a);
        free(bytes);
    }
}

TEST(packing_from_misaligned_bytes_is_the_same_pack)
{
    each_isa(packs);
}

int main(void)
{
    pool_set_threads(2);
    RUN(misaligned_b_matches_aligned);
    RUN(packing_from_misaligned_bytes_is_the_same_pack);
    TEST_EXIT();
}
