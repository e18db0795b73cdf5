/* amlpkg copy SRC DST: registry to registry, mounting blobs when both are the same registry. */
#include "builder/cli/commands.h"
#include "common/err.h"
#include "builder/cli/transfer_cli.h"
#include "builder/trust/trust_carry.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char copy_usage[] =
    "usage: amlpkg copy SRC-REF DST-REF [options]\n"
    "\n"
    "Copies an image (a manifest, or an index with all its manifests) between repositories.\n"
    "Within one registry blobs are mounted, not transferred; blobs the destination has are skipped.\n"
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
    struct reference src, dst;
    struct registry *sreg = NULL, *dreg = NULL;
    struct image_transfer x = {.jobs = t.jobs, .tty = isatty(2) && !t.json};
    int rc = reference_parse(&src, argv[optind]);
    if (!rc)
        rc = reference_parse(&dst, argv[optind + 1]);
    if (rc) {
        fprintf(stderr, "amlpkg copy: %s\n", err_message(rc));
        return EXIT_USAGE;
    }
    struct registry_options so = t.reg;
    if (t.src_creds)
        so.creds = t.src_creds;
    if ((rc = registry_open(&dreg, dst.registry, &t.reg)))
        goto done;
    int same = !strcmp(src.registry, dst.registry) && !t.src_creds;
    if (!same && (rc = registry_open(&sreg, src.registry, &so)))
        goto done;
    if ((rc = registry_image_copy(same ? dreg : sreg, src.repository, reference_manifest_id(&src), dreg, dst.repository,
                                  dst.tag[0] ? dst.tag : NULL, &x)))
        goto done;
    struct trust_carried carried;
    if ((rc = trust_carry_copy(&carried, same ? dreg : sreg, src.repository, x.digest, dreg, dst.repository, t.jobs)))
        goto done;
    char a[700], b[700];
    reference_format(a, sizeof a, &src);
    reference_format(b, sizeof b, &dst);
    transfer_cli_report(&t, "copied", a, b, &x);
    if ((carried.signature_tags || carried.referrers) && !t.json)
        fprintf(stderr, "copied its signatures and attestations: %d signature tag%s, %d referrer%s\n",
                carried.signature_tags, carried.signature_tags == 1 ? "" : "s", carried.referrers,
                carried.referrers == 1 ? "" : "s");
done:
    registry_free(sreg);
    registry_free(dreg);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
