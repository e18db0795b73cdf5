/* amlpkg inspect TARGET: what is in an image archive, OCI layout or registry — manifest
 * digest, config (entrypoint, environment, labels, the environment key) and
 * each layer with its size, media type and what it holds (from the history
 * amlpkg writes: runtime, app, which model). */
#include "builder/cli/commands.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "builder/cli/transfer_cli.h"
#include "builder/image/image_source.h"
#include "builder/image/reference.h"
#include "builder/registry/registry_inspect.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char inspect_usage[] =
    "usage: amlpkg inspect TARGET [options]\n"
    "\n"
    "Shows an image: TARGET is an oci-archive (what amlpkg build writes), an OCI layout folder\n"
    "(DIR:NAME:TAG picks one image), a docker-archive, or an image in a registry. Transports as\n"
    "skopeo writes them are accepted: oci-archive:PATH, docker-archive:PATH, oci:DIR[:TAG],\n"
    "docker://REF; a TARGET without one is a path when it exists, else a registry reference\n"
    "(host[:port]/repo[:tag|@digest]). From a registry only the manifest and the config are read\n"
    "(an index, there or local, is resolved to --platform), never a layer. Every document read is checked against\n"
    "its digest; the digest shown is the one build printed, whichever format it wrote.\n"
    "\n"
    "options:\n"
    "      --json             print one JSON object (digest, config, layers with history, labels)\n"
    "      --raw              print the manifest (or index) bytes exactly as stored or served\n"
    "      --platform OS/ARCH the image of an index to show (default linux/amd64)\n"
    "      --creds USER:PASS  registry credentials (else as for `amlpkg push --help`)\n"
    "      --authfile FILE    the primary auth file, as podman's and skopeo's --authfile\n"
    "      --insecure         allow plain HTTP and unverified TLS (localhost may always use HTTP)\n"
    "      --ca-cert FILE     trust this PEM CA bundle for TLS\n"
    "  -h, --help             show this help\n";

#define BLOB_LIMIT (16u << 20)

static const char *str_member(const struct json_value *v, const char *key)
{
    const struct json_value *m = v ? json_member(v, key) : NULL;
    return m && m->type == JSON_STRING ? m->as.string.ptr : NULL;
}

/* The history entries that made layers, in layer order (empty_layer ones skipped). */
static const struct json_value *layer_history(const struct json_value *history, size_t index)
{
    size_t seen = 0;
    for (const struct json_value *h = history ? history->child : NULL; h; h = h->next) {
        const struct json_value *empty = json_member(h, "empty_layer");
        if (empty && empty->type == JSON_BOOL && empty->as.boolean)
            continue;
        if (seen++ == index)
            return h;
    }
    return NULL;
}

static const char *short_type(const char *media_type)
{
    const char *plus = media_type ? strrchr(media_type, '+') : NULL;
    if (plus)
        return plus + 1;
    return media_type && strstr(media_type, "gzip") ? "gzip" : "tar";
}

static void print_text(const char *target, const char *digest, const char *index_digest, const char *ref,
                       const struct json_value *manifest, const struct json_value *config)
{
    const struct json_value *cfg = json_member(config, "config");
    printf("image       %s\n", ref[0] ? ref : "(unnamed)");
    printf("source      %s\n", target);
    printf("digest      %s\n", digest);
    if (index_digest)
        printf("index       %s\n", index_digest);
    const char *os = str_member(config, "os"), *arch = str_member(config, "architecture");
    printf("platform    %s/%s\n", os ? os : "?", arch ? arch : "?");
    const char *created = str_member(config, "created");
    if (created)
        printf("created     %s\n", created);
    const struct json_value *ep = cfg ? json_member(cfg, "Entrypoint") : NULL;
    for (const struct json_value *e = ep ? ep->child : NULL; e; e = e->next)
        printf("%s%s", e == ep->child ? "entrypoint  " : " ", e->type == JSON_STRING ? e->as.string.ptr : "?");
    if (ep && ep->child)
        printf("\n");
    const struct json_value *env = cfg ? json_member(cfg, "Env") : NULL;
    for (const struct json_value *e = env ? env->child : NULL; e; e = e->next)
        if (e->type == JSON_STRING)
            printf("env         %s\n", e->as.string.ptr);
    const struct json_value *labels = cfg ? json_member(cfg, "Labels") : NULL;
    for (const struct json_value *l = labels ? labels->child : NULL; l; l = l->next)
        if (l->type == JSON_STRING)
            printf("label       %.*s=%s\n", (int)l->key_len, l->key, l->as.string.ptr);
    const char *envkey = labels ? str_member(labels, "com.amlpkg.environment-key") : NULL;
    printf("environment %s\n", envkey ? envkey : "(no environment key)");
    const struct json_value *layers = json_member(manifest, "layers");
    const struct json_value *history = json_member(config, "history");
    printf("layers      %zu\n", layers ? layers->count : 0);
    size_t i = 0;
    double total = 0;
    for (const struct json_value *l = layers ? layers->child : NULL; l; l = l->next, i++) {
        const struct json_value *size = json_member(l, "size");
        double bytes = size && size->type == JSON_NUMBER ? size->as.number : 0;
        total += bytes;
        const struct json_value *h = layer_history(history, i);
        const char *by = h ? str_member(h, "created_by") : NULL;
        const char *d = str_member(l, "digest");
        printf("  %2zu  %.19s  %10.0f B  %-4s  %s\n", i + 1, d ? d : "?", bytes, short_type(str_member(l, "mediaType")),
               by ? by : "");
    }
    printf("size        %.1f MB in layers\n", total / 1e6);
}

