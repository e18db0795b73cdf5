/* amlpkg build: spec → validated models → plan → OCI image archive. */
#include "builder/cli/commands.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "builder/sys/fsutil.h"
#include "common/path.h"
#include "builder/image/model_check.h"
#include "builder/image/oci_archive.h"
#include "builder/image/digest_prefetch.h"
#include "builder/image/oci_image.h"
#include "builder/image/oci_layout.h"
#include "builder/image/plan.h"
#include "builder/image/reference.h"
#include "builder/sys/runtime_locate.h"
#include "builder/spec/spec.h"
#include "builder/cli/spec_cli.h"
#include "builder/env/executor.h"
#include "builder/env/cache_registry.h"
#include "cache/cache.h"
#include "builder/image/sbom.h"
#include "builder/image/dockerfile.h"
#include "builder/sys/vcs.h"
#include "builder/env/base_image.h"
#include "builder/image/image_source.h"
#include "builder/registry/registry.h"
#include "builder/registry/registry_image.h"
#include "builder/cli/transfer_cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char build_usage[] =
    "usage: amlpkg build SPEC [options]\n"
    "       amlpkg build --inference-config F --model N:V=PATH... [--deployment-config F] [options]\n"
    "\n"
    "Compiles a package spec (spec.yaml) into an OCI image, without a daemon, and prints\n"
    "the image's manifest digest (sha256:...) as the last line.\n"
    "\n"
    "options:\n"
    "  -o, --output PATH       where to write the image (default: NAME_TAG.tar, or NAME_TAG/ for oci-layout)\n"
    "      --format FORMAT     oci-archive (default): a tar of an OCI image layout\n"
    "                          docker-archive: the `docker save` layout, for docker/podman load\n"
    "                          oci-layout: add the image to the OCI layout directory PATH (new or\n"
    "                          existing) under NAME:TAG, replacing an image of that name\n"
    "                          (oci-layout:DIR is short for --format oci-layout -o DIR)\n"
    "      --compression C     layer compression: auto (default: gzip, but layers that do not\n"
    "                          compress, like model weights, stay plain tar), gzip, zstd, none\n"
    "  -t, --tag NAME:TAG      image name and tag (default: the spec's output, else the first model)\n"
    "      --check DIGEST      fail (exit 1, writing nothing) unless the manifest digest is DIGEST\n"
    "      --git-labels        label the image with the git commit (org.opencontainers.image.revision,\n"
    "                          \"-dirty\" when tracked files changed) and origin URL (.source) of the\n"
    "                          repository holding the spec; off by default, as every commit changes the digest\n"
    "      --push REF          then push the image to a registry (registry/repo[:tag]); with\n"
    "                          --creds USER:PASS, --insecure, --ca-cert FILE as for `amlpkg push`\n"
    "      --no-sbom           do not write the SPDX 2.3 SBOM beside the output (OUTPUT.spdx.json)\n"
    "      --fsync             flush an archive to disk before renaming it into place (it is always\n"
    "                          renamed only when complete; like docker save, not flushed by default)\n"
    "      --dockerfile DIR    write a Dockerfile and its build context to DIR instead of an image\n"
    "                          (DIR must not exist or be empty); `podman build DIR` serves the same\n"
    "      --platform OS/ARCH  image to take from a multi-platform base image (default linux/amd64)\n"
    "      --no-cache          neither read nor write the environment cache (the base is read from its source)\n"
    "      --cache-dir DIR     the workspace cache of environments and compressed layers (default\n"
    "                          $AMLPKG_CACHE_DIR, else $XDG_CACHE_HOME/amlpkg, else ~/.cache/amlpkg)\n"
    "      --global-cache DIR  a shared cache directory read after the workspace (default\n"
    "                          $AMLPKG_GLOBAL_CACHE); never written: a hit there is copied in\n"
    "      --cache-registry R/P  the remote environment cache: after the local cache, look for\n"
    "                          R/P/azureml/azureml_<key> and pull it; push what had to be built there\n"
    "      --executor ENGINE   builds environments with Docker steps or conda installs when their key is\n"
    "                          not cached: auto (default: podman, buildah or docker, the first found),\n"
    "                          podman, buildah, docker, or none to forbid\n"
    "      --runtime PATH      amlserve binary to embed (default: beside amlpkg, or $AMLPKG_AMLSERVE)\n"
    "      --json              print the result as JSON (digest, size, layers, output, format)\n"
    "  -h, --help              show this help\n" SPEC_CLI_HELP "\n"
    "environment.base_image: scratch, oci-archive:PATH, docker-archive:PATH, oci:DIR[:TAG] (paths\n"
    "relative to the spec) or a registry reference; its layers are reused as they are and the\n"
    "environment key caches it: one line on stderr says cache hit (workspace|global|registry) or\n"
    "cache miss. Compressed layers are kept by content too, so an unchanged layer is not compressed\n"
    "again.\n"
    "\n"
    "SOURCE_DATE_EPOCH sets the timestamps in the image (default 0), so builds reproduce:\n"
    "the same spec and files give the same digest from any directory, at any time.\n";

