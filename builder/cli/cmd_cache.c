/* amlpkg cache ls|stats|verify|gc|add: the local environment cache. */
#include "cache/cache.h"
#include "builder/cli/commands.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/json.h"
#include "common/parse_number.h"
#include "builder/image/image_source.h"

#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char cache_usage[] =
    "usage: amlpkg cache [--dir DIR] COMMAND [options]\n"
    "\n"
    "The local cache of environment images, by environment key (see 'amlpkg hash').\n"
    "DIR defaults to $AMLPKG_CACHE_DIR, else $XDG_CACHE_HOME/amlpkg, else ~/.cache/amlpkg.\n"
    "\n"
    "commands:\n"
    "  ls                 list environment entries, most recently used first (--all: and the\n"
    "                     compressed layers kept by content)\n"
    "  stats              count entries and blobs, and their bytes\n"
    "  verify             re-hash every blob; drop corrupt or missing ones and the entries that\n"
    "                     need them (exit 1 when any were found)\n"
    "  gc                 remove blobs no entry needs (and entries with --older-than)\n"
    "  add KEY IMAGE      record an oci-archive or OCI layout as the image for KEY\n"
    "  rm KEY             forget the entry for KEY (gc frees the blobs only it needed)\n"
    "\n"
    "options:\n"
    "  --dir DIR          the cache directory\n"
    "  --json             machine-readable output\n"
    "  --all              ls: list layer entries too\n"
    "  --older-than DAYS  gc: also drop entries not used for DAYS days (a number, may be 0)\n"
    "  --max-size SIZE    gc: then drop least recently used entries until the rest need at most\n"
    "                     SIZE bytes (suffixes K, M, G)\n"
    "  --grace SECONDS    gc: keep unreferenced blobs younger than this (default 3600), since\n"
    "                     they may belong to a build that has not recorded its entry yet; a\n"
    "                     shorter grace applies only while no other amlpkg uses the cache\n"
    "  --name NAME        add: the image name (default azureml/azureml_<KEY>)\n"
    "  -h, --help         show this help\n";

struct cache_cli {
    const char *dir;
    int json;
    double older_than_days; /* < 0: none */
    long long max_size;     /* < 0: none */
    long long grace;
    const char *name;
    int all;
};

static void print_json_string(const char *s)
{
    struct buf b;
    buf_init(&b, 0);
    if (json_write_string(&b, s, strlen(s)) == 0)
        fwrite(b.data, 1, b.len, stdout);
    buf_release(&b);
}

static void human_size(char *out, size_t n, int64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, n, "%lld B", (long long)bytes);
    else
        snprintf(out, n, "%.1f %s", v, units[u]);
}

static void utc(char *out, size_t n, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, n, "%lld", (long long)t);
}

static int do_ls(struct cache *c, const struct cache_cli *o)
{
    struct cache_entry *list = NULL;
    size_t n = 0;
    int rc = cache_list(c, &list, &n);
    if (rc)
        return rc;
    size_t shown = 0;
    if (o->json)
        printf("[");
    for (size_t i = 0; i < n; i++) {
        const struct cache_entry *e = &list[i];
        if (!o->all && strcmp(e->kind, "environment"))
            continue;
        if (o->json) {
            printf("%s{\"key\":\"%s\",\"kind\":\"%s\",\"manifest\":\"%s\",\"image\":", shown ? "," : "", e->key,
                   e->kind, e->manifest_digest);
            print_json_string(e->image_name);
            printf(",\"size\":%lld,\"created\":%lld,\"last_used\":%lld,\"hits\":%lld}", (long long)e->size,
                   (long long)e->created, (long long)e->last_used, (long long)e->hits);
        } else {
            if (!shown)
                printf("%-64s  %-11s  %10s  %5s  %-20s  %s\n", "KEY", "KIND", "SIZE", "HITS", "LAST USED", "IMAGE");
            char size[32], when[32];
            human_size(size, sizeof size, e->size);
            utc(when, sizeof when, e->last_used);
            printf("%-64s  %-11s  %10s  %5lld  %-20s  %s\n", e->key, e->kind, size, (long long)e->hits, when,
                   e->image_name);
        }
        shown++;
    }
    if (o->json)
        printf("]\n");
    free(list);
    return 0;
}

static int do_stats(struct cache *c, const struct cache_cli *o)
{
    struct cache_stats s;
    int rc = cache_stats(c, &s);
    if (rc)
        return rc;
    if (o->json) {
        printf("{\"dir\":");
        print_json_string(cache_dir(c));
        printf(",\"schema\":%d,\"entries\":%lld,\"layers\":%lld,\"blobs\":%lld,\"blob_bytes\":%lld,"
               "\"entry_bytes\":%lld,\"hits\":%lld}\n",
               s.schema, (long long)s.entries, (long long)s.layers, (long long)s.blobs, (long long)s.blob_bytes,
               (long long)s.entry_bytes, (long long)s.hits);
        return 0;
    }
    char size[32];
    human_size(size, sizeof size, s.blob_bytes);
    printf("cache:   %s (index schema %d)\nentries: %lld environments (%lld hits), %lld layers\nblobs:   %lld (%s)\n",
           cache_dir(c), s.schema, (long long)s.entries, (long long)s.hits, (long long)s.layers, (long long)s.blobs,
           size);
    return 0;
}

