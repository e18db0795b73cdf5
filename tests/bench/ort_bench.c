/* amlserve's engine against ONNX Runtime's CPU library on the same model file,
 * inputs and thread count (tests/bench/ort.sh).
 *
 * ONNX Runtime is loaded with dlopen from the library npm's onnxruntime-node
 * ships, and driven through its C API: the few entry points used here are
 * called by their index in the OrtApi table (the table only ever grows at its
 * end, so these indices hold for every version that serves API 13). Answers are
 * compared before anything is timed; then rounds alternate between the two,
 * each started once the other's threads have gone idle (settle), and each
 * side's best round counts. Load time and the RssAnon a load adds
 * are printed too (amlserve / ONNX Runtime).
 *
 * usage: ort_bench LIBONNXRUNTIME.so MODEL.onnx BATCH THREADS [LABEL]
 *        ort_bench LIBONNXRUNTIME.so MODEL.onnx load
 * The second only creates ONNX Runtime's session (no engine in the process)
 * and prints its load time, VmRSS and VmHWM (tests/bench/bigmodel.sh). */
#include "common/arena.h"
#include "common/err.h"
#include "runtime/engine/backends/backend.h"
#include "runtime/engine/backends/threadpool.h"
#include "runtime/engine/engine.h"

#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The C API, as far as it is used here (onnxruntime_c_api.h, API version 13). */
typedef struct OrtStatus OrtStatus;
typedef struct OrtEnv OrtEnv;
typedef struct OrtSession OrtSession;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtValue OrtValue;
typedef struct OrtMemoryInfo OrtMemoryInfo;
typedef struct OrtTensorTypeAndShapeInfo OrtTensorTypeAndShapeInfo;
typedef struct OrtApiBase {
    const void *(*GetApi)(uint32_t version);
    const char *(*GetVersionString)(void);
} OrtApiBase;
enum {
    ORT_GET_ERROR_MESSAGE = 2,
    ORT_CREATE_ENV = 3,
    ORT_CREATE_SESSION = 7,
    ORT_RUN = 9,
    ORT_CREATE_SESSION_OPTIONS = 10,
    ORT_SET_GRAPH_OPTIMIZATION_LEVEL = 23,
    ORT_SET_INTRA_OP_THREADS = 24,
    ORT_SET_INTER_OP_THREADS = 25,
    ORT_CREATE_TENSOR_WITH_DATA = 49,
    ORT_GET_TENSOR_MUTABLE_DATA = 51,
    ORT_GET_TENSOR_ELEMENT_TYPE = 60,
    ORT_GET_TENSOR_SHAPE_ELEMENT_COUNT = 64,
    ORT_GET_TENSOR_TYPE_AND_SHAPE = 65,
    ORT_CREATE_CPU_MEMORY_INFO = 69,
    ORT_RELEASE_ENV = 92,
    ORT_RELEASE_STATUS = 93,
    ORT_RELEASE_MEMORY_INFO = 94,
    ORT_RELEASE_SESSION = 95,
    ORT_RELEASE_VALUE = 96,
    ORT_RELEASE_TENSOR_TYPE_AND_SHAPE_INFO = 99,
    ORT_RELEASE_SESSION_OPTIONS = 100,
};
#define ORT_API_VERSION 13
#define ORT_LOGGING_LEVEL_ERROR 3
#define ORT_ENABLE_ALL 99
#define ORT_ARENA_ALLOCATOR 1
#define ORT_MEM_TYPE_DEFAULT 0

static void *const *ort;
#define ORT_FN(index, type) ((type)ort[index])

static int ort_ok(OrtStatus *st, const char *what)
{
    if (!st)
        return 1;
    fprintf(stderr, "ort_bench: onnxruntime: %s: %s\n", what,
            ORT_FN(ORT_GET_ERROR_MESSAGE, const char *(*)(const OrtStatus *))(st));
    ORT_FN(ORT_RELEASE_STATUS, void (*)(OrtStatus *))(st);
    return 0;
}

#define MAX_IO 16

struct ort_side {
    OrtEnv *env;
    OrtSession *session;
    OrtMemoryInfo *mem;
    OrtValue *inputs[MAX_IO], *outputs[MAX_IO];
    const char *in_names[MAX_IO], *out_names[MAX_IO];
    size_t n_in, n_out;
};