enum build_format { FORMAT_OCI_ARCHIVE, FORMAT_DOCKER_ARCHIVE, FORMAT_OCI_LAYOUT };
static const char *const format_names[] = {"oci-archive", "docker-archive", "oci-layout"};

struct build_options {
    struct spec_cli package;
    int no_sbom;
    int fsync; /* flush the output archive to disk before renaming it into place */
    const char *push;
    struct transfer_cli transfer; /* --creds, --insecure, --ca-cert for --push */
    const char *dockerfile;
    const char *spec_path;
    const char *output;
    const char *tag;
    const char *runtime;
    const char *check;
    const char *platform;
    const char *cache_dir;
    const char *global_cache; /* read-only shared tier, after cache_dir */
    int no_cache;
    enum executor_kind executor; /* for environments with Docker steps or conda installs */
    const char *cache_registry;  /* REGISTRY/PREFIX: the remote tier of the environment cache */
    int executor_given;
    enum build_format format;
    enum oci_compression compression;
    int json;
    int git_labels;
};

/* Applies --tag NAME:TAG over the spec's output name and tag. */
static int apply_tag(struct spec *spec, const char *ref)
{
    const char *colon = strrchr(ref, ':');
    if (colon && strchr(colon, '/'))
        colon = NULL; /* a registry port, not a tag */
    char *name = colon ? strndup(ref, (size_t)(colon - ref)) : strdup(ref);
    char *tag = colon ? strdup(colon + 1) : NULL;
    int rc = 0;
    if (!name || (colon && !tag))
        rc = err_set(ERR_NOMEM, "out of memory");
    else if (!spec_valid_image_name(name))
        rc = err_set(ERR_INVALID, "--tag: '%s' is not a valid image name", name);
    else if (tag && !spec_valid_tag(tag))
        rc = err_set(ERR_INVALID, "--tag: '%s' is not a valid tag", tag);
    if (rc) {
        free(name);
        free(tag);
        return rc;
    }
    free(spec->image_name);
    spec->image_name = name;
    if (tag) {
        free(spec->image_tag);
        spec->image_tag = tag;
    }
    return 0;
}

static int add_git_labels(struct plan *plan, const struct spec *spec)
{
    if (spec->inference.git_commit)
        return 0; /* the git source already named its commit and URL */
    struct vcs_info vcs;
    int rc = vcs_info_read(&vcs, spec->dir);
    if (rc)
        return rc;
    if (!vcs.revision)
        fprintf(stderr, "amlpkg build: --git-labels: '%s' is not in a git repository with a commit; no labels added\n",
                spec->dir);
    char *revision = NULL;
    if (vcs.revision && asprintf(&revision, "%s%s", vcs.revision, vcs.dirty ? "-dirty" : "") < 0) {
        revision = NULL;
        rc = err_set(ERR_NOMEM, "out of memory");
    }
    if (!rc && revision)
        rc = plan_set_label(plan, "org.opencontainers.image.revision", revision);
    if (!rc && vcs.source)
        rc = plan_set_label(plan, "org.opencontainers.image.source", vcs.source);
    free(revision);
    vcs_info_release(&vcs);
    return rc;
}

