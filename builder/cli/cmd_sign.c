/* amlpkg sign TARGET --key KEY: a cosign signature of an image in a registry, a layout or an oci-archive. */
#include "builder/cli/commands.h"
#include "builder/cli/transfer_cli.h"
#include "builder/trust/trust_image.h"
#include "builder/trust/trust_key.h"
#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char sign_usage[] =
    "usage: amlpkg sign TARGET --key KEY [options]\n"
    "\n"
    "Signs an image the way cosign does: a simple-signing payload naming the image's manifest digest\n"
    "and the reference it is pulled as, signed with KEY (ECDSA P-256 or Ed25519, PEM PKCS#8 or cosign's\n"
    "encrypted cosign.key; a passphrase comes from AMLPKG_SIGNING_PASSWORD, for a cosign key also\n"
    "COSIGN_PASSWORD, or the terminal), stored as a layer of the manifest tagged sha256-<digest>.sig.\n"
    "TARGET is a registry reference (REGISTRY/REPO:TAG or @sha256:...; the signature goes to the same\n"
    "repository, where cosign verify and podman's sigstoreSigned policy find it), an OCI layout\n"
    "directory (DIR or DIR:NAME:TAG) or an oci-archive (rewritten in place with the signature inside);\n"
    "skopeo's transports say which: docker://REF, oci:DIR[:TAG], oci-archive:PATH.\n"
    "Signatures already there are kept.\n"
    "With --format bundle (or both, the default) the signature is also a sigstore bundle (v0.3) attached\n"
    "as an OCI 1.1 referrer of the image, as cosign sign --new-bundle-format writes it: a DSSE envelope\n"
    "of an in-toto statement naming the image's digest (predicate https://sigstore.dev/cosign/sign/v1).\n"
    "A registry without the referrers API lists it in the sha256-<digest> referrers tag.\n"
    "\n"
    "options:\n"
    "      --key FILE         the private key (amlpkg keygen writes one)\n"
    "      --identity REF     the reference the signature names (critical.identity.docker-reference);\n"
    "                         default: TARGET as given, or a layout's image name\n"
    "      --format F         tag (podman, skopeo, CRI-O, cosign 2), bundle (cosign 3, Kyverno, Ratify)\n"
    "                         or both (default)\n" TRANSFER_CLI_HELP;

int cmd_sign(int argc, char **argv)
{
    static const struct option long_opts[] = {{"key", required_argument, NULL, 0x200},
                                              {"identity", required_argument, NULL, 0x201},
                                              {"format", required_argument, NULL, 0x202},
                                              TRANSFER_CLI_OPTIONS,
                                              {NULL, 0, NULL, 0}};
    struct transfer_cli t = {.jobs = 1, .reg.op = "sign"};
    const char *key_path = NULL, *identity = NULL;
    enum trust_format format = TRUST_FORMAT_DEFAULT;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "j:h", long_opts, NULL)) != -1) {
        int r = transfer_cli_option(&t, c, optarg, "sign");
        if (r == EXIT_USAGE)
            return EXIT_USAGE;
        if (r)
            continue;
        if (c == 0x200)
            key_path = optarg;
        else if (c == 0x201)
            identity = optarg;
        else if (c == 0x202) {
            if (trust_format_parse(&format, optarg)) {
                fprintf(stderr, "amlpkg sign: %s\n", err_message(ERR_USAGE));
                return EXIT_USAGE;
            }
        }
        else if (c == 'h') {
            fputs(sign_usage, stdout);
            return EXIT_OK;
        } else {
            return cmd_usage_error(sign_usage);
        }
    }
    if (optind != argc - 1 || !key_path) {
        fprintf(stderr, "amlpkg sign: expected TARGET and --key KEY\n");
        return cmd_usage_error(sign_usage);
    }
    const char *target = argv[optind];
    struct trust_key *key = NULL;
    struct trust_signed s;
    char creator[64];
    snprintf(creator, sizeof creator, "amlpkg %s", AMLPKG_VERSION);
    struct trust_sign_options opt = {
        .reg = &t.reg, .format = format, .identity = identity, .creator = creator, .timestamp = time(NULL)};
    int rc = trust_key_load_private(&key, key_path);
    rc = rc ? rc : trust_sign_image(&s, target, key, &opt);
    trust_key_free(key);
    if (rc)
        return cmd_report_error(rc);
    if (t.json) {
        struct buf b;
        buf_init(&b, 0);
        buf_appendf(&b, "{\"digest\":\"%s\",\"identity\":", s.image_digest);
        json_write_string(&b, s.identity, strlen(s.identity));
        buf_appendf(&b, ",\"tag\":\"%s\",\"signatures\":%zu,\"bundle\":\"%s\",\"location\":", s.sig_tag,
                    s.n_signatures, s.bundle_digest);
        json_write_string(&b, s.location, strlen(s.location));
        buf_append_str(&b, "}\n");
        fputs(b.data, stdout);
        buf_release(&b);
    } else {
        if (s.sig_tag[0])
            printf("signed %s as %s -> %s (%zu signature%s)\n", target, s.identity, s.location, s.n_signatures,
                   s.n_signatures == 1 ? "" : "s");
        if (s.bundle_digest[0])
            printf("signed %s as %s -> sigstore bundle %s, a referrer of the image\n", target, s.identity,
                   s.bundle_digest);
        printf("digest %s\n", s.image_digest);
    }
    return EXIT_OK;
}
