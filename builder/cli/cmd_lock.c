/* amlpkg lock SPEC: resolve a conda environment against its channels and write conda's explicit lock. */
#include "builder/cli/commands.h"
#include "builder/env/base_probe.h"
#include "builder/env/conda_channel.h"
#include "builder/env/conda_lock.h"
#include "builder/spec/conda.h"
#include "builder/spec/spec.h"
#include "cache/cache.h"
#include "builder/sys/fsutil.h"
#include "common/buf.h"
#include "common/err.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VIRTUALS 16

static const char lock_usage[] =
    "usage: amlpkg lock SPEC [-o LOCK] [--subdir SUBDIR] [--channel-alias URL] [--virtual __NAME=VERSION]...\n"
    "                   [--pip-index-url URL]\n"
    "\n"
    "Resolves a conda environment with a SAT solver (libsolv) against its channels' indexes\n"
    "(<channel>/<subdir>/repodata.json and <channel>/noarch/repodata.json, over https, http or file://)\n"
    "and writes conda's explicit lock: one URL#sha256 per package, installable by\n"
    "`conda create -p PREFIX --file LOCK`. SPEC is a conda environment file (environment.yml) or an\n"
    "amlpkg spec with environment.conda_file or environment.conda. Channels keep strict priority:\n"
    "a package is taken from the first channel that has it. A request that cannot be satisfied is\n"
    "explained, naming the specs that conflict.\n"
    "\n"
    "options:\n"
    "  -o, --output LOCK       write the lock there (complete or not at all); default: stdout\n"
    "      --subdir SUBDIR     the platform to resolve for (default linux-64)\n"
    "      --channel-alias URL where named channels live (default https://conda.anaconda.org): a mirror\n"
    "      --virtual __N=V     a virtual package of the target (default __glibc=2.35, __linux=5.15,\n"
    "                          __unix=0: Azure ML's default CPU image); e.g. --virtual __cuda=12.2.\n"
    "                          Locking an amlpkg spec reads its base image: __glibc from the base's libc\n"
    "                          (none on a base without glibc), __archspec from its architecture, __cuda\n"
    "                          from its CUDA_VERSION; gpu.enabled adds __cuda (its cuda_version, else\n"
    "                          11.3); Azure ML's default GPU image means __glibc=2.31. __linux stays\n"
    "                          5.15: the kernel is the host's, which no image says. --virtual wins\n"
    "      --pip-index-url URL where the pip section's default index lives (default https://pypi.org/simple):\n"
    "                          a mirror; an --index-url in the pip section itself still wins\n"
    "      --cache-dir DIR     where the pip section's wheels are kept by sha256, for `amlpkg build` to\n"
    "                          install without downloading them again (default: build's cache,\n"
    "                          $AMLPKG_CACHE_DIR, else ~/.cache/amlpkg)\n"
    "      --no-cache          keep nothing\n"
    "  -h, --help              show this help\n"
    "\n"
    "The pip section is resolved to wheels only (PEP 440 versions, PEP 508 markers for the locked python,\n"
    "manylinux tags up to the target's glibc) from its --index-url / --extra-index-url (PEP 503 or 691\n"
    "simple indexes) and --find-links folders, and written as '# pip NAME @ URL#sha256=HASH' lines;\n"
    "a project with only an sdist is refused. A spec's environment.lock_file names the lock: it joins the\n"
    "environment key, builds install it with `conda create --file`, and a stale one is refused.\n";

/* An amlpkg spec has a top-level models: key; a conda environment file never does. */
static int looks_like_spec(const char *path)
{
    struct buf b;
    buf_init(&b, 16u << 20);
    int spec = 0;
    if (!buf_read_file(&b, path) && b.data)
        for (const char *line = b.data; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
            if (!strncmp(line, "models:", 7) || !strncmp(line, "models :", 8))
                spec = 1;
    err_clear();
    buf_release(&b);
    return spec;
}

static int virtual_given(const struct conda_lock_options *opt, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < opt->n_virtuals; i++)
        if (!strncmp(opt->virtuals[i], name, n) && opt->virtuals[i][n] == '=')
            return 1;
    return 0;
}

