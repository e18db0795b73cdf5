/* amlpkg build: spec → validated models → plan → OCI image archive. */
#include "builder/cli/commands.h"
#include "builder/pipeline/build_run.h"
#include "builder/cli/spec_cli.h"
#include "builder/cli/transfer_cli.h"
#include "builder/image/image_source.h"
#include "builder/image/reference.h"
#include "builder/registry/registry.h"
#include "builder/registry/registry_image.h"
#include "builder/trust/trust_attest.h"
#include "builder/trust/trust_image.h"
#include "builder/trust/trust_key.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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
    "                          --creds USER:PASS, --authfile FILE, --insecure, --ca-cert FILE as\n"
    "                          for `amlpkg push`\n"
    "      --sign KEY          sign the image with KEY (PEM, as for `amlpkg sign`): the pushed image\n"
    "                          with --push (signature tag sha256-<digest>.sig beside it), else the output;\n"
    "                          and attach its SLSA provenance, signed with KEY (verify --provenance)\n"
    "      --sign-format F     tag (cosign's sha256-<digest>.sig tag; provenance as a DSSE referrer),\n"
    "                          bundle (sigstore bundle referrers, OCI 1.1) or both (the default)\n"
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
    "      --registries-conf FILE  registry mirrors for pulling the base image, in the\n"
    "                          containers-registries.conf(5) format ([[registry]] prefix, location,\n"
    "                          insecure, blocked, [[registry.mirror]]); default $AMLPKG_REGISTRIES_CONF,\n"
    "                          else /etc/containers/registries.conf and registries.conf.d/*.conf\n"
    "      --executor ENGINE   builds environments with Docker steps or conda installs when their key is\n"
    "                          not cached: auto (default: podman, buildah or docker, the first found),\n"
    "                          podman, buildah, docker, or none to forbid; its layers are re-written\n"
    "                          reproducibly, steps that reach the network are named in a warning, and\n"
    "                          the engine's store is left as it was found\n"
    "      --allow-scripts     run the locked packages' post-link scripts through the executor, on top of\n"
    "                          the environment amlpkg installed (default: such packages are refused;\n"
    "                          also environment.allow_scripts: true)\n"
    "      --runtime PATH      amlserve binary to embed (default: beside amlpkg, or $AMLPKG_AMLSERVE)\n"
    "      --json              print the result as JSON (digest, size, layers, output, format)\n"
    "  -h, --help              show this help\n" SPEC_CLI_HELP "\n"
    "environment.base_image: scratch, oci-archive:PATH, docker-archive:PATH, oci:DIR[:TAG] (paths\n"
    "relative to the spec) or a registry reference; without one, a package with an entry script,\n"
    "conda dependencies or Docker steps starts from Azure ML's default CPU image\n"
    "(" SPEC_DEFAULT_CPU_BASE_IMAGE ") or, with gpu.enabled, its GPU image;\n"
    "its layers are reused as they are and the\n"
    "environment key caches it: one line on stderr says cache hit (workspace|global|registry) or\n"
    "cache miss. Compressed layers are kept by content too, so an unchanged layer is not compressed\n"
    "again.\n"
    "\n"
    "SOURCE_DATE_EPOCH sets the timestamps in the image (default 0), so builds reproduce:\n"
    "the same spec and files give the same digest from any directory, at any time, under any\n"
    "umask; inspect and push of the output show the digest build printed, in every format.\n";


