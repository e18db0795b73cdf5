/* amlpkg push SOURCE REF: an oci-archive, OCI layout or docker-archive to a registry. */
#include "builder/cli/commands.h"
#include "common/err.h"
#include "builder/image/image_source.h"
#include "builder/cli/transfer_cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char push_usage[] =
    "usage: amlpkg push SOURCE REF [options]\n"
    "\n"
    "Uploads an image to a registry. SOURCE is an oci-archive (what amlpkg build writes), an OCI\n"
    "layout directory (DIR:NAME:TAG picks one image of several) or a docker-archive (amlpkg build's\n"
    "and Docker 25's keep their OCI manifest, so the digest build printed is pushed; an older docker\n"
    "save's or podman save's layers go as the archive holds them, under a new OCI manifest), with or\n"
    "without skopeo's transport (oci-archive:PATH, oci:DIR[:TAG], docker-archive:PATH), or an image in a\n"
    "registry (docker://REF: copied as `amlpkg copy` does).\n"
    "REF is [docker://]registry/repository[:tag] (Docker Hub when there is no registry).\n"
    "Blobs the registry already has are skipped. What amlpkg sign and build --sign kept in an\n"
    "oci-archive or layout goes too: the cosign signature manifest under its sha256-<digest>.sig tag,\n"
    "provenance and sigstore bundles as referrers of the image (amlpkg verify REF --key finds them).\n"
    "The last line printed is the image's digest.\n"
    "\n"
    "options:\n" TRANSFER_CLI_HELP;

int cmd_push(int argc, char **argv)
{
    static const struct option long_opts[] = {TRANSFER_CLI_OPTIONS, {NULL, 0, NULL, 0}};
    struct transfer_cli t = {.jobs = 4, .reg.op = "push"};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "j:h", long_opts, NULL)) != -1) {
        int r = transfer_cli_option(&t, c, optarg, "push");
        if (r == EXIT_USAGE)
            return EXIT_USAGE;
        if (r)
            continue;
        if (c == 'h') {
            fputs(push_usage, stdout);
            return EXIT_OK;
        }
        return cmd_usage_error(push_usage);
    }
    if (optind != argc - 2) {
        fprintf(stderr, "amlpkg push: expected SOURCE and REF\n");
        return cmd_usage_error(push_usage);
    }
    const char *source = argv[optind], *ref_text = argv[optind + 1];
    struct reference ref, from;
    struct registry *reg = NULL;
    struct image_transfer x = {.jobs = t.jobs, .tty = isatty(2) && !t.json};
    struct image_location loc;
    int rc = reference_parse(&ref, ref_text);
    if (rc) {
        fprintf(stderr, "amlpkg push: %s\n", err_message(rc));
        return EXIT_USAGE;
    }
    if ((rc = image_location_parse(&loc, source)) || (rc = image_location_resolve(&loc, source)))
        goto done;
    struct trust_carried carried;
    if (loc.transport == IMAGE_REGISTRY) {
        /* A registry source: what skopeo copy docker://A docker://B does. */
        if ((rc = reference_parse(&from, loc.rest)) ||
            (rc = transfer_cli_copy_registry(&t, &from, &ref, &x, &carried)))
            goto done;
        if (ref.digest[0] && strcmp(ref.digest, x.digest)) {
            rc = err_set(ERR_MISMATCH, "push %s: the image's digest is %s, not %s", ref_text, x.digest, ref.digest);
            goto done;
        }
    } else if ((rc = transfer_cli_push_image(&reg, &x, &ref, ref_text, source, &t.reg, &carried))) {
        goto done;
    }
    char dst[700];
    reference_format(dst, sizeof dst, &ref);
    transfer_cli_report(&t, "pushed", source, dst, &x);
    transfer_cli_report_carried(&t, "pushed", &carried);
done:
    registry_free(reg);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