static char *default_output(const struct spec *spec, enum build_format format)
{
    char *s = NULL;
    if (asprintf(&s, "%s_%s%s", spec->image_name, spec->image_tag, format == FORMAT_OCI_LAYOUT ? "" : ".tar") < 0)
        return NULL;
    for (char *p = s; *p; p++)
        if (*p == '/')
            *p = '_';
    return s;
}

static void print_result(const struct build_options *o, const char *output, const struct oci_image *img)
{
    int64_t total = img->config.size + img->manifest.size;
    for (size_t i = 0; i < img->n_layers; i++)
        total += img->layers[i].size;
    if (!o->json) {
        printf("built %s -> %s (%s, %zu layers:", img->ref_name, output, format_names[o->format], img->n_layers);
        for (size_t i = 0; i < img->n_layers; i++) {
            const char *mt = img->layers[i].media_type;
            const char *plus = strrchr(mt, '+');
            printf("%s %s", i ? "," : "", plus ? plus + 1 : "tar");
        }
        printf("; %.1f MB)\n%s\n", (double)total / 1e6, img->manifest.digest);
        return;
    }
    struct buf b;
    buf_init(&b, 0);
    buf_append_str(&b, "{\"image\":");
    json_write_string(&b, img->ref_name, strlen(img->ref_name));
    buf_append_str(&b, ",\"output\":");
    json_write_string(&b, output, strlen(output));
    buf_appendf(&b,
                ",\"format\":\"%s\",\"digest\":\"%s\",\"manifest_digest\":\"%s\",\"config_digest\":\"%s\","
                "\"layers\":[",
                format_names[o->format], img->manifest.digest, img->manifest.digest, img->config.digest);
    for (size_t i = 0; i < img->n_layers; i++)
        buf_appendf(&b, "%s{\"digest\":\"%s\",\"diff_id\":\"%s\",\"mediaType\":\"%s\",\"size\":%lld}", i ? "," : "",
                    img->layers[i].digest, img->layers[i].diff_id, img->layers[i].media_type,
                    (long long)img->layers[i].size);
    buf_appendf(&b, "],\"size\":%lld}\n", (long long)total);
    fputs(b.data, stdout);
    buf_release(&b);
}

static int parse_format(struct build_options *o, const char *arg)
{
    if (!strncmp(arg, "oci-layout:", 11) && arg[11]) {
        o->format = FORMAT_OCI_LAYOUT;
        o->output = arg + 11;
        return 0;
    }
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++)
        if (!strcmp(arg, format_names[i])) {
            o->format = (enum build_format)i;
            return 0;
        }
    fprintf(stderr, "amlpkg build: --format '%s' is not one of oci-archive, docker-archive, oci-layout\n", arg);
    return EXIT_USAGE;
}