struct build_options {
    struct spec_cli package;
    struct build_request build;
    const char *push;
    const char *sign_key;         /* --sign */
    enum trust_format sign_format; /* --sign-format (0: the default) */
    struct transfer_cli transfer; /* --creds, --insecure, --ca-cert for --push */
    struct registry *push_registry; /* opened and checked before the build, used again for the push */
    const char *spec_path;
    const char *tag;
    int json;
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

static void print_result(const struct build_options *o, const char *output, const struct oci_image *img)
{
    int64_t total = img->config.size + img->manifest.size;
    for (size_t i = 0; i < img->n_layers; i++)
        total += img->layers[i].size;
    if (!o->json) {
        printf("built %s -> %s (%s, %zu layers:", img->ref_name, output, build_format_names[o->build.format], img->n_layers);
        for (size_t i = 0; i < img->n_layers; i++) {
            const char *mt = img->layers[i].media_type;
            const char *plus = strrchr(mt, '+');
            printf("%s %s", i ? "," : "", plus ? plus + 1 : "tar");
        }
        printf("; %.1f MB)\n", (double)total / 1e6);
        transfer_cli_print_digest(img->manifest.digest);
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
                build_format_names[o->build.format], img->manifest.digest, img->manifest.digest, img->config.digest);
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
        o->build.format = BUILD_FORMAT_OCI_LAYOUT;
        o->build.output = arg + 11;
        return 0;
    }
    for (size_t i = 0; i < sizeof build_format_names / sizeof build_format_names[0]; i++)
        if (!strcmp(arg, build_format_names[i])) {
            o->build.format = (enum build_format)i;
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
        {"authfile", required_argument, NULL, 0x104},
        {"platform", required_argument, NULL, 0x110},
        {"no-cache", no_argument, NULL, 0x111},
        {"cache-dir", required_argument, NULL, 0x112},
        {"executor", required_argument, NULL, 0x113},
        {"cache-registry", required_argument, NULL, 0x114},
        {"global-cache", required_argument, NULL, 0x115},
        {"fsync", no_argument, NULL, 0x116},
        {"sign", required_argument, NULL, 0x117},
        {"sign-format", required_argument, NULL, 0x130},
        {"allow-scripts", no_argument, NULL, 0x131},
        {"registries-conf", required_argument, NULL, 0x118},
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
        if ((c >= 0x100 && c <= 0x102) || c == 0x104) {
            transfer_cli_option(&o->transfer, c, optarg, "build");
            continue;
        }
        switch (c) {
        case 'D': o->build.dockerfile = optarg; break;
        case 0x110:
            if (!strchr(optarg, '/')) {
                fprintf(stderr, "amlpkg build: --platform '%s': expected os/arch[/variant]\n", optarg);
                return EXIT_USAGE;
            }
            o->build.env.platform = optarg;
            break;
        case 0x111: o->build.no_cache = 1; break;
        case 0x112: o->build.cache_dir = optarg; break;
        case 0x114: o->build.env.cache_registry = optarg; break;
        case 0x115: o->build.env.global_cache_dir = optarg; break;
        case 0x116: o->build.fsync = 1; break;
        case 0x117: o->sign_key = optarg; break;
        case 0x130:
            if (trust_format_parse(&o->sign_format, optarg)) {
                fprintf(stderr, "amlpkg build: %s\n", err_message(ERR_USAGE));
                return EXIT_USAGE;
            }
            break;
        case 0x118: o->transfer.reg.registries_conf = optarg; break;
        case 0x131: o->build.env.allow_scripts = 1; break;
        case 0x113:
            if (executor_resolve(&o->build.env.executor, optarg)) {
                fprintf(stderr, "amlpkg build: %s\n", err_message(ERR_USAGE));
                return EXIT_USAGE;
            }
            o->build.env.executor_given = 1;
            break;
        case 'P': o->push = optarg; break;
        case 'S': o->build.no_sbom = 1; break;
        case 'o': o->build.output = optarg; break;
        case 't': o->tag = optarg; break;
        case 'r': o->build.runtime = optarg; break;
        case 'j': o->json = 1; break;
        case 'g': o->build.git_labels = 1; break;
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
            o->build.compression = (enum oci_compression)c;
            break;
        }
        case 'k':
            if (!reference_valid_digest(optarg)) {
                fprintf(stderr, "amlpkg build: --check '%s' is not a digest (sha256:<64 hex>)\n", optarg);
                return EXIT_USAGE;
            }
            o->build.check = optarg;
            break;
        case 'h': fputs(build_usage, stdout); return -1;
        default: return cmd_usage_error(build_usage);
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "amlpkg build: unexpected argument '%s'\n%s", argv[optind + 1], build_usage);
        return EXIT_USAGE;
    }
    o->spec_path = optind < argc ? argv[optind] : NULL;
    const char *global = getenv("AMLPKG_GLOBAL_CACHE");
    if (!o->build.env.global_cache_dir && global && global[0])
        o->build.env.global_cache_dir = global;
    if (spec_cli_check(&o->package, o->spec_path, "build"))
        return EXIT_USAGE;
    struct reference push_ref;
    if (o->push && reference_parse(&push_ref, o->push)) {
        fprintf(stderr, "amlpkg build: --push: %s\n", err_message(ERR_INVALID));
        return EXIT_USAGE;
    }
    if (o->push && (o->build.dockerfile || o->build.format == BUILD_FORMAT_DOCKER_ARCHIVE)) {
        fputs("amlpkg build: --push sends an oci-archive or oci-layout, not a Dockerfile or a docker-archive\n",
              stderr);
        return EXIT_USAGE;
    }
    if (o->sign_key && (o->build.dockerfile || o->build.format == BUILD_FORMAT_DOCKER_ARCHIVE)) {
        fputs("amlpkg build: --sign signs an oci-archive, an oci-layout or the pushed image\n", stderr);
        return EXIT_USAGE;
    }
    if ((o->transfer.reg.creds || o->transfer.reg.authfile || o->transfer.reg.insecure || o->transfer.reg.ca_cert) &&
        !o->push && !o->build.env.cache_registry) {
        fputs("amlpkg build: --creds, --authfile, --insecure and --ca-cert go with --push or --cache-registry\n", stderr);
        return EXIT_USAGE;
    }
    if (o->build.dockerfile && (o->build.output || o->build.check || o->build.format != BUILD_FORMAT_OCI_ARCHIVE)) {
        fputs("amlpkg build: --dockerfile writes a build context, not an image: no --output, --format or --check\n",
              stderr);
        return EXIT_USAGE;
    }
    if (o->build.format == BUILD_FORMAT_DOCKER_ARCHIVE && o->build.compression == OCI_COMPRESSION_ZSTD) {
        fputs("amlpkg build: docker-archive layers must be tar or tar+gzip (docker load knows no zstd)\n", stderr);
        return EXIT_USAGE;
    }
    return 0;
}

