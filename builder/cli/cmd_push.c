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
    "layout directory (DIR:NAME:TAG picks one image of several) or a docker-archive (docker save,\n"
    "podman save --format docker-archive: its layers go as the archive holds them, under an OCI\n"
    "manifest), with or without skopeo's transport (oci-archive:PATH, oci:DIR[:TAG],\n"
    "docker-archive:PATH), or an image in a registry (docker://REF: copied as `amlpkg copy` does).\n"
    "REF is [docker://]registry/repository[:tag] (Docker Hub when there is no registry).\n"
    "Blobs the registry already has are skipped. The last line printed is the image's digest.\n"
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
    struct image_source *src = NULL;
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
    if (loc.transport == IMAGE_REGISTRY) {
        /* A registry source: what skopeo copy docker://A docker://B does. */
        if ((rc = reference_parse(&from, loc.rest)) || (rc = transfer_cli_copy_registry(&t, &from, &ref, &x)))
            goto done;
    } else {
        if ((rc = transfer_cli_open_push(&src, source, &reg, ref.registry, &t.reg)))
            goto done;
        if ((rc = registry_image_push(reg, ref.repository, ref.tag[0] ? ref.tag : NULL, src, &x)))
            goto done;
    }
    if (ref.digest[0] && strcmp(ref.digest, x.digest)) {
        rc = err_set(ERR_MISMATCH, "push %s: the image's digest is %s, not %s", ref_text, x.digest, ref.digest);
        goto done;
    }
    char dst[700];
    reference_format(dst, sizeof dst, &ref);
    transfer_cli_report(&t, "pushed", source, dst, &x);
done:
    registry_free(reg);
    image_source_free(src);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
