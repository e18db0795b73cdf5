/* amlpkg inspect TARGET: what is in an image archive or OCI layout — manifest
 * digest, config (entrypoint, environment, labels, the environment key) and
 * each layer with its size, media type and what it holds (from the history
 * amlpkg writes: runtime, app, which model). */
#include "builder/cli/commands.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "builder/image/image_source.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char inspect_usage[] =
    "usage: amlpkg inspect TARGET [--json]\n"
    "\n"
    "Shows an image: TARGET is an oci-archive (what amlpkg build writes), a docker-archive or an OCI\n"
    "layout folder; the digest is the one build printed, whichever format it wrote.\n"
    "Every blob read is checked against its digest.\n"
    "\n"
    "options:\n"
    "      --json   print one JSON object (digest, config, layers with history, labels)\n"
    "  -h, --help   show this help\n";

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

static void print_text(const char *target, const char *digest, const char *ref, const struct json_value *manifest,
                       const struct json_value *config)
{
    const struct json_value *cfg = json_member(config, "config");
    printf("image       %s\n", ref[0] ? ref : "(unnamed)");
    printf("source      %s\n", target);
    printf("digest      %s\n", digest);
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

static int print_json(const char *target, const char *digest, const char *ref, const struct buf *manifest_text,
                      const struct buf *config_text)
{
    struct buf b;
    buf_init(&b, 0);
    int rc = buf_append_str(&b, "{\"source\":");
    rc = rc ? rc : json_write_string(&b, target, strlen(target));
    rc = rc ? rc : buf_append_str(&b, ",\"image\":");
    rc = rc ? rc : json_write_string(&b, ref, strlen(ref));
    rc = rc ? rc : buf_appendf(&b, ",\"digest\":\"%s\",\"manifest\":", digest);
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

int cmd_inspect(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else if (c == 'h') {
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
    const char *target = argv[optind];
    struct image_source *src = NULL;
    struct buf manifest_text, config_text;
    buf_init(&manifest_text, BLOB_LIMIT);
    buf_init(&config_text, BLOB_LIMIT);
    struct arena arena;
    arena_init(&arena, 1 << 16, 64u << 20);
    char digest[72], media_type[256], ref[256];
    int64_t size;
    struct json_value *manifest = NULL, *config = NULL;
    int rc = image_source_open(&src, target);
    rc = rc ? rc : image_source_top(src, digest, media_type, &size, ref);
    rc = rc ? rc : image_source_read_blob(src, &manifest_text, digest);
    rc = rc ? rc : json_parse(&manifest, &arena, manifest_text.data, manifest_text.len, "manifest");
    if (!rc && strstr(media_type, "index")) {
        rc = err_set(ERR_UNSUPPORTED, "%s: the image is an index (several platforms); inspect one of its manifests",
                     target);
        goto done;
    }
    const char *config_digest = rc ? NULL : str_member(json_member(manifest, "config"), "digest");
    if (!rc && !config_digest)
        rc = err_set(ERR_PARSE, "%s: the manifest names no config", target);
    rc = rc ? rc : image_source_read_blob(src, &config_text, config_digest);
    rc = rc ? rc : json_parse(&config, &arena, config_text.data, config_text.len, "config");
    if (rc)
        goto done;
    if (json)
        rc = print_json(target, digest, ref, &manifest_text, &config_text);
    else
        print_text(target, digest, ref, manifest, config);
done:
    arena_release(&arena);
    buf_release(&manifest_text);
    buf_release(&config_text);
    image_source_free(src);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