struct engine_side {
    struct engine_model *model;
    struct arena arena;
    struct tensor inputs[MAX_IO], outputs[MAX_IO];
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Whether a thread of this process other than the caller is running or runnable (state R). */
static int others_running(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return 0;
    long self = (long)syscall(SYS_gettid);
    int running = 0;
    struct dirent *de;
    while (!running && (de = readdir(d))) {
        long tid = strtol(de->d_name, NULL, 10);
        if (tid <= 0 || tid == self)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = 0;
        const char *close = strrchr(buf, ')'); /* the state follows the command name in parentheses */
        running = close && close[1] == ' ' && close[2] == 'R';
    }
    closedir(d);
    return running;
}

/* Waits (at most a second) until every other thread of the process is blocked. After its runs,
 * ONNX Runtime's intra-op workers spin about 2^20 pauses (0.1 s or more here) before they block:
 * started at once, the other engine's round would share its cores with that spinning. */
static void settle(void)
{
    const struct timespec step = {.tv_nsec = 2000000};
    for (int i = 0; i < 500 && others_running(); i++)
        nanosleep(&step, NULL);
}

/* RssAnon of this process in KiB (memory of its own, not file pages shared with the page cache). */
static long rss_anon_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "RssAnon:", 8))
            kib = strtol(line + 8, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

/* A "Name:   N kB" line of /proc/self/status, in KiB; -1 when missing. */
static long status_kib(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    size_t len = strlen(name);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, name, len) && line[len] == ':')
            kib = strtol(line + len + 1, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

static int engine_once(struct engine_side *e)
{
    arena_reset(&e->arena);
    int rc = engine_run(e->model, &e->arena, e->inputs, e->outputs);
    if (rc)
        fprintf(stderr, "ort_bench: engine: %s\n", err_message(rc));
    return rc ? 0 : 1;
}

static int ort_once(struct ort_side *o)
{
    for (size_t i = 0; i < o->n_out; i++) {
        if (o->outputs[i])
            ORT_FN(ORT_RELEASE_VALUE, void (*)(OrtValue *))(o->outputs[i]);
        o->outputs[i] = NULL;
    }
    return ort_ok(ORT_FN(ORT_RUN, OrtStatus * (*)(OrtSession *, const void *, const char *const *,
                                                   const OrtValue *const *, size_t, const char *const *, size_t,
                                                   OrtValue **))(o->session, NULL, o->in_names,
                                                                 (const OrtValue *const *)o->inputs, o->n_in,
                                                                 o->out_names, o->n_out, o->outputs),
                  "Run");
}

/* Deterministic inputs of each declared type: floats in [-1, 1], small integers. */
static void *fill(enum tensor_type type, int64_t count, unsigned *seed)
{
    size_t elem = tensor_type_size(type);
    unsigned char *p = malloc((size_t)count * elem + 1);
    for (int64_t i = 0; p && i < count; i++) {
        *seed = *seed * 1103515245u + 12345u;
        double r = (double)((*seed >> 8) & 0xffff) / 65535.0;
        tensor_store(type, p, i, type == TENSOR_FLOAT || type == TENSOR_DOUBLE ? r * 2 - 1 : floor(r * 200) - (type == TENSOR_UINT8 ? 0 : 100));
    }
    return p;
}

/* Same count and values: floats within rtol 1e-4 of ORT's (of the output's
 * largest magnitude for values near zero), integers equal (quantized outputs
 * may differ by one on a rounding tie). */
static int compare(const char *name, const struct tensor *mine, OrtValue *theirs)
{
    OrtTensorTypeAndShapeInfo *info;
    if (!ort_ok(ORT_FN(ORT_GET_TENSOR_TYPE_AND_SHAPE, OrtStatus * (*)(const OrtValue *, OrtTensorTypeAndShapeInfo **))(
                    theirs, &info),
                "GetTensorTypeAndShape"))
        return 0;
    size_t count = 0;
    int type = 0;
    int ok = ort_ok(ORT_FN(ORT_GET_TENSOR_SHAPE_ELEMENT_COUNT,
                           OrtStatus * (*)(const OrtTensorTypeAndShapeInfo *, size_t *))(info, &count),
                    "GetTensorShapeElementCount") &&
             ort_ok(ORT_FN(ORT_GET_TENSOR_ELEMENT_TYPE, OrtStatus * (*)(const OrtTensorTypeAndShapeInfo *, int *))(
                        info, &type),
                    "GetTensorElementType");
    ORT_FN(ORT_RELEASE_TENSOR_TYPE_AND_SHAPE_INFO, void (*)(OrtTensorTypeAndShapeInfo *))(info);
    void *data = NULL;
    if (!ok || !ort_ok(ORT_FN(ORT_GET_TENSOR_MUTABLE_DATA, OrtStatus * (*)(OrtValue *, void **))(theirs, &data),
                       "GetTensorMutableData"))
        return 0;
    int64_t n = tensor_element_count(mine);
    if (n < 0 || (size_t)n != count || type != (int)mine->type) {
        fprintf(stderr, "ort_bench: output '%s': engine gives %lld values of %s, onnxruntime %zu of type %d\n", name,
                (long long)n, tensor_type_name(mine->type), count, type);
        return 0;
    }
    int is_float = type == TENSOR_FLOAT || type == TENSOR_DOUBLE;
    double scale = 0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(tensor_load(mine->type, data, i)));
    int64_t off_by_one = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = tensor_load(mine->type, mine->data, i), b = tensor_load(mine->type, data, i);
        double tol = is_float ? 1e-4 * fmax(fabs(b), 1e-2 * scale) : 0;
        if (!is_float && fabs(a - b) == 1 && (type == TENSOR_UINT8 || type == TENSOR_INT8)) {
            off_by_one++;
            continue;
        }
        if (!(fabs(a - b) <= tol)) {
            fprintf(stderr, "ort_bench: output '%s'[%lld]: engine %.9g, onnxruntime %.9g\n", name, (long long)i, a, b);
            return 0;
        }
    }
    if (off_by_one * 100 > n) {
        fprintf(stderr, "ort_bench: output '%s': %lld of %lld quantized values off by one\n", name,
                (long long)off_by_one, (long long)n);
        return 0;
    }
    return 1;
}