static int print_json(const char *target, const char *digest, const char *index_digest, const char *ref,
                      const struct buf *manifest_text, const struct buf *config_text)
{
    struct buf b;
    buf_init(&b, 0);
    int rc = buf_append_str(&b, "{\"source\":");
    rc = rc ? rc : json_write_string(&b, target, strlen(target));
    rc = rc ? rc : buf_append_str(&b, ",\"image\":");
    rc = rc ? rc : json_write_string(&b, ref, strlen(ref));
    rc = rc ? rc : buf_appendf(&b, ",\"digest\":\"%s\"", digest);
    if (!rc && index_digest)
        rc = buf_appendf(&b, ",\"index_digest\":\"%s\"", index_digest);
    rc = rc ? rc : buf_append_str(&b, ",\"manifest\":");
    /* The documents as stored: they are JSON already and were verified against their digests. */
    rc = rc ? rc : buf_append(&b, manifest_text->data, manifest_text->len);
    rc = rc ? rc : buf_append_str(&b, ",\"config\":");
    rc = rc ? rc : buf_append(&b, config_text->data, config_text->len);
    rc = rc ? rc : buf_append_str(&b, "}\n");
    if (!rc)
        fwrite(b.data, 1, b.len, stdout);
    buf_release(&b);
    return rc;
}

struct inspect_options {
    int json, raw;
    const char *platform;
    struct registry_options reg;
};

/* Prints what was read: the raw top document, or the report from the parsed manifest and config. */
static int show(const struct inspect_options *o, const char *target, const char *digest, const char *index_digest,
                const char *ref, const struct buf *top, const struct buf *manifest_text, const struct buf *config_text)
{
    if (o->raw) {
        fwrite(top->data, 1, top->len, stdout);
        return 0;
    }
    struct arena arena;
    arena_init(&arena, 1 << 16, 64u << 20);
    struct json_value *manifest = NULL, *config = NULL;
    int rc = json_parse(&manifest, &arena, manifest_text->data, manifest_text->len, "manifest");
    rc = rc ? rc : json_parse(&config, &arena, config_text->data, config_text->len, "config");
    if (!rc && o->json)
        rc = print_json(target, digest, index_digest, ref, manifest_text, config_text);
    else if (!rc)
        print_text(target, digest, index_digest, ref, manifest, config);
    arena_release(&arena);
    return rc;
}

static int inspect_registry(const struct inspect_options *o, const char *target, const char *ref_text)
{
    struct reference ref;
    int rc = reference_parse(&ref, ref_text);
    if (rc)
        return rc;
    struct registry *reg = NULL;
    struct registry_inspect ri;
    registry_inspect_init(&ri);
    if (!(rc = registry_open(&reg, ref.registry, &o->reg)) &&
        !(rc = registry_inspect_fetch(&ri, reg, ref.repository, reference_manifest_id(&ref),
                                      o->platform ? o->platform : "linux/amd64", o->raw))) {
        char name[700];
        reference_format(name, sizeof name, &ref);
        rc = show(o, target, ri.digest[0] ? ri.digest : ri.top_digest, ri.top_is_index ? ri.top_digest : NULL, name,
                  &ri.top, &ri.manifest, &ri.config);
    }
    registry_inspect_release(&ri);
    registry_free(reg);
    return rc;
}