/* The virtual packages of a spec's target, each unless --virtual gives it:
 *   Azure ML's default images, known without pulling them: the CPU one is Ubuntu 22.04 (glibc 2.35, the lock's
 *   default), the GPU one Ubuntu 20.04 (glibc 2.31) with CUDA 11.3;
 *   any other base is read (base_probe.h): __glibc from its libc (none on a base without glibc), __archspec
 *   from its architecture, __cuda from its CUDA_VERSION;
 *   a GPU environment's cuda_version (or the default GPU image's CUDA) wins over the base's CUDA;
 *   __linux stays the default (5.15, the kernel of Azure ML's hosts): the kernel is the host's, which no
 *   image says. */
struct spec_target {
    char cuda[64], glibc[64], archspec[64];
    char base_glibc[32]; /* what the base says, for messages; "" when not read or absent */
    int no_glibc;        /* the base was read and has none */
    const char *base;
};

static int spec_virtuals(struct conda_lock_options *opt, const char **virtuals, const struct spec *spec,
                         struct spec_target *t)
{
    const struct spec_environment *e = &spec->environment;
    struct base_probe probe = {0};
    int known = e->base_image && (!strcmp(e->base_image, SPEC_DEFAULT_CPU_BASE_IMAGE) ||
                                  !strcmp(e->base_image, SPEC_DEFAULT_GPU_BASE_IMAGE));
    int need = !virtual_given(opt, "__glibc") || !virtual_given(opt, "__archspec") ||
               (!e->gpu_enabled && !virtual_given(opt, "__cuda"));
    t->base = e->base_image;
    if (e->base_image && strcmp(e->base_image, "scratch") && !known && need) {
        char context[1200];
        snprintf(context, sizeof context, "%s:%d: environment.base_image", spec->file, e->line);
        int rc = base_probe(&probe, e->base_image, spec->dir, context);
        if (rc == ERR_NOMEM)
            return rc;
        if (rc) { /* a lock may be written where the base cannot be read: said, and the defaults kept */
            fprintf(stderr, "amlpkg lock: %s; virtual packages not given by --virtual keep their defaults\n",
                    err_message(rc));
            err_clear();
            need = 0;
        }
    }
    if (e->base_image && strcmp(e->base_image, "scratch") && !known && need) {
        fprintf(stderr, "amlpkg lock: target from %s: %s%s%s%s%s%s\n", e->base_image,
                probe.glibc[0] ? "glibc " : "no glibc", probe.glibc, probe.cuda[0] ? ", CUDA " : "", probe.cuda,
                probe.arch[0] ? ", " : "", probe.arch);
        snprintf(t->base_glibc, sizeof t->base_glibc, "%s", probe.glibc);
        if (!virtual_given(opt, "__glibc")) {
            if (probe.glibc[0]) {
                snprintf(t->glibc, sizeof t->glibc, "__glibc=%s", probe.glibc);
                virtuals[opt->n_virtuals++] = t->glibc;
            } else
                opt->no_glibc = t->no_glibc = 1;
        }
        if (probe.arch[0] && !virtual_given(opt, "__archspec")) {
            snprintf(t->archspec, sizeof t->archspec, "__archspec=1");
            virtuals[opt->n_virtuals++] = t->archspec;
        }
    }
    if (!virtual_given(opt, "__cuda") && (e->gpu_enabled || probe.cuda[0])) {
        snprintf(t->cuda, sizeof t->cuda, "__cuda=%s",
                 e->gpu_enabled ? (e->cuda_version ? e->cuda_version : SPEC_DEFAULT_GPU_CUDA_VERSION) : probe.cuda);
        virtuals[opt->n_virtuals++] = t->cuda;
    }
    if (e->base_image && !strcmp(e->base_image, SPEC_DEFAULT_GPU_BASE_IMAGE) && !virtual_given(opt, "__glibc")) {
        virtuals[opt->n_virtuals++] = "__glibc=2.31";
        snprintf(t->base_glibc, sizeof t->base_glibc, "2.31");
    }
    return 0;
}

/* A failed solve on a base whose glibc was read: the message says which glibc the base has. */
static int name_base_glibc(int rc, const struct spec_target *t)
{
    if (!rc || (!t->base_glibc[0] && !t->no_glibc) || !strstr(err_message(rc), "__glibc"))
        return rc;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", err_message(rc));
    err_clear();
    if (t->no_glibc)
        return err_set(rc, "%s (the base image %s has no glibc; --virtual __glibc=VERSION overrides)", msg, t->base);
    return err_set(rc, "%s (the base image %s has glibc %s: __glibc=%s; --virtual __glibc=VERSION overrides)", msg,
                   t->base, t->base_glibc, t->base_glibc);
}