static int count_arg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *end || v < 1 || v > 4096 ? -1 : (int)v;
}

static int ort_load_only(const char *path)
{
    struct ort_side o = {0};
    OrtSessionOptions *opts = NULL;
    double t0 = now();
    int ok = ort_ok(ORT_FN(ORT_CREATE_ENV, OrtStatus * (*)(int, const char *, OrtEnv **))(ORT_LOGGING_LEVEL_ERROR,
                                                                                         "ort_bench", &o.env),
                    "CreateEnv") &&
             ort_ok(ORT_FN(ORT_CREATE_SESSION_OPTIONS, OrtStatus * (*)(OrtSessionOptions **))(&opts),
                    "CreateSessionOptions") &&
             ort_ok(ORT_FN(ORT_SET_INTRA_OP_THREADS, OrtStatus * (*)(OrtSessionOptions *, int))(opts, 1),
                    "SetIntraOpNumThreads") &&
             ort_ok(ORT_FN(ORT_CREATE_SESSION,
                           OrtStatus * (*)(const OrtEnv *, const char *, const OrtSessionOptions *, OrtSession **))(
                        o.env, path, opts, &o.session),
                    "CreateSession");
    if (!ok)
        return 1;
    printf("onnxruntime load %.1f ms VmRSS %ld KiB VmHWM %ld KiB\n", (now() - t0) * 1e3, status_kib("VmRSS"),
           status_kib("VmHWM"));
    return 0;
}