static int parse_options(struct build_options *o, int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"tag", required_argument, NULL, 't'},
        {"format", required_argument, NULL, 'f'},
        {"runtime", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"compression", required_argument, NULL, 'c'},
        {"check", required_argument, NULL, 'k'},
        {"git-labels", no_argument, NULL, 'g'},
        {"dockerfile", required_argument, NULL, 'D'},
        {"push", required_argument, NULL, 'P'},
        {"no-sbom", no_argument, NULL, 'S'},
        {"creds", required_argument, NULL, 0x100},
        {"insecure", no_argument, NULL, 0x101},
        {"ca-cert", required_argument, NULL, 0x102},
        {"platform", required_argument, NULL, 0x110},
        {"no-cache", no_argument, NULL, 0x111},
        {"cache-dir", required_argument, NULL, 0x112},
        {"executor", required_argument, NULL, 0x113},
        {"cache-registry", required_argument, NULL, 0x114},
        {"global-cache", required_argument, NULL, 0x115},
        {"fsync", no_argument, NULL, 0x116},
        SPEC_CLI_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "o:t:h", long_opts, NULL)) != -1) {
        int used = spec_cli_option(&o->package, c, optarg, "build");
        if (used < 0)
            return EXIT_USAGE;
        if (used)
            continue;
        if (c >= 0x100 && c <= 0x102) {
            transfer_cli_option(&o->transfer, c, optarg, "build");
            continue;
        }
        switch (c) {
        case 'D': o->dockerfile = optarg; break;
        case 0x110:
            if (!strchr(optarg, '/')) {
                fprintf(stderr, "amlpkg build: --platform '%s': expected os/arch[/variant]\n", optarg);
                return EXIT_USAGE;
            }
            o->platform = optarg;
            break;
        case 0x111: o->no_cache = 1; break;
        case 0x112: o->cache_dir = optarg; break;
        case 0x114: o->cache_registry = optarg; break;
        case 0x115: o->global_cache = optarg; break;
        case 0x116: o->fsync = 1; break;
        case 0x113:
            if (executor_resolve(&o->executor, optarg)) {
                fprintf(stderr, "amlpkg build: %s\n", err_message(ERR_USAGE));
                return EXIT_USAGE;
            }
            o->executor_given = 1;
            break;
        case 'P': o->push = optarg; break;
        case 'S': o->no_sbom = 1; break;
        case 'o': o->output = optarg; break;
        case 't': o->tag = optarg; break;
        case 'r': o->runtime = optarg; break;
        case 'j': o->json = 1; break;
        case 'g': o->git_labels = 1; break;
        case 'f':
            if (parse_format(o, optarg))
                return EXIT_USAGE;
            break;
        case 'c': {
            int c = oci_compression_parse(optarg);
            if (c < 0) {
                fprintf(stderr, "amlpkg build: --compression '%s' is not one of auto, gzip, zstd, none\n", optarg);
                return EXIT_USAGE;
            }
            o->compression = (enum oci_compression)c;
            break;
        }
        case 'k':
            if (!reference_valid_digest(optarg)) {
                fprintf(stderr, "amlpkg build: --check '%s' is not a digest (sha256:<64 hex>)\n", optarg);
                return EXIT_USAGE;
            }
            o->check = optarg;
            break;
        case 'h': fputs(build_usage, stdout); return -1;
        default: fputs(build_usage, stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "amlpkg build: unexpected argument '%s'\n%s", argv[optind + 1], build_usage);
        return EXIT_USAGE;
    }
    o->spec_path = optind < argc ? argv[optind] : NULL;
    const char *global = getenv("AMLPKG_GLOBAL_CACHE");
    if (!o->global_cache && global && global[0])
        o->global_cache = global;
    if (spec_cli_check(&o->package, o->spec_path, "build"))
        return EXIT_USAGE;
    if (o->push && (o->dockerfile || o->format == FORMAT_DOCKER_ARCHIVE)) {
        fputs("amlpkg build: --push sends an oci-archive or oci-layout, not a Dockerfile or a docker-archive\n",
              stderr);
        return EXIT_USAGE;
    }
    if ((o->transfer.reg.creds || o->transfer.reg.insecure || o->transfer.reg.ca_cert) && !o->push &&
        !o->cache_registry) {
        fputs("amlpkg build: --creds, --insecure and --ca-cert go with --push or --cache-registry\n", stderr);
        return EXIT_USAGE;
    }
    if (o->dockerfile && (o->output || o->check || o->format != FORMAT_OCI_ARCHIVE)) {
        fputs("amlpkg build: --dockerfile writes a build context, not an image: no --output, --format or --check\n",
              stderr);
        return EXIT_USAGE;
    }
    if (o->format == FORMAT_DOCKER_ARCHIVE && o->compression == OCI_COMPRESSION_ZSTD) {
        fputs("amlpkg build: docker-archive layers must be tar or tar+gzip (docker load knows no zstd)\n", stderr);
        return EXIT_USAGE;
    }
    return 0;
}

