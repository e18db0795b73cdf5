/* amlpkg copy SRC DST: registry to registry, mounting blobs when both are the same registry;
 * a local SRC is a push, an oci-archive: DST a pull. */
#include "builder/cli/commands.h"
#include "common/err.h"
#include "builder/cli/transfer_cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char copy_usage[] =
    "usage: amlpkg copy SRC DST [options]\n"
    "\n"
    "Copies an image (a manifest, or an index with all its manifests) between repositories.\n"
    "Within one registry blobs are mounted, not transferred; blobs the destination has are skipped.\n"
    "SRC and DST are registry references ([docker://]registry/repo[:tag]); one of them may be local\n"
    "instead, as skopeo writes it: SRC oci-archive:PATH, docker-archive:PATH, oci:DIR[:TAG] or an\n"
    "existing path (then copy is push), DST oci-archive:PATH (then copy is pull).\n"
    "The image's signatures and attestations come along (as cosign copy does): the sha256-<digest>.sig\n"
    "tag and every referrer of the image (sigstore bundles, provenance, the SBOM).\n"
    "\n"
    "options:\n"
    "      --src-creds USER:PASS  credentials for the source registry (default: as for the destination)\n" TRANSFER_CLI_HELP;

int cmd_copy(int argc, char **argv)
{
    static const struct option long_opts[] = {
        TRANSFER_CLI_OPTIONS,
        {"src-creds", required_argument, NULL, 0x200},
        {NULL, 0, NULL, 0},
    };
    struct transfer_cli t = {.jobs = 4, .reg.op = "copy"};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "j:h", long_opts, NULL)) != -1) {
        int r = transfer_cli_option(&t, c, optarg, "copy");
        if (r == EXIT_USAGE)
            return EXIT_USAGE;
        if (r)
            continue;
        if (c == 0x200) {
            t.src_creds = optarg;
        } else if (c == 'h') {
            fputs(copy_usage, stdout);
            return EXIT_OK;
        } else {
            return cmd_usage_error(copy_usage);
        }
    }
    if (optind != argc - 2) {
        fprintf(stderr, "amlpkg copy: expected SRC-REF and DST-REF\n");
        return cmd_usage_error(copy_usage);
    }
    const char *src_text = argv[optind], *dst_text = argv[optind + 1];
    struct reference src, dst;
    struct registry *reg = NULL;
    struct image_transfer x = {.jobs = t.jobs, .tty = isatty(2) && !t.json};
    struct image_location from, to;
    int rc = image_location_parse(&from, src_text);
    rc = rc ? rc : image_location_resolve(&from, src_text);
    if (rc == ERR_NOTFOUND && from.transport == IMAGE_UNSPECIFIED && reference_parse(&src, from.rest) == 0) {
        /* Not a path: any reference, Docker Hub's short names included, as copy always took. */
        err_clear();
        from.transport = IMAGE_REGISTRY;
        rc = 0;
    }
    rc = rc ? rc : image_location_parse(&to, dst_text);
    if (rc)
        goto done;
    /* A destination without a transport is a registry reference, as before transports. */
    int to_registry = to.transport == IMAGE_REGISTRY || to.transport == IMAGE_UNSPECIFIED;
    if (to_registry && (rc = reference_parse(&dst, to.rest))) {
        fprintf(stderr, "amlpkg copy: %s\n", err_message(rc));
        return EXIT_USAGE;
    }
    const char *out_path = NULL;
    if (from.transport == IMAGE_REGISTRY && (rc = reference_parse(&src, from.rest)))
        goto done;
    struct trust_carried carried = {0};
    if (from.transport == IMAGE_REGISTRY && to_registry) {
        rc = transfer_cli_copy_registry(&t, &src, &dst, &x, &carried);
    } else if (to_registry) {
        rc = transfer_cli_push_image(&reg, &x, &dst, dst_text, src_text, &t.reg, &carried);
    } else if (from.transport == IMAGE_REGISTRY) {
        if (!(rc = transfer_cli_archive_output(&out_path, dst_text, "copy")))
            rc = transfer_cli_pull_archive(&t, &src, out_path, &x);
    } else {
        rc = err_set(ERR_UNSUPPORTED, "copy %s %s: neither is a registry (convert local images with amlpkg build "
                                      "--format, or skopeo copy)",
                     src_text, dst_text);
    }
    if (rc)
        goto done;
    char a[700], b[700];
    if (from.transport == IMAGE_REGISTRY)
        reference_format(a, sizeof a, &src);
    else
        snprintf(a, sizeof a, "%s", src_text);
    if (to_registry)
        reference_format(b, sizeof b, &dst);
    else
        snprintf(b, sizeof b, "%s", dst_text);
    transfer_cli_report(&t, "copied", a, b, &x);
    transfer_cli_report_carried(&t, "copied", &carried);
done:
    registry_free(reg);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
