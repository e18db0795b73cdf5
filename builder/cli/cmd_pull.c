/* amlpkg pull REF -o OUT.tar: a registry image to an oci-archive. */
#include "builder/cli/commands.h"
#include "common/err.h"
#include "builder/registry/registry_referrers.h"
#include "builder/image/sbom.h"
#include "builder/cli/transfer_cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char pull_usage[] =
    "usage: amlpkg pull [docker://]REF -o OUT.tar [options]\n"
    "\n"
    "Downloads an image into an oci-archive (podman load / skopeo read it). Every byte is\n"
    "SHA-256-verified before it is kept; a failed pull leaves nothing behind.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE      the oci-archive to write (required; oci-archive:FILE too)\n"
    "      --format FORMAT    oci-archive (the only format of this version)\n"
    "      --platform OS/ARCH image to take from a multi-platform index (default linux/<this host>)\n"
    "      --sbom FILE        also fetch the image's SPDX SBOM (the artifact whose subject is the image,\n"
    "                         found through the referrers API or the sha256-<hex> referrers tag)\n" TRANSFER_CLI_HELP;

int cmd_pull(int argc, char **argv)
{
    static const struct option long_opts[] = {
        TRANSFER_CLI_OPTIONS,
        {"output", required_argument, NULL, 'o'},
        {"platform", required_argument, NULL, 0x200},
        {"format", required_argument, NULL, 0x201},
        {"sbom", required_argument, NULL, 0x202},
        {NULL, 0, NULL, 0},
    };
    struct transfer_cli t = {.jobs = 4, .reg.op = "pull"};
    const char *sbom_path = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "o:j:h", long_opts, NULL)) != -1) {
        int r = transfer_cli_option(&t, c, optarg, "pull");
        if (r == EXIT_USAGE)
            return EXIT_USAGE;
        if (r)
            continue;
        if (c == 'o') {
            t.output = optarg;
        } else if (c == 0x200) {
            t.platform = optarg;
        } else if (c == 0x202) {
            sbom_path = optarg;
        } else if (c == 0x201) {
            if (strcmp(optarg, "oci-archive")) {
                fprintf(stderr, "amlpkg pull: --format '%s' is not supported (this version writes oci-archive)\n",
                        optarg);
                return EXIT_USAGE;
            }
        } else if (c == 'h') {
            fputs(pull_usage, stdout);
            return EXIT_OK;
        } else {
            return cmd_usage_error(pull_usage);
        }
    }
    if (optind != argc - 1 || !t.output) {
        fprintf(stderr, "amlpkg pull: expected REF and -o OUT.tar\n");
        return cmd_usage_error(pull_usage);
    }
    if (t.platform && !strchr(t.platform, '/')) {
        fprintf(stderr, "amlpkg pull: --platform '%s': expected os/arch[/variant]\n", t.platform);
        return EXIT_USAGE;
    }
    const char *ref_text = argv[optind];
    struct reference ref;
    struct registry *reg = NULL;
    struct image_transfer x = {.jobs = t.jobs, .tty = isatty(2) && !t.json, .platform = t.platform};
    int rc = reference_parse(&ref, ref_text);
    if (rc) {
        fprintf(stderr, "amlpkg pull: %s\n", err_message(rc));
        return EXIT_USAGE;
    }
    const char *out_path = NULL;
    if ((rc = transfer_cli_archive_output(&out_path, t.output, "pull"))) {
        fprintf(stderr, "amlpkg pull: %s\n", err_message(rc));
        return EXIT_USAGE;
    }
    char name[700];
    snprintf(name, sizeof name, "%s/%s%s%s", ref.registry, ref.repository, ref.tag[0] ? ":" : "", ref.tag);
    if ((rc = registry_open(&reg, ref.registry, &t.reg)) ||
        (rc = registry_image_pull(reg, ref.repository, reference_manifest_id(&ref), out_path, name, &x)))
        goto done;
    char src[700], sbom_digest[72] = "";
    struct registry_conn *conn = NULL;
    if (sbom_path && !(rc = registry_conn_new(&conn, reg)))
        rc = registry_referrer_pull_file(conn, sbom_digest, ref.repository, x.digest, SBOM_ARTIFACT_TYPE, sbom_path);
    registry_conn_free(conn);
    if (rc)
        goto done;
    reference_format(src, sizeof src, &ref);
    if (sbom_digest[0] && !t.json) /* before the report: its last line is the image digest */
        printf("sbom %s -> %s\n", sbom_digest, sbom_path);
    transfer_cli_report(&t, "pulled", src, out_path, &x);
done:
    registry_free(reg);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