/* An environment with Docker steps or conda installs and no engine to run them. */
static int refuse_without_executor(const struct plan *plan, const struct spec *spec)
{
    return err_set(ERR_UNSUPPORTED,
                   "%s:%d: environment: %s must run in a container and no executor is available (--executor "
                   "podman|buildah|docker, or none found on PATH); or write the Dockerfile and its context with "
                   "--dockerfile DIR (environment steps first, so code and model edits never rebuild them) and "
                   "build it with podman or docker",
                   spec->file, spec->environment.line, plan->environment.needs_executor);
}

/* Whether a local tier (workspace, then global) has the environment; base_image_open reads it. */
static int cached(struct cache *workspace, const struct build_options *o, const char *key)
{
    if (!workspace)
        return 0;
    struct cache *global = NULL;
    int hit = cache_contains(workspace, key) ||
              (o->global_cache && cache_open_readonly(&global, o->global_cache) == 0 && cache_contains(global, key));
    cache_close(global);
    err_clear(); /* a miss, or an unusable global tier: both mean "build it" */
    return hit;
}

/* The engine reads file bases itself: give it absolute paths for the archive and layout forms. */
static char *engine_base(const char *base, const char *spec_dir)
{
    static const char *const forms[] = {"oci-archive:", "docker-archive:", "oci:"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(forms[i]);
        if (strncmp(base, forms[i], n) == 0 && base[n] != '/') {
            char *abs = fs_resolve(spec_dir, base + n), *out = NULL;
            char real[PATH_MAX];
            if (abs && asprintf(&out, "%s%s", forms[i], realpath(abs, real) ? real : abs) < 0)
                out = NULL;
            free(abs);
            return out;
        }
    }
    return strdup(base);
}

/* The environment stage from the executor, saved to an archive and opened as the base (and cached). */
static int build_environment(struct base_image **out, const struct build_options *o, const struct plan *plan,
                             const struct spec *spec, const struct base_image_options *opt)
{
    enum executor_kind kind = o->executor;
    if (!o->executor_given && executor_resolve(&kind, "auto"))
        return ERR_USAGE;
    if (kind == EXECUTOR_NONE)
        return refuse_without_executor(plan, spec);
    struct plan_environment env = plan->environment; /* shallow: only base_image is replaced */
    char *work = NULL, *archive = NULL, *text = NULL, *base = engine_base(env.base_image, spec->dir);
    const char *tmp = getenv("TMPDIR"), *format = NULL;
    int rc = base ? fs_make_temp_dir(&work, tmp && tmp[0] ? tmp : "/tmp", "amlpkg-env-")
                  : err_set(ERR_NOMEM, "out of memory");
    if (!rc && !(archive = path_join(work, "environment.tar")))
        rc = err_set(ERR_NOMEM, "out of memory");
    env.base_image = base;
    rc = rc ? rc : executor_build_environment(kind, &env, work, archive, &format);
    if (!rc && asprintf(&text, "%s:%s", format, archive) < 0)
        text = NULL, rc = err_set(ERR_NOMEM, "out of memory");
    /* Opened like any base: verified, scanned, and stored under the environment key. */
    rc = rc ? rc : base_image_open(out, text, spec->dir, plan->environment.key, opt);
    if (work)
        fs_remove_tree(work);
    free(work);
    free(archive);
    free(text);
    free(base);
    return rc;
}