static void print_report(const struct cache_report *r, const struct cache_cli *o, int verify)
{
    if (o->json) {
        printf("{");
        if (verify)
            printf("\"checked\":%zu,\"corrupt\":%zu,\"missing\":%zu,", r->checked, r->corrupt, r->missing);
        printf("\"entries_removed\":%zu,\"blobs_removed\":%zu,\"temp_removed\":%zu,\"bytes_freed\":%lld",
               r->entries_removed, r->blobs_removed, r->temp_removed, (long long)r->bytes_freed);
        if (!verify)
            printf(",\"grace_kept\":%s", r->grace_kept ? "true" : "false");
        if (verify) {
            printf(",\"problems\":[");
            for (size_t i = 0; i < r->n_problems; i++)
                printf("%s{\"digest\":\"%s\",\"problem\":\"%s\"}", i ? "," : "", r->problems[i].digest,
                       r->problems[i].what);
            printf("]");
        }
        printf("}\n");
        return;
    }
    char size[32];
    human_size(size, sizeof size, r->bytes_freed);
    if (verify) {
        for (size_t i = 0; i < r->n_problems; i++)
            printf("%s: %s, removed\n", r->problems[i].digest, r->problems[i].what);
        printf("checked %zu blobs: %zu corrupt, %zu missing; removed %zu entries, %zu blobs (%s)\n", r->checked,
               r->corrupt, r->missing, r->entries_removed, r->blobs_removed, size);
    } else {
        printf("removed %zu entries, %zu blobs, %zu temporary files; freed %s\n", r->entries_removed, r->blobs_removed,
               r->temp_removed, size);
        if (r->grace_kept)
            printf("other amlpkg processes are using the cache: kept unreferenced blobs younger than %d s\n",
                   CACHE_GC_GRACE_SECONDS);
    }
}

/* Every blob of the layout goes in (an amlpkg image layout holds one image),
 * then the top manifest is recorded under key. */
static int do_add(struct cache *c, const struct cache_cli *o, const char *key, const char *image)
{
    struct image_source *src = NULL;
    char *blobs = NULL;
    DIR *d = NULL;
    int rc = image_source_open(&src, image);
    if (rc)
        goto done;
    char top[72], media_type[256], ref_name[256];
    int64_t top_size = 0;
    if ((rc = image_source_top(src, top, media_type, &top_size, ref_name)) || (rc = image_source_fetch_all(src)))
        goto done;
    size_t n = strlen(src->root) + 16;
    if (!(blobs = malloc(n))) {
        rc = err_set(ERR_NOMEM, "out of memory");
        goto done;
    }
    snprintf(blobs, n, "%s/blobs/sha256", src->root);
    if (!(d = opendir(blobs))) {
        rc = err_set_errno(ERR_IO, "%s: cannot list the image's blobs", image);
        goto done;
    }
    struct dirent *e;
    size_t added = 0;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char want[80], got[CACHE_DIGEST_SIZE];
        snprintf(want, sizeof want, "sha256:%.64s", e->d_name);
        char *path = image_source_blob_path(src, want);
        if (!path || strlen(e->d_name) != 64) {
            free(path);
            continue;
        }
        rc = cache_put_blob(c, path, got);
        free(path);
        if (!rc && strcmp(got, want))
            rc = err_set(ERR_MISMATCH, "%s: blob %s has digest %s; the image is corrupt", image, want, got);
        added += !rc;
    }
    if (rc)
        goto done;
    char name[256];
    if (o->name)
        snprintf(name, sizeof name, "%s", o->name);
    else
        snprintf(name, sizeof name, "azureml/azureml_%s", key);
    if ((rc = cache_record(c, key, top, name)))
        goto done;
    if (o->json) {
        printf("{\"key\":\"%s\",\"manifest\":\"%s\",\"image\":", key, top);
        print_json_string(name);
        printf(",\"blobs\":%zu}\n", added);
    } else {
        printf("cached %s as %s (%zu blobs, manifest %s)\n", image, key, added, top);
    }
done:
    if (d)
        closedir(d);
    free(blobs);
    image_source_free(src);
    return rc;
}

