/* amlpkg lock SPEC: resolve a conda environment against its channels and write conda's explicit lock. */
#include "builder/cli/commands.h"
#include "builder/env/conda_channel.h"
#include "builder/env/conda_lock.h"
#include "builder/spec/conda.h"
#include "builder/spec/spec.h"
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
    "                          A spec with gpu.enabled adds __cuda (its cuda_version, else 11.3) and, on\n"
    "                          Azure ML's default GPU image, __glibc=2.31\n"
    "      --pip-index-url URL where the pip section's default index lives (default https://pypi.org/simple):\n"
    "                          a mirror; an --index-url in the pip section itself still wins\n"
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

/* What a spec says about its target: a GPU environment has CUDA (the version asked for, or the default
 * GPU image's), and Azure ML's default GPU image is Ubuntu 20.04 (glibc 2.31). --virtual wins. */
static void spec_virtuals(struct conda_lock_options *opt, const char **virtuals, const struct spec_environment *e,
                          char *cuda, size_t cuda_size)
{
    if (e->gpu_enabled && !virtual_given(opt, "__cuda")) {
        snprintf(cuda, cuda_size, "__cuda=%s", e->cuda_version ? e->cuda_version : SPEC_DEFAULT_GPU_CUDA_VERSION);
        virtuals[opt->n_virtuals++] = cuda;
    }
    if (e->base_image && !strcmp(e->base_image, SPEC_DEFAULT_GPU_BASE_IMAGE) && !virtual_given(opt, "__glibc"))
        virtuals[opt->n_virtuals++] = "__glibc=2.31";
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
                                              {"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    const char *output = NULL, *virtuals[MAX_VIRTUALS];
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
        case 'v':
            if (opt.n_virtuals == MAX_VIRTUALS - 2) { /* room for what the spec adds */
                fprintf(stderr, "amlpkg lock: at most %d --virtual\n", MAX_VIRTUALS - 2);
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
    char cuda[64];
    struct buf text;
    buf_init(&text, 0);
    int rc = 0;
    if (looks_like_spec(path)) {
        if (!(rc = spec_read(&spec, path, SPEC_READ_ENVIRONMENT))) {
            env = spec->environment.conda;
            source = spec->environment.conda_file ? spec->environment.conda_file : path;
            spec_virtuals(&opt, virtuals, &spec->environment, cuda, sizeof cuda);
            if (!env)
                rc = err_set(ERR_INVALID, "%s: environment: no conda_file or conda to lock", path);
        }
    } else if (!(rc = conda_load(&own, path))) {
        env = own;
    }
    rc = rc ? rc : conda_lock_resolve(&text, env, source, &opt);
    rc = rc ? rc : write_output(output, &text);
    if (!rc && output)
        fprintf(stderr, "locked %s -> %s\n", source, output);
    buf_release(&text);
    conda_free(own);
    spec_free(spec);
    if (rc == ERR_USAGE) {
        fprintf(stderr, "amlpkg lock: %s\n", err_message(rc));
        return EXIT_USAGE;
    }
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