/* The registry tier: 0 and *out on a hit, 1 on a miss (or an unreachable registry: the build goes on). */
static int open_from_registry(struct base_image **out, const struct build_options *o, const struct plan *plan,
                              const struct spec *spec, const struct base_image_options *opt)
{
    const char *key = plan->environment.key;
    char *work = NULL, *archive = NULL, *text = NULL;
    const char *tmp = getenv("TMPDIR");
    struct registry_options ro = o->transfer.reg;
    ro.op = "pull";
    int rc = fs_make_temp_dir(&work, tmp && tmp[0] ? tmp : "/tmp", "amlpkg-envpull-");
    if (!rc && !(archive = path_join(work, "environment.tar")))
        rc = err_set(ERR_NOMEM, "out of memory");
    rc = rc ? rc : cache_registry_pull(o->cache_registry, key, &ro, archive);
    if (rc) {
        if (rc != ERR_NOTFOUND)
            fprintf(stderr, "environment %.12s: registry cache unavailable (%s): going on without it\n", key,
                    err_message(rc));
        err_clear();
        rc = 1;
    } else if (asprintf(&text, "oci-archive:%s", archive) < 0) {
        text = NULL;
        rc = err_set(ERR_NOMEM, "out of memory");
    } else if (!(rc = base_image_open(out, text, spec->dir, key, opt))) {
        fprintf(stderr, "environment %.12s: cache hit (registry %s)\n", key, o->cache_registry);
    }
    if (work)
        fs_remove_tree(work);
    free(work);
    free(archive);
    free(text);
    return rc;
}

/* What had to be built (or pulled from its source) goes to the registry tier for the next machine. */
static void push_to_registry(const struct build_options *o, const struct plan *plan, const struct base_image *b,
                             struct cache *workspace)
{
    struct registry_options ro = o->transfer.reg;
    ro.op = "push";
    int rc = cache_registry_push(o->cache_registry, plan->environment.key, cache_dir(workspace),
                                 base_image_manifest_digest(b), &ro);
    if (rc)
        fprintf(stderr, "environment %.12s: not stored in the registry cache (%s)\n", plan->environment.key,
                err_message(rc));
    else
        fprintf(stderr, "environment %.12s: stored in the registry cache %s\n", plan->environment.key,
                o->cache_registry);
    err_clear();
}

/* The base image (not scratch): from the environment cache tiers, or its source (then cached). */
static int open_base(struct base_image **out, const struct build_options *o, const struct plan *plan,
                     const struct spec *spec, struct cache *workspace)
{
    *out = NULL;
    char context[1200];
    snprintf(context, sizeof context, "%s:%d: environment.base_image", spec->file, spec->environment.line);
    struct base_image_options opt = {
        .platform = o->platform,
        .cache = workspace,
        .global_cache_dir = o->global_cache,
        .context = context,
    };
    if (plan_env_is_scratch(&plan->environment) && !plan->environment.needs_executor)
        return 0;
    int local = cached(workspace, o, plan->environment.key);
    int remote = workspace && o->cache_registry && !local;
    int rc = 1; /* not from the registry tier */
    if (remote)
        rc = open_from_registry(out, o, plan, spec, &opt);
    if (rc <= 0)
        return rc;
    /* Steps to run: the local cache may have their result already; else an engine builds them. */
    rc = plan->environment.needs_executor && !local
             ? build_environment(out, o, plan, spec, &opt)
             : base_image_open(out, plan->environment.base_image, spec->dir, plan->environment.key, &opt);
    if (!rc && remote)
        push_to_registry(o, plan, *out, workspace);
    return rc;
}