static int write_output(const char *path, const struct buf *text)
{
    if (!path) {
        fwrite(text->data, 1, text->len, stdout);
        return fflush(stdout) ? err_set_write(ERR_IO, "stdout") : 0;
    }
    FILE *f = NULL;
    char *tmp = NULL;
    int rc = fs_temp_beside(&f, &tmp, path);
    if (!rc && fwrite(text->data, 1, text->len, f) != text->len) {
        rc = err_set_write(ERR_IO, "%s: write failed", tmp);
        fclose(f);
        remove(tmp);
    } else if (!rc) {
        rc = fs_publish(f, tmp, path, 0);
    }
    free(tmp);
    return rc;
}

int cmd_lock(int argc, char **argv)
{
    static const struct option long_opts[] = {{"output", required_argument, NULL, 'o'},
                                              {"subdir", required_argument, NULL, 's'},
                                              {"channel-alias", required_argument, NULL, 'a'},
                                              {"virtual", required_argument, NULL, 'v'},
                                              {"pip-index-url", required_argument, NULL, 'p'},
                                              {"cache-dir", required_argument, NULL, 'c'},
                                              {"no-cache", no_argument, NULL, 'n'},
                                              {"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    const char *output = NULL, *virtuals[MAX_VIRTUALS], *cache_dir = NULL;
    int no_cache = 0;
    struct conda_lock_options opt = {.virtuals = virtuals};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 's':
            if (!optarg[0] || strpbrk(optarg, "/ ")) {
                fprintf(stderr, "amlpkg lock: --subdir '%s': expected a conda subdir such as linux-64\n", optarg);
                return EXIT_USAGE;
            }
            opt.subdir = optarg;
            break;
        case 'a': opt.channel_alias = optarg; break;
        case 'p': opt.pip_index_url = optarg; break;
        case 'c': cache_dir = optarg; break;
        case 'n': no_cache = 1; break;
        case 'v':
            if (opt.n_virtuals == MAX_VIRTUALS - 4) { /* room for what the spec adds */
                fprintf(stderr, "amlpkg lock: at most %d --virtual\n", MAX_VIRTUALS - 4);
                return EXIT_USAGE;
            }
            virtuals[opt.n_virtuals++] = optarg;
            break;
        case 'h': fputs(lock_usage, stdout); return EXIT_OK;
        default: return cmd_usage_error(lock_usage);
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "amlpkg lock: expected one SPEC\n");
        return cmd_usage_error(lock_usage);
    }
    const char *path = argv[optind];
    struct spec *spec = NULL;
    struct conda_env *own = NULL;
    const struct conda_env *env = NULL;
    const char *source = path;
    struct spec_target target = {0};
    struct buf text;
    buf_init(&text, 0);
    int rc = 0;
    if (looks_like_spec(path)) {
        if (!(rc = spec_read(&spec, path, SPEC_READ_ENVIRONMENT | SPEC_READ_NO_LOCK))) {
            env = spec->environment.conda;
            source = spec->environment.conda_file ? spec->environment.conda_file : path;
            if (!env)
                rc = err_set(ERR_INVALID, "%s: environment: no conda_file or conda to lock", path);
            rc = rc ? rc : spec_virtuals(&opt, virtuals, spec, &target);
        }
    } else if (!(rc = conda_load(&own, path))) {
        env = own;
    }
    /* Only a pip section downloads what a build needs again (conda packages are fetched at build time). */
    if (!rc && !no_cache && env->n_pip && cache_open(&opt.cache, cache_dir)) {
        fprintf(stderr, "amlpkg lock: the cache is unusable (%s): wheels are not kept for the build\n",
                err_message(ERR_IO));
        err_clear();
        opt.cache = NULL;
    }
    rc = rc ? rc : name_base_glibc(conda_lock_resolve(&text, env, source, &opt), &target);
    rc = rc ? rc : write_output(output, &text);
    if (!rc && output)
        fprintf(stderr, "locked %s -> %s\n", source, output);
    buf_release(&text);
    cache_close(opt.cache);
    conda_free(own);
    spec_free(spec);
    if (rc == ERR_USAGE) {
        fprintf(stderr, "amlpkg lock: %s\n", err_message(rc));
        return EXIT_USAGE;
    }
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