int main(int argc, char **argv)
{
    int load_only = argc == 4 && !strcmp(argv[3], "load");
    if (!load_only && (argc < 5 || argc > 6 || count_arg(argv[3]) < 0 || count_arg(argv[4]) < 0)) {
        fprintf(stderr, "usage: ort_bench LIBONNXRUNTIME.so MODEL.onnx BATCH THREADS [LABEL]\n"
                        "       ort_bench LIBONNXRUNTIME.so MODEL.onnx load\n");
        return 2;
    }
    const char *lib = argv[1], *path = argv[2], *label = argc == 6 ? argv[5] : path;
    int batch = load_only ? 1 : count_arg(argv[3]), threads = load_only ? 1 : count_arg(argv[4]);
    void *handle = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    const OrtApiBase *(*get_base)(void) = handle ? (const OrtApiBase *(*)(void))dlsym(handle, "OrtGetApiBase") : NULL;
    const OrtApiBase *base = get_base ? get_base() : NULL;
    ort = base ? (void *const *)base->GetApi(ORT_API_VERSION) : NULL;
    if (!ort) {
        fprintf(stderr, "ort_bench: %s: %s\n", lib, handle ? "no C API version 13" : dlerror());
        return 1;
    }
    if (load_only)
        return ort_load_only(path);

    /* The engine, as amlserve configures it. */
    struct engine_side e = {0};
    int rc = backend_configure("cpu", threads);
    long anon0 = rss_anon_kib();
    double load0 = now();
    if (!rc)
        rc = engine_model_load_file(&e.model, path);
    double load_e = now() - load0;
    long anon_e = rss_anon_kib() - anon0;
    if (rc) {
        fprintf(stderr, "ort_bench: %s\n", err_message(rc));
        return 1;
    }
    pool_set_threads(threads);
    arena_init(&e.arena, 1 << 20, 0);

    /* ONNX Runtime: all graph optimizations, THREADS intra-op threads, sequential. */
    struct ort_side o = {0};
    OrtSessionOptions *opts = NULL;
    int ok = ort_ok(ORT_FN(ORT_CREATE_ENV, OrtStatus * (*)(int, const char *, OrtEnv **))(ORT_LOGGING_LEVEL_ERROR,
                                                                                         "ort_bench", &o.env),
                    "CreateEnv") &&
             ort_ok(ORT_FN(ORT_CREATE_SESSION_OPTIONS, OrtStatus * (*)(OrtSessionOptions **))(&opts),
                    "CreateSessionOptions") &&
             ort_ok(ORT_FN(ORT_SET_INTRA_OP_THREADS, OrtStatus * (*)(OrtSessionOptions *, int))(opts, threads),
                    "SetIntraOpNumThreads") &&
             ort_ok(ORT_FN(ORT_SET_INTER_OP_THREADS, OrtStatus * (*)(OrtSessionOptions *, int))(opts, 1),
                    "SetInterOpNumThreads") &&
             ort_ok(ORT_FN(ORT_SET_GRAPH_OPTIMIZATION_LEVEL, OrtStatus * (*)(OrtSessionOptions *, int))(
                        opts, ORT_ENABLE_ALL),
                    "SetSessionGraphOptimizationLevel") &&
             ((load0 = now()), (anon0 = rss_anon_kib()), 1) &&
             ort_ok(ORT_FN(ORT_CREATE_SESSION,
                           OrtStatus * (*)(const OrtEnv *, const char *, const OrtSessionOptions *, OrtSession **))(
                        o.env, path, opts, &o.session),
                    "CreateSession") &&
             ort_ok(ORT_FN(ORT_CREATE_CPU_MEMORY_INFO, OrtStatus * (*)(int, int, OrtMemoryInfo **))(
                        ORT_ARENA_ALLOCATOR, ORT_MEM_TYPE_DEFAULT, &o.mem),
                    "CreateCpuMemoryInfo");
    double load_o = now() - load0;
    long anon_o = rss_anon_kib() - anon0;
    if (!ok)
        return 1;

    /* The same inputs for both, named and shaped as the engine reads the model. */
    o.n_in = engine_input_count(e.model);
    o.n_out = engine_output_count(e.model);
    if (o.n_in > MAX_IO || o.n_out > MAX_IO) {
        fprintf(stderr, "ort_bench: more than %d inputs or outputs\n", MAX_IO);
        return 1;
    }
    unsigned seed = 1;
    for (size_t i = 0; i < o.n_in; i++) {
        struct tensor *t = &e.inputs[i];
        *t = engine_input(e.model, i)->shape;
        for (int d = 0; d < t->rank; d++)
            if (t->dims[d] < 0)
                t->dims[d] = batch;
        int64_t count = tensor_element_count(t);
        t->data = fill(t->type, count, &seed);
        o.in_names[i] = engine_input(e.model, i)->name;
        ok = ort_ok(ORT_FN(ORT_CREATE_TENSOR_WITH_DATA, OrtStatus * (*)(const OrtMemoryInfo *, void *, size_t,
                                                                         const int64_t *, size_t, int, OrtValue **))(
                        o.mem, t->data, (size_t)count * tensor_type_size(t->type), t->dims, (size_t)t->rank,
                        (int)t->type, &o.inputs[i]),
                    "CreateTensorWithDataAsOrtValue");
        if (!ok)
            return 1;
    }
    for (size_t i = 0; i < o.n_out; i++)
        o.out_names[i] = engine_output(e.model, i)->name;

    if (!engine_once(&e) || !ort_once(&o))
        return 1;
    for (size_t i = 0; i < o.n_out; i++)
        if (!compare(o.out_names[i], &e.outputs[i], o.outputs[i]))
            return 1;

    /* Rounds of about 0.2 s each, alternating; the best round of each side counts. */
    double t0 = now();
    engine_once(&e);
    double once = now() - t0;
    int iters = once > 0.2 ? 1 : (int)(0.2 / (once > 1e-6 ? once : 1e-6));
    if (iters > 2000)
        iters = 2000;
    double best_e = 1e30, best_o = 1e30;
    for (int round = 0; round < 7; round++) {
        settle();
        t0 = now();
        for (int k = 0; k < iters; k++)
            engine_once(&e);
        double t = (now() - t0) / iters;
        best_e = t < best_e ? t : best_e;
        settle();
        t0 = now();
        for (int k = 0; k < iters; k++)
            ort_once(&o);
        t = (now() - t0) / iters;
        best_o = t < best_o ? t : best_o;
    }
    /* Again after the rounds: what kernels cache on the first run must give the same answers. */
    for (size_t i = 0; i < o.n_out; i++)
        if (!compare(o.out_names[i], &e.outputs[i], o.outputs[i]))
            return 1;
    printf("%-20s batch %3d threads %d: amlserve %9.3f ms  onnxruntime %s %9.3f ms  ratio %5.2fx"
           "   load %.1f / %.1f ms, RssAnon +%ld / +%ld MiB\n",
           label, batch, threads, best_e * 1e3, base->GetVersionString(), best_o * 1e3, best_o / best_e, load_e * 1e3,
           load_o * 1e3, anon_e / 1024, anon_o / 1024);
    /* A run's memory for its tensors: the arena (graph outputs, what the plan does not cover)
     * plus the plan's slab, against all of it on the arena (the unplanned sizes one after another). */
    size_t slab, unplanned;
    engine_memory_plan(e.model, &slab, &unplanned);
    printf("%-20s batch %3d threads %d: run memory %.1f MiB (arena %.1f + plan slab %.1f), without the plan %.1f MiB\n",
           label, batch, threads, (double)(e.arena.used + slab) / 1048576, (double)e.arena.used / 1048576,
           (double)slab / 1048576, (double)(e.arena.used + unplanned) / 1048576);

    for (size_t i = 0; i < o.n_out; i++)
        ORT_FN(ORT_RELEASE_VALUE, void (*)(OrtValue *))(o.outputs[i]);
    for (size_t i = 0; i < o.n_in; i++) {
        ORT_FN(ORT_RELEASE_VALUE, void (*)(OrtValue *))(o.inputs[i]);
        free(e.inputs[i].data);
    }
    ORT_FN(ORT_RELEASE_MEMORY_INFO, void (*)(OrtMemoryInfo *))(o.mem);
    ORT_FN(ORT_RELEASE_SESSION, void (*)(OrtSession *))(o.session);
    ORT_FN(ORT_RELEASE_SESSION_OPTIONS, void (*)(OrtSessionOptions *))(opts);
    ORT_FN(ORT_RELEASE_ENV, void (*)(OrtEnv *))(o.env);
    arena_release(&e.arena);
    engine_model_free(e.model);
    return 0;
}
