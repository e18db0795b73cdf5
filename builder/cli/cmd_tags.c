/* amlpkg tags REPO: the tags of a registry repository. */
#include "builder/cli/commands.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/parse_number.h"
#include "common/json.h"
#include "builder/image/reference.h"
#include "builder/registry/registry.h"
#include "builder/registry/registry_blob.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char tags_usage[] =
    "usage: amlpkg tags REPO [options]\n"
    "\n"
    "Lists the tags of a repository (registry/repository, no tag), one per line, in the registry's\n"
    "order, following its pagination.\n"
    "\n"
    "options:\n"
    "      --creds USER:PASS  registry credentials (else as for `amlpkg push --help`)\n"
    "      --authfile FILE    the primary auth file, as podman's and skopeo's --authfile\n"
    "      --insecure         allow plain HTTP and unverified TLS (localhost may always use HTTP)\n"
    "      --ca-cert FILE     trust this PEM CA bundle for TLS\n"
    "      --page-size N      tags per request (default: the registry's)\n"
    "      --json             print {\"repository\": ..., \"tags\": [...]}\n"
    "  -h, --help             show this help\n";

int cmd_tags(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"creds", required_argument, NULL, 0x100},
        {"insecure", no_argument, NULL, 0x101},
        {"ca-cert", required_argument, NULL, 0x102},
        {"json", no_argument, NULL, 0x103},
        {"page-size", required_argument, NULL, 0x104},
        {"authfile", required_argument, NULL, 0x105},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct registry_options opt = {.op = "tags"};
    int json = 0;
    long page_size = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case 0x100: opt.creds = optarg; break;
        case 0x101: opt.insecure = 1; break;
        case 0x102: opt.ca_cert = optarg; break;
        case 0x103: json = 1; break;
        case 0x105: opt.authfile = optarg; break;
        case 0x104: {
            long long v;
            int rc = parse_number_int(&v, "--page-size", optarg, 1, 100000);
            if (rc) {
                fprintf(stderr, "amlpkg tags: %s\n", err_message(rc));
                return EXIT_USAGE;
            }
            page_size = (long)v;
            break;
        }
        case 'h': fputs(tags_usage, stdout); return EXIT_OK;
        default: return cmd_usage_error(tags_usage);
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "amlpkg tags: expected REPO\n");
        return cmd_usage_error(tags_usage);
    }
    const char *text = argv[optind];
    const char *last = strrchr(text, '/');
    if (strchr(text, '@') || (last && strchr(last, ':'))) {
        fprintf(stderr, "amlpkg tags: '%s': expected a repository without a tag or digest\n", text);
        return EXIT_USAGE;
    }
    struct reference ref;
    int rc = reference_parse(&ref, text);
    if (rc) {
        fprintf(stderr, "amlpkg tags: %s\n", err_message(rc));
        return EXIT_USAGE;
    }
    struct registry *reg = NULL;
    struct registry_conn *conn = NULL;
    char **tags = NULL;
    size_t n = 0;
    if ((rc = registry_open(&reg, ref.registry, &opt)) || (rc = registry_conn_new(&conn, reg)) ||
        (rc = registry_tags_list(conn, &tags, &n, ref.repository, page_size)))
        goto done;
    if (json) {
        struct buf b;
        buf_init(&b, 0);
        char name[600];
        snprintf(name, sizeof name, "%s/%s", ref.registry, ref.repository);
        buf_append_str(&b, "{\"repository\":");
        json_write_string(&b, name, strlen(name));
        buf_append_str(&b, ",\"tags\":[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                buf_append_str(&b, ",");
            json_write_string(&b, tags[i], strlen(tags[i]));
        }
        buf_append_str(&b, "]}\n");
        fputs(b.data, stdout);
        buf_release(&b);
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", tags[i]);
    }
done:
    registry_tags_free(tags, n);
    registry_conn_free(conn);
    registry_free(reg);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