/* --push: the image just written goes to the registry as `amlpkg push` would send it. */
static int push_built(struct build_options *o, const char *output, const char *sbom_layout)
{
    struct reference ref;
    int rc = reference_parse(&ref, o->push);
    if (rc)
        return rc;
    struct image_source *src = NULL;
    struct registry *reg = NULL;
    struct image_transfer x = {.jobs = 4, .tty = isatty(2) && !o->json};
    o->transfer.reg.op = "push";
    if (!(rc = transfer_cli_open_push(&src, output, &reg, ref.registry, &o->transfer.reg)))
        rc = registry_image_push(reg, ref.repository, ref.tag[0] ? ref.tag : NULL, src, &x);
    if (!rc && ref.digest[0] && strcmp(ref.digest, x.digest))
        rc = err_set(ERR_MISMATCH, "--push %s: the image's digest is %s, not %s", o->push, x.digest, ref.digest);
    if (!rc) {
        char dst[700];
        reference_format(dst, sizeof dst, &ref);
        /* stdout's last line stays the digest (or the one JSON object); the push report goes to stderr. */
        fprintf(stderr, "pushed %s -> %s: %d blobs (%d uploaded, %d skipped, %d mounted), %.1f MB in %.2fs\n", output,
                dst, x.blobs, x.uploaded, x.existed, x.mounted, (double)x.bytes_moved / 1e6, x.seconds);
    }
    /* The SBOM follows by digest, its subject the image: found through the referrers API or, where the
     * registry has none, the sha256-<hex> referrers tag. */
    if (!rc && sbom_layout) {
        struct image_source *sbom = NULL;
        struct image_transfer y = {.jobs = 2};
        char image_digest[72];
        snprintf(image_digest, sizeof image_digest, "%s", x.digest);
        if (!(rc = image_source_open(&sbom, sbom_layout)) &&
            !(rc = registry_image_push(reg, ref.repository, NULL, sbom, &y)))
            fprintf(stderr, "pushed the SBOM as %s (subject %s%s%s)\n", y.digest, image_digest,
                    y.referrers_fallback ? "; listed in the referrers tag sha256-" : "",
                    y.referrers_fallback ? image_digest + 7 : "");
        image_source_free(sbom);
    }
    registry_free(reg);
    image_source_free(src);
    return rc;
}