/* --sign: the SLSA provenance of what was just built, from the output and the SBOM build_run wrote
 * beside it (OUTPUT.spdx.json; a layout's beside its real path, as build_run names it). */
static int provenance_of(struct buf *out, const struct build_options *o, const struct build_result *r,
                         long long started)
{
    const char *spec = o->spec_path ? o->spec_path : o->package.inference_config;
    return trust_provenance_collect(out, r->output, r->sbom_path, spec ? spec : r->output, started);
}

/* --sign: signs the output (reg NULL) or repo@digest on reg; one line on stderr. */
static int sign_built(const struct trust_key *key, enum trust_format format, const char *output, struct registry *reg,
                      const char *repo, const char *digest, const char *identity)
{
    char creator[64];
    snprintf(creator, sizeof creator, "amlpkg %s", AMLPKG_VERSION);
    struct trust_sign_options opt = {
        .format = format, .identity = identity, .creator = creator, .timestamp = time(NULL)};
    struct trust_signed s;
    int rc = reg ? trust_sign_registry(&s, reg, repo, digest, key, &opt) : trust_sign_image(&s, output, key, &opt);
    if (!rc)
        fprintf(stderr, "signed %s as %s -> %s (key %s)\n", s.image_digest, s.identity, s.location, key->key_id);
    return rc;
}