int cmd_cache(int argc, char **argv)
{
    enum { OPT_DIR = 256, OPT_JSON, OPT_OLDER, OPT_GRACE, OPT_NAME, OPT_MAX_SIZE, OPT_ALL };
    static const struct option long_opts[] = {{"dir", required_argument, NULL, OPT_DIR},
                                              {"json", no_argument, NULL, OPT_JSON},
                                              {"older-than", required_argument, NULL, OPT_OLDER},
                                              {"grace", required_argument, NULL, OPT_GRACE},
                                              {"name", required_argument, NULL, OPT_NAME},
                                              {"help", no_argument, NULL, 'h'},
                                              {"max-size", required_argument, NULL, OPT_MAX_SIZE},
                                              {"all", no_argument, NULL, OPT_ALL},
                                              {NULL, 0, NULL, 0}};
    struct cache_cli o = {.older_than_days = -1, .grace = CACHE_GC_GRACE_SECONDS, .max_size = -1};
    optind = 1;
    int c, rc = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_DIR: o.dir = optarg; break;
        case OPT_JSON: o.json = 1; break;
        case OPT_ALL: o.all = 1; break;
        case OPT_NAME: o.name = optarg; break;
        case OPT_OLDER: rc = parse_number_double(&o.older_than_days, "--older-than", optarg, 0, 1e6); break;
        case OPT_GRACE: rc = parse_number_int(&o.grace, "--grace", optarg, 0, LLONG_MAX); break;
        case OPT_MAX_SIZE: rc = parse_number_size(&o.max_size, "--max-size", optarg, 9000000000000000000LL); break;
        case 'h': fputs(cache_usage, stdout); return EXIT_OK;
        default: return cmd_usage_error(cache_usage);
        }
        if (rc) {
            fprintf(stderr, "amlpkg cache: %s\n", err_message(rc));
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "amlpkg cache: expected a command\n");
        return cmd_usage_error(cache_usage);
    }
    const char *verb = argv[optind];
    int nargs = argc - optind - 1;
    static const char *const verbs[] = {"ls", "stats", "verify", "gc", "add", "rm", NULL};
    int known = 0;
    for (size_t i = 0; verbs[i]; i++)
        known |= !strcmp(verbs[i], verb);
    if (!known) {
        fprintf(stderr, "amlpkg cache: unknown command '%s'\n%s", verb, cache_usage);
        return EXIT_USAGE;
    }
    int want = !strcmp(verb, "add") ? 2 : !strcmp(verb, "rm") ? 1 : 0;
    if (nargs != want) {
        fprintf(stderr, "amlpkg cache %s: wrong number of arguments\n%s", verb, cache_usage);
        return EXIT_USAGE;
    }
    if ((o.older_than_days >= 0 || o.grace != CACHE_GC_GRACE_SECONDS || o.max_size >= 0) && strcmp(verb, "gc")) {
        fprintf(stderr, "amlpkg cache %s: --older-than, --max-size and --grace are gc options\n", verb);
        return EXIT_USAGE;
    }
    struct cache *cache = NULL;
    struct cache_report report = {0};
    int exit_code = EXIT_OK;
    rc = cache_open(&cache, o.dir);
    int reading = !strcmp(verb, "ls") || !strcmp(verb, "stats");
    if (rc && reading && o.dir) {
        /* A shared global cache on a read-only mount can still be listed. */
        err_clear();
        rc = cache_open_readonly(&cache, o.dir);
    }
    if (rc)
        goto done;
    if (!strcmp(verb, "ls")) {
        rc = do_ls(cache, &o);
    } else if (!strcmp(verb, "stats")) {
        rc = do_stats(cache, &o);
    } else if (!strcmp(verb, "verify")) {
        if (!(rc = cache_verify(cache, &report))) {
            print_report(&report, &o, 1);
            if (report.corrupt || report.missing)
                exit_code = EXIT_FAIL;
        }
    } else if (!strcmp(verb, "gc")) {
        int64_t older = o.older_than_days < 0 ? -1 : (int64_t)(o.older_than_days * 86400.0);
        rc = cache_gc(cache, older, o.grace, &report);
        if (!rc && o.max_size >= 0) {
            struct cache_report trimmed = {0};
            rc = cache_trim(cache, o.max_size, o.grace, &trimmed);
            report.entries_removed += trimmed.entries_removed;
            report.blobs_removed += trimmed.blobs_removed;
            report.bytes_freed += trimmed.bytes_freed;
            report.temp_removed += trimmed.temp_removed;
            cache_report_release(&trimmed);
        }
        if (!rc)
            print_report(&report, &o, 0);
    } else if (!strcmp(verb, "rm")) {
        if (!(rc = cache_remove(cache, argv[optind + 1])) && !o.json)
            printf("removed %s (amlpkg cache gc frees its blobs)\n", argv[optind + 1]);
        else if (!rc)
            printf("{\"removed\":\"%s\"}\n", argv[optind + 1]);
    } else {
        rc = do_add(cache, &o, argv[optind + 1], argv[optind + 2]);
    }
done:
    cache_report_release(&report);
    cache_close(cache);
    return rc ? cmd_report_error(rc) : exit_code;
}