int cmd_build(int argc, char **argv)
{
    struct build_options o = {0};
    int usage_rc = parse_options(&o, argc, argv);
    if (usage_rc)
        return usage_rc < 0 ? EXIT_OK : usage_rc;

    struct spec *spec = NULL;
    struct plan *plan = NULL;
    struct oci_image image = {0};
    struct base_image *base = NULL;
    struct cache *cache = NULL; /* the workspace tier, NULL with --no-cache */
    struct digest_prefetch *prefetch = NULL;
    char *runtime = NULL, *output = NULL, *out_dir = NULL, *work_dir = NULL, *sbom_layout = NULL;
    long long epoch;
    int rc = plan_source_date_epoch(&epoch);
    if (rc || (rc = spec_cli_load(&spec, &o.package, o.spec_path)))
        goto done;
    if (o.tag && (rc = apply_tag(spec, o.tag)))
        goto done;
    if ((rc = model_check_spec(spec)) || (rc = runtime_locate(&runtime, o.runtime)))
        goto done;
    if ((rc = plan_build(&plan, spec, runtime, epoch)) || (o.git_labels && (rc = add_git_labels(plan, spec))))
        goto done;
    if (o.dockerfile) {
        const char *slash = strrchr(spec->file, '/');
        if (!(rc = dockerfile_write(o.dockerfile, plan, slash ? slash + 1 : spec->file)))
            printf("wrote %s/Dockerfile and its build context; build it with: podman build -t %s:%s %s\n", o.dockerfile,
                   plan->image_name, plan->image_tag, o.dockerfile);
        goto done;
    }
    if (!o.no_cache && (rc = cache_open(&cache, o.cache_dir))) {
        fprintf(stderr, "cache unavailable (%s): building without it\n", err_message(rc));
        err_clear();
        cache = NULL;
    }
    if ((rc = open_base(&base, &o, plan, spec, cache)))
        goto done;
    output = o.output ? strdup(o.output) : default_output(spec, o.format);
    for (size_t n = output ? strlen(output) : 0; n > 1 && output[n - 1] == '/'; n--)
        output[n - 1] = '\0'; /* "layout/" stages beside layout, not inside it */
    if (output && o.format == FORMAT_OCI_LAYOUT) {
        /* A layout given as "." or "dir/..": stage beside its real path, never inside it. */
        char *real = realpath(output, NULL);
        out_dir = real ? fs_dirname(real) : fs_dirname(output);
        free(real);
    } else if (output) {
        out_dir = fs_dirname(output);
    }
    if (!output || !out_dir) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    /* Blobs are staged beside the output so the final rename never crosses file systems. */
    if ((rc = fs_make_temp_dir(&work_dir, out_dir, ".amlpkg-build-")))
        goto done;
    /* The SBOM's digests of large files, hashed on another core while the layers are written. */
    if ((!o.no_sbom || cache) && (rc = oci_image_prefetch_digests(&prefetch, plan, cache)))
        goto done;
    rc = oci_image_build(&image, plan, base ? base_image_oci(base) : NULL, o.compression, work_dir, cache,
                         o.format == FORMAT_OCI_LAYOUT ? 0 : OCI_IMAGE_FOR_ARCHIVE, prefetch);
    if (rc)
        goto done;
    if (o.check && strcmp(o.check, image.manifest.digest) != 0) {
        rc = err_set(ERR_MISMATCH, "--check: the built manifest digest is %s, not %s; nothing written to '%s'",
                     image.manifest.digest, o.check, output);
        goto done;
    }
    switch (o.format) {
    case FORMAT_OCI_ARCHIVE: rc = oci_archive_write(&image, output, epoch, o.fsync ? OCI_ARCHIVE_SYNC : 0); break;
    case FORMAT_DOCKER_ARCHIVE:
        rc = oci_docker_archive_write(&image, output, epoch, o.fsync ? OCI_ARCHIVE_SYNC : 0);
        break;
    case FORMAT_OCI_LAYOUT: rc = oci_layout_add(&image, output); break;
    }
    if (rc)
        goto done;
    /* The SBOM names the image by the digest just written, so it comes after the image. */
    if (!o.no_sbom) {
        /* A layout folder ("." included) gets its SBOM beside it, not inside it. */
        char real[PATH_MAX], *sbom_path = NULL;
        const char *base = o.format == FORMAT_OCI_LAYOUT && realpath(output, real) ? real : output;
        if (asprintf(&sbom_path, "%s.spdx.json", base) < 0)
            sbom_path = NULL;
        rc = sbom_path ? sbom_write(sbom_path, plan, spec, image.manifest.digest, cache, prefetch, o.fsync)
                       : err_set(ERR_NOMEM, "out of memory");
        /* In a layout the SBOM also goes in as an artifact whose subject is the image. */
        if (!rc && (o.format == FORMAT_OCI_LAYOUT || o.push)) {
            struct oci_blob blobs[2] = {0}, manifest = {0};
            rc = sbom_artifact(blobs, &manifest, work_dir, sbom_path, &image);
            if (!rc && o.format == FORMAT_OCI_LAYOUT)
                rc = oci_layout_add_artifact(output, &manifest, SBOM_ARTIFACT_TYPE, image.ref_name, blobs, 2);
            if (!rc && o.push && !(sbom_layout = path_join(work_dir, "sbom-layout")))
                rc = err_set(ERR_NOMEM, "out of memory");
            if (!rc && o.push)
                rc = sbom_artifact_layout(sbom_layout, blobs, &manifest);
            oci_blob_release(&blobs[0]);
            oci_blob_release(&blobs[1]);
            oci_blob_release(&manifest);
        }
        free(sbom_path);
        if (rc)
            goto done;
    }
    print_result(&o, output, &image);
    if (o.push)
        rc = push_built(&o, output, sbom_layout);
done:
    digest_prefetch_free(prefetch); /* before the cache it remembers into */
    if (work_dir)
        fs_remove_tree(work_dir);
    oci_image_release(&image);
    base_image_free(base); /* its layer paths and oci_image's may point into the cache: close it after */
    cache_close(cache);
    plan_free(plan);
    spec_free(spec);
    free(runtime);
    free(output);
    free(out_dir);
    free(work_dir);
    free(sbom_layout);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