static int inspect_local(const struct inspect_options *o, const char *target)
{
    struct image_source *src = NULL;
    struct buf manifest_text, config_text;
    buf_init(&manifest_text, BLOB_LIMIT);
    buf_init(&config_text, BLOB_LIMIT);
    struct arena arena;
    arena_init(&arena, 1 << 16, 64u << 20);
    char digest[72], media_type[256], ref[256];
    int64_t size;
    struct json_value *manifest = NULL;
    int rc = image_source_open(&src, target);
    rc = rc ? rc : image_source_top(src, digest, media_type, &size, ref);
    rc = rc ? rc : image_source_read_blob(src, &manifest_text, digest);
    if (rc || o->raw)
        goto done;
    /* An index (several platforms) is resolved to --platform, as for a registry: the index's bytes stay the
     * top document, the platform's manifest is shown. */
    char index_digest[72] = "";
    struct buf index_text;
    buf_init(&index_text, BLOB_LIMIT);
    if (strstr(media_type, "index")) {
        char child[72];
        const char *platform = o->platform ? o->platform : "linux/amd64";
        struct buf swap = index_text; /* the index's bytes become the top document */
        index_text = manifest_text;
        manifest_text = swap;
        snprintf(index_digest, sizeof index_digest, "%s", digest);
        rc = registry_inspect_pick_platform(child, &index_text, platform, target);
        rc = rc ? rc : image_source_read_blob(src, &manifest_text, child);
        if (!rc)
            snprintf(digest, sizeof digest, "%s", child);
    }
    rc = rc ? rc : json_parse(&manifest, &arena, manifest_text.data, manifest_text.len, "manifest");
    if (!rc && json_member(manifest, "manifests"))
        rc = err_set(ERR_UNSUPPORTED, "%s: the index entry for %s is itself an index", target,
                     o->platform ? o->platform : "linux/amd64");
    const char *config_digest = rc ? NULL : str_member(json_member(manifest, "config"), "digest");
    if (!rc && !config_digest)
        rc = err_set(ERR_PARSE, "%s: the manifest names no config", target);
    rc = rc ? rc : image_source_read_blob(src, &config_text, config_digest);
    if (!rc)
        rc = show(o, target, digest, index_digest[0] ? index_digest : NULL, ref,
                  index_digest[0] ? &index_text : &manifest_text, &manifest_text, &config_text);
    buf_release(&index_text);
done:
    if (!rc && o->raw)
        rc = show(o, target, digest, NULL, ref, &manifest_text, &manifest_text, &config_text);
    arena_release(&arena);
    buf_release(&manifest_text);
    buf_release(&config_text);
    image_source_free(src);
    return rc;
}

int cmd_inspect(int argc, char **argv)
{
    static const struct option long_opts[] = {{"creds", required_argument, NULL, 0x100},
                                              {"insecure", no_argument, NULL, 0x101},
                                              {"ca-cert", required_argument, NULL, 0x102},
                                              {"json", no_argument, NULL, 0x103},
                                              {"authfile", required_argument, NULL, 0x104},
                                              {"platform", required_argument, NULL, 0x110},
                                              {"raw", no_argument, NULL, 0x111},
                                              {"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    struct transfer_cli t = {.reg.op = "inspect"};
    struct inspect_options o = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c >= 0x100 && c <= 0x104 && transfer_cli_option(&t, c, optarg, "inspect") == 1)
            continue;
        if (c == 0x110) {
            if (!strchr(optarg, '/')) {
                fprintf(stderr, "amlpkg inspect: --platform '%s': expected os/arch[/variant]\n", optarg);
                return EXIT_USAGE;
            }
            o.platform = optarg;
        } else if (c == 0x111) {
            o.raw = 1;
        } else if (c == 'h') {
            fputs(inspect_usage, stdout);
            return EXIT_OK;
        } else {
            return cmd_usage_error(inspect_usage);
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "amlpkg inspect: expected one TARGET\n");
        return cmd_usage_error(inspect_usage);
    }
    o.json = t.json;
    o.reg = t.reg;
    const char *target = argv[optind];
    struct image_location loc;
    int rc = image_location_parse(&loc, target);
    rc = rc ? rc : image_location_resolve(&loc, target);
    if (!rc)
        rc = loc.transport == IMAGE_REGISTRY ? inspect_registry(&o, target, loc.rest) : inspect_local(&o, target);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
