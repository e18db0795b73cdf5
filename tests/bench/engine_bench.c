/* Engine benchmarks (make bench; not a pass/fail test).
 *
 *   engine_bench gemm THREADS          sgemm GFLOP/s vs OpenBLAS's cblas_sgemm, same shapes and threads
 *   engine_bench model FILE.onnx N     ms per image, optimized CPU backend vs reference kernels, batch N
 *
 * Each side is timed in alternating rounds and the best round kept, so load
 * from other processes on a shared machine hits both alike. Only this program
 * links OpenBLAS; amlserve never does. */
#include "common/arena.h"
#include "common/err.h"
#include "runtime/engine/backends/backend.h"
#include "runtime/engine/backends/cpu_isa.h"
#include "runtime/engine/backends/sgemm.h"
#include "runtime/engine/backends/threadpool.h"
#include "runtime/engine/engine.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void openblas_set_num_threads(int num_threads);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static float *random_floats(size_t n)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; p && i < n; i++)
        p[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return p;
}

/* Seconds per call of fn(ctx): the best of `rounds` rounds of at least 0.1 s each. */
typedef void (*bench_fn)(void *ctx);
static double time_round(bench_fn fn, void *ctx)
{
    int reps = 0;
    double t0 = now(), t;
    do {
        fn(ctx);
        reps++;
        t = now() - t0;
    } while (t < 0.1);
    return t / reps;
}

struct gemm_case {
    int m, n, k;
    float *a, *b, *c;
};

static void run_ours(void *ctx)
{
    struct gemm_case *g = ctx;
    sgemm(0, 0, g->m, g->n, g->k, 1.0f, g->a, g->k, g->b, g->n, 0.0f, g->c, g->n);
}

static void run_openblas(void *ctx)
{
    struct gemm_case *g = ctx;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->m, g->n, g->k, 1.0f, g->a, g->k, g->b, g->n, 0.0f, g->c,
                g->n);
}

/* OpenBLAS reports the kernel family it picked (Debian's 0.3.21 uses its Haswell AVX2 kernels on
 * CPUs it does not know), so ours are also shown held to AVX2 for a like-for-like ratio. */
char *openblas_get_corename(void);

static int bench_gemm(int threads)
{
    static const int shapes[][3] = {{1024, 1024, 1024}, {1, 512, 512}, {32, 256, 256}};
    pool_set_threads(threads);
    openblas_set_num_threads(threads);
    enum cpu_isa best = cpu_isa_detected();
    printf("# sgemm, %d thread(s): amlserve on %s, OpenBLAS on its %s kernels\n", pool_threads(), cpu_isa_name(best),
           openblas_get_corename());
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        struct gemm_case g = {.m = shapes[s][0], .n = shapes[s][1], .k = shapes[s][2]};
        g.a = random_floats((size_t)g.m * g.k);
        g.b = random_floats((size_t)g.k * g.n);
        g.c = random_floats((size_t)g.m * g.n);
        if (!g.a || !g.b || !g.c)
            return 1;
        for (int isa = (int)best; isa >= (int)CPU_ISA_AVX2 || isa == (int)best; isa--) {
            cpu_isa_limit((enum cpu_isa)isa);
            double ours = 1e9, blas = 1e9;
            for (int round = 0; round < 5; round++) {
                double t = time_round(run_ours, &g);
                ours = t < ours ? t : ours;
                t = time_round(run_openblas, &g);
                blas = t < blas ? t : blas;
            }
            double flop = 2.0 * g.m * g.n * g.k;
            printf("gemm %dx%dx%d threads %d: amlserve[%s] %7.2f GFLOP/s   openblas %7.2f GFLOP/s   ratio %5.0f%%\n",
                   g.m, g.n, g.k, threads, cpu_isa_name((enum cpu_isa)isa), flop / ours / 1e9, flop / blas / 1e9,
                   100.0 * blas / ours);
            if (isa == (int)CPU_ISA_GENERIC)
                break;
        }
        cpu_isa_limit(CPU_ISA_AVX512);
        free(g.a);
        free(g.b);
        free(g.c);
    }
    return 0;
}

struct model_case {
    struct engine_model *model;
    struct tensor *inputs, *outputs;
    struct arena arena;
};

static void run_model(void *ctx)
{
    struct model_case *mc = ctx;
    arena_reset(&mc->arena);
    int rc = engine_run(mc->model, &mc->arena, mc->inputs, mc->outputs);
    if (rc) {
        fprintf(stderr, "engine_bench: %s\n", err_message(rc));
        exit(1);
    }
}

static int load_case(struct model_case *mc, const char *path, const char *backend, int batch, int threads)
{
    int rc = backend_configure(backend, threads);
    if (!rc)
        rc = engine_model_load_file(&mc->model, path);
    if (rc) {
        fprintf(stderr, "engine_bench: %s\n", err_message(rc));
        return 1;
    }
    size_t n_in = engine_input_count(mc->model);
    mc->inputs = calloc(n_in + 1, sizeof *mc->inputs);
    mc->outputs = calloc(engine_output_count(mc->model) + 1, sizeof *mc->outputs);
    srand(1);
    for (size_t i = 0; i < n_in; i++) {
        mc->inputs[i] = engine_input(mc->model, i)->shape;
        int64_t count = 1;
        for (int d = 0; d < mc->inputs[i].rank; d++) {
            if (mc->inputs[i].dims[d] < 0)
                mc->inputs[i].dims[d] = batch;
            count *= mc->inputs[i].dims[d];
        }
        mc->inputs[i].data = random_floats((size_t)count);
    }
    arena_init(&mc->arena, 1 << 20, 0);
    return 0;
}

static int bench_model(const char *path, int batch, int threads)
{
    struct model_case opt = {0}, ref = {0};
    if (load_case(&ref, path, "cpu-ref", batch, threads) || load_case(&opt, path, "cpu", batch, threads))
        return 1;
    double t_opt = 1e9, t_ref = 1e9;
    for (int round = 0; round < 3; round++) {
        double t = time_round(run_model, &opt);
        t_opt = t < t_opt ? t : t_opt;
        t = time_round(run_model, &ref);
        t_ref = t < t_ref ? t : t_ref;
    }
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    printf("%s batch %d threads %d: optimized %8.3f ms/image   reference %8.3f ms/image   ratio %5.1fx\n", name, batch,
           pool_threads(), t_opt * 1e3 / batch, t_ref * 1e3 / batch, t_ref / t_opt);
    return 0;
}

static int count_arg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *end || v < 1 || v > 4096 ? 1 : (int)v;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "gemm"))
        return bench_gemm(count_arg(argv[2]));
    if (argc == 5 && !strcmp(argv[1], "model"))
        return bench_model(argv[2], count_arg(argv[3]), count_arg(argv[4]));
    fprintf(stderr, "usage: engine_bench gemm THREADS | engine_bench model FILE.onnx BATCH THREADS\n");
    return 2;
}