/* --push: the image just written goes to the registry as `amlpkg push` would send it. */
static int push_built(struct build_options *o, const char *output, const char *sbom_layout, const struct trust_key *key,
                      const struct buf *provenance)
{
    struct reference ref;
    int rc = reference_parse(&ref, o->push);
    if (rc)
        return rc;
    struct registry *reg = o->push_registry; /* the push is the registry's owner now */
    o->push_registry = NULL;
    struct image_transfer x = {.jobs = 4, .tty = isatty(2) && !o->json};
    char sbom_digest[72] = "", what[600];
    snprintf(what, sizeof what, "--push %s", o->push);
    rc = transfer_cli_push_image(&reg, &x, &ref, what, output, &o->transfer.reg, NULL);
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
            !(rc = registry_image_push(reg, ref.repository, NULL, sbom, &y))) {
            snprintf(sbom_digest, sizeof sbom_digest, "%s", y.digest);
            fprintf(stderr, "pushed the SBOM as %s (subject %s%s%s)\n", y.digest, image_digest,
                    y.referrers_fallback ? "; listed in the referrers tag sha256-" : "",
                    y.referrers_fallback ? image_digest + 7 : "");
        }
        image_source_free(sbom);
    }
    if (!rc && key) { /* --sign: the signature goes beside the pushed image, under the name it was pushed as */
        struct reference named = ref;
        named.digest[0] = '\0';
        char identity[700];
        reference_format(identity, sizeof identity, &named);
        rc = sign_built(key, o->sign_format, NULL, reg, ref.repository, x.digest, identity);
        /* The SBOM is signed too, by digest (its identity the repository, as for a digest pull). */
        snprintf(identity, sizeof identity, "%s/%s", ref.registry, ref.repository);
        if (!rc && sbom_digest[0])
            rc = sign_built(key, o->sign_format, NULL, reg, ref.repository, sbom_digest, identity);
        if (!rc && !(rc = trust_attest_registry(reg, ref.repository, x.digest, key, provenance->data, provenance->len,
                                                     o->sign_format)))
            fprintf(stderr, "attached the SLSA provenance of %s, signed with key %s\n", x.digest, key->key_id);
    }
    registry_free(reg);
    return rc;
}

/* --push: the reference parses (checked with the options) and the registry
 * answers and takes the credentials, before minutes go into the build. The
 * session stays open for the push (a token that expires meanwhile is renewed
 * on its 401). */
static int check_push_target(void *ctx)
{
    struct build_options *o = ctx;
    struct reference ref;
    int rc = reference_parse(&ref, o->push);
    if (rc)
        return rc;
    struct registry_options ro = o->transfer.reg;
    ro.op = "push";
    struct registry *reg = NULL;
    if (!(rc = registry_open(&reg, ref.registry, &ro)))
        rc = registry_check_access(reg, ref.repository, 1);
    if (rc)
        registry_free(reg);
    else
        o->push_registry = reg;
    return rc;
}

int cmd_build(int argc, char **argv)
{
    struct build_options o = {0};
    int usage_rc = parse_options(&o, argc, argv);
    if (usage_rc)
        return usage_rc < 0 ? EXIT_OK : usage_rc;
    o.build.env.reg = o.transfer.reg;
    o.build.sbom_for_push = o.push != NULL;
    if (o.push) {
        o.build.preflight = check_push_target;
        o.build.preflight_ctx = &o;
    }

    struct spec *spec = NULL;
    struct build_result result = {0};
    struct trust_key *key = NULL;
    struct buf provenance;
    buf_init(&provenance, 0);
    long long started = time(NULL);
    /* The key first: a wrong passphrase should not cost a build. */
    int rc = o.sign_key ? trust_key_load_private(&key, o.sign_key) : 0;
    rc = rc ? rc : spec_cli_load(&spec, &o.package, o.spec_path);
    if (rc || (o.tag && (rc = apply_tag(spec, o.tag))) || (rc = build_run(&result, spec, &o.build)))
        goto done;
    if (result.wrote_dockerfile) {
        printf("wrote %s/Dockerfile and its build context; build it with: podman build -t %s:%s %s\n",
               o.build.dockerfile, result.image_name, result.image_tag, o.build.dockerfile);
        goto done;
    }
    print_result(&o, result.output, &result.image);
    if (key && (rc = provenance_of(&provenance, &o, &result, started)))
        goto done;
    if (o.push) {
        rc = push_built(&o, result.output, result.sbom_layout, key, &provenance);
    } else if (key && !(rc = sign_built(key, o.sign_format, result.output, NULL, NULL, NULL, NULL)) &&
               !(rc = trust_attest_image(result.output, key, provenance.data, provenance.len, o.sign_format))) {
        fprintf(stderr, "attached the SLSA provenance of %s to %s, signed with key %s\n", result.image.manifest.digest,
                result.output, key->key_id);
    }
done:
    registry_free(o.push_registry); /* still here when the build failed before the push */
    buf_release(&provenance);
    trust_key_free(key);
    build_result_release(&result);
    spec_free(spec);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
