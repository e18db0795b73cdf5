/* amlpkg keygen [PREFIX]: a signing key pair for amlpkg sign and verify (and cosign, podman, skopeo). */
#include "builder/cli/commands.h"
#include "builder/trust/trust_key.h"
#include "common/err.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char keygen_usage[] =
    "usage: amlpkg keygen [PREFIX] [options]\n"
    "\n"
    "Writes a signing key pair: PREFIX.key, the private key (PEM PKCS#8, mode 0600), and PREFIX.pub,\n"
    "the public key (PEM PKIX) that amlpkg verify, cosign verify --key and podman's policy.json\n"
    "(sigstoreSigned keyPath) read. PREFIX defaults to 'cosign'. The private key is encrypted\n"
    "(AES-256-CBC) with the passphrase in AMLPKG_SIGNING_PASSWORD; when that is unset, the\n"
    "passphrase is asked for on the terminal; an empty passphrase (or no terminal) leaves it\n"
    "unencrypted. With --format cosign the private key is cosign's own\n"
    "(ENCRYPTED SIGSTORE PRIVATE KEY: scrypt + nacl/secretbox, as cosign generate-key-pair writes it, so\n"
    "cosign sign --key reads it; always sealed, with the empty passphrase when that is the one given).\n"
    "\n"
    "options:\n"
    "      --algorithm ALG  ecdsa-p256 (default, what cosign makes) or ed25519\n"
    "      --format FMT     pem (default) or cosign\n"
    "      --force          replace existing PREFIX.key and PREFIX.pub\n"
    "  -h, --help           show this help\n";

int cmd_keygen(int argc, char **argv)
{
    static const struct option long_opts[] = {{"algorithm", required_argument, NULL, 0x200},
                                              {"force", no_argument, NULL, 0x201},
                                              {"format", required_argument, NULL, 0x202},
                                              {"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    enum trust_algorithm alg = TRUST_ECDSA_P256;
    enum trust_key_format format = TRUST_KEY_PEM;
    int force = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case 0x200:
            if (trust_algorithm_parse(&alg, optarg)) {
                fprintf(stderr, "amlpkg keygen: %s\n", err_message(ERR_USAGE));
                return EXIT_USAGE;
            }
            break;
        case 0x201: force = 1; break;
        case 0x202:
            if (strcmp(optarg, "pem") && strcmp(optarg, "cosign")) {
                fprintf(stderr, "amlpkg keygen: --format '%s': expected pem or cosign\n", optarg);
                return EXIT_USAGE;
            }
            format = optarg[0] == 'c' ? TRUST_KEY_COSIGN : TRUST_KEY_PEM;
            break;
        case 'h': fputs(keygen_usage, stdout); return EXIT_OK;
        default: return cmd_usage_error(keygen_usage);
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "amlpkg keygen: expected at most one PREFIX\n");
        return cmd_usage_error(keygen_usage);
    }
    const char *prefix = optind < argc ? argv[optind] : "cosign";
    const char *pass = getenv(TRUST_PASSWORD_ENV);
    int rc = trust_keygen(prefix, alg, format, force);
    if (rc)
        return cmd_report_error(rc);
    printf("wrote %s.key (%s private key, %s, mode 0600) and %s.pub\n", prefix, trust_algorithm_name(alg),
           format == TRUST_KEY_COSIGN ? "cosign's encrypted format"
           : pass && !pass[0]         ? "unencrypted"
           : pass           ? "encrypted"
                            : "encrypted unless the passphrase was empty",
           prefix);
    return EXIT_OK;
}
