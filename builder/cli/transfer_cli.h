/* What push, pull and copy share on the command line: the registry options
 * (--creds, --insecure, --ca-cert, --jobs, --json) and the result report (one
 * summary line, or JSON). */
#ifndef AMLPKG_TRANSFER_CLI_H
#define AMLPKG_TRANSFER_CLI_H

#include "builder/image/image_source.h"
#include "builder/image/reference.h"
#include "builder/registry/registry.h"
#include "builder/registry/registry_image.h"
#include "builder/trust/trust_carry.h"

#include <getopt.h>

struct transfer_cli {
    struct registry_options reg;
    const char *src_creds; /* copy: --src-creds */
    int jobs;
    int json;
    const char *platform;
    const char *output;
};

/* getopt_long entries for the shared options; values >= 0x100. */
#define TRANSFER_CLI_OPTIONS                                                                                           \
    {"creds", required_argument, NULL, 0x100}, {"insecure", no_argument, NULL, 0x101},                                 \
        {"ca-cert", required_argument, NULL, 0x102}, {"jobs", required_argument, NULL, 'j'},                           \
        {"json", no_argument, NULL, 0x103}, {"authfile", required_argument, NULL, 0x104},                              \
    {                                                                                                                  \
        "help", no_argument, NULL, 'h'                                                                                 \
    }

#define TRANSFER_CLI_HELP                                                                                              \
    "      --creds USER:PASS  registry credentials; else AMLPKG_REGISTRY_AUTH, then the first of\n"                    \
    "                         --authfile FILE (else $REGISTRY_AUTH_FILE, else\n"                                       \
    "                         $XDG_RUNTIME_DIR/containers/auth.json, else /run/containers/$UID/auth.json),\n"          \
    "                         ~/.config/containers/auth.json, ~/.docker/config.json, ~/.dockercfg\n"                  \
    "                         that has them (credHelpers, auths, then credsStore in each)\n"                          \
    "      --authfile FILE    the primary auth file, as podman's and skopeo's --authfile\n"                          \
    "      --insecure         allow plain HTTP and unverified TLS (localhost may always use HTTP)\n"                   \
    "      --ca-cert FILE     trust this PEM CA bundle for TLS\n"                                                      \
    "  -j, --jobs N           parallel blob transfers (default 4)\n"                                                   \
    "      --json             print the result as JSON\n"                                                              \
    "  -h, --help             show this help\n"

/* Handles a shared option; returns 1 if c was one, 0 if not, EXIT_USAGE on a bad value. */
int transfer_cli_option(struct transfer_cli *t, int c, const char *arg, const char *verb);
/* Opens the push source and the registry at once, so the registry's ping
 * (and auth) overlaps unpacking an archive; a registry already open in *reg (not NULL) is used as it
 * is. On failure nothing this call opened stays open. */
int transfer_cli_open_push(struct image_source **src, const char *source, struct registry **reg,
                           const char *registry_name, const struct registry_options *opt);
/* Pushes the image at source (an archive or layout) to ref (parsed from ref_text, which names it in
 * messages): a digest in ref must be the image's. With carried, what amlpkg sign kept beside the image
 * (signature tag, bundles, provenance) goes too and is counted there. *reg (NULL, or a registry
 * already open for ref's registry) stays open for what follows
 * (an SBOM, signatures) and is the caller's to free; x holds the report. */
int transfer_cli_push_image(struct registry **reg, struct image_transfer *x, const struct reference *ref,
                            const char *ref_text, const char *source, const struct registry_options *opt,
                            struct trust_carried *carried);
/* Registry to registry (blobs mounted within one registry), the image's .sig tag and referrers with it;
 * --src-creds for the source. */
int transfer_cli_copy_registry(const struct transfer_cli *t, const struct reference *src, const struct reference *dst,
                               struct image_transfer *x, struct trust_carried *carried);
/* "VERB its signatures and attestations: ..." on stderr when any came along (not with --json). */
void transfer_cli_report_carried(const struct transfer_cli *t, const char *verb, const struct trust_carried *c);
/* A registry image into an oci-archive at out_path. */
int transfer_cli_pull_archive(const struct transfer_cli *t, const struct reference *src, const char *out_path,
                              struct image_transfer *x);
/* The path of an oci-archive output written as PATH or oci-archive:PATH; other transports are refused. */
int transfer_cli_archive_output(const char **path, const char *text, const char *verb);
/* The last line of build, push, pull and copy without --json: the image's
 * manifest digest alone ("sha256:<hex>"), so `| tail -1` is all CI needs. */
void transfer_cli_print_digest(const char *digest);
/* Prints the summary line then the digest line, or the JSON object, for a finished transfer. */
void transfer_cli_report(const struct transfer_cli *t, const char *verb, const char *src, const char *dst,
                         const struct image_transfer *x);

#endif
