/* amlpkg verify TARGET --key PUB: checks an image's cosign signatures. */
#include "builder/cli/commands.h"
#include "builder/cli/transfer_cli.h"
#include "builder/trust/trust_attest.h"
#include "builder/trust/trust_image.h"
#include "builder/trust/trust_key.h"
#include "common/err.h"
#include "common/json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char verify_usage[] =
    "usage: amlpkg verify TARGET --key PUB [--provenance] [options]\n"
    "\n"
    "Checks the cosign signatures, in either form amlpkg sign writes (the sha256-<digest>.sig\n"
    "tag, sigstore bundle referrers) of an image (a registry reference, an OCI layout or an oci-archive,\n"
    "as for amlpkg sign) with a public key (PEM; cosign.pub, or the .pub amlpkg keygen writes). Prints\n"
    "who signed what and when for every good signature, and why each other one was refused. Exits 1\n"
    "when no signature verifies, when the image has none, or when a signature names another digest.\n"
    "With --provenance it also checks the SLSA provenance amlpkg build --sign attached: a DSSE envelope\n"
    "signed with the same key whose in-toto statement names this image; it prints the builder, the spec\n"
    "and its digest, the environment key and the git revision.\n"
    "\n"
    "options:\n"
    "      --key FILE         the public key\n"
    "      --provenance       also require a signed provenance attestation of the image\n" TRANSFER_CLI_HELP;

static void when(char *out, size_t size, long long ts)
{
    time_t t = (time_t)ts;
    struct tm tm;
    if (ts < 0 || !gmtime_r(&t, &tm) || !strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, size, "unknown time");
}

static void print_json(const struct trust_verified *v, const struct trust_key *key, int rc)
{
    struct buf b;
    buf_init(&b, 0);
    buf_appendf(&b, "{\"verified\":%s,\"digest\":\"%s\",\"key\":\"%s\",\"signatures\":[", rc ? "false" : "true",
                v->image_digest, key->key_id);
    for (size_t i = 0; i < v->n_checks; i++) {
        const struct trust_check *c = &v->checks[i];
        buf_appendf(&b, "%s{\"good\":%s,\"form\":\"%s\",\"identity\":", i ? "," : "", c->good ? "true" : "false",
                    c->bundle ? "bundle" : "tag");
        json_write_string(&b, c->payload.identity, strlen(c->payload.identity));
        buf_appendf(&b, ",\"signed_digest\":\"%s\",\"creator\":", c->payload.digest);
        json_write_string(&b, c->payload.creator, strlen(c->payload.creator));
        buf_appendf(&b, ",\"timestamp\":%lld", c->payload.timestamp);
        if (!c->good) {
            buf_append_str(&b, ",\"problem\":");
            json_write_string(&b, c->problem, strlen(c->problem));
        }
        buf_append_str(&b, "}");
    }
    buf_append_str(&b, "]}\n");
    fputs(b.data, stdout);
    buf_release(&b);
}

int cmd_verify(int argc, char **argv)
{
    static const struct option long_opts[] = {{"key", required_argument, NULL, 0x200},
                                              {"provenance", no_argument, NULL, 0x201},
                                              TRANSFER_CLI_OPTIONS,
                                              {NULL, 0, NULL, 0}};
    struct transfer_cli t = {.jobs = 1, .reg.op = "verify"};
    const char *key_path = NULL;
    int provenance = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "j:h", long_opts, NULL)) != -1) {
        int r = transfer_cli_option(&t, c, optarg, "verify");
        if (r == EXIT_USAGE)
            return EXIT_USAGE;
        if (r)
            continue;
        if (c == 0x200)
            key_path = optarg;
        else if (c == 0x201)
            provenance = 1;
        else if (c == 'h') {
            fputs(verify_usage, stdout);
            return EXIT_OK;
        } else {
            return cmd_usage_error(verify_usage);
        }
    }
    if (optind != argc - 1 || !key_path) {
        fprintf(stderr, "amlpkg verify: expected TARGET and --key PUB\n");
        return cmd_usage_error(verify_usage);
    }
    const char *target = argv[optind];
    struct trust_key *key = NULL;
    static struct trust_verified v;
    int rc = trust_key_load_public(&key, key_path);
    if (rc)
        return cmd_report_error(rc);
    rc = trust_verify_image(&v, target, key, &t.reg);
    if (t.json && v.image_digest[0])
        print_json(&v, key, rc);
    for (size_t i = 0; !t.json && i < v.n_checks; i++) {
        const struct trust_check *ch = &v.checks[i];
        char at[40];
        when(at, sizeof at, ch->payload.timestamp);
        if (ch->good && ch->bundle)
            printf("verified: %s (sigstore bundle)\n  digest   %s\n  key      %s (%s)\n",
                   ch->payload.identity[0] ? ch->payload.identity : ch->payload.digest, ch->payload.digest,
                   key->key_id, trust_algorithm_name(key->algorithm));
        else if (ch->good)
            printf("verified: %s\n  digest   %s\n  key      %s (%s)\n  signed   %s by %s\n", ch->payload.identity,
                   ch->payload.digest, key->key_id, trust_algorithm_name(key->algorithm), at,
                   ch->payload.creator[0] ? ch->payload.creator : "unknown");
        else
            fprintf(stderr, "refused: %s\n", ch->problem);
    }
    if (!rc && !t.json)
        printf("%zu of %zu signature%s verified for %s\n", v.n_good, v.n_signatures, v.n_signatures == 1 ? "" : "s",
               v.image_digest);
    if (!rc && provenance) {
        static struct trust_provenance p;
        rc = trust_verify_provenance(&p, target, key, &t.reg);
        const struct provenance_summary *s = &p.summary;
        if (!rc && !t.json)
            printf("provenance: verified (%zu attestation%s, %zu good)\n  builder  %s (%s)\n  spec     %s\n"
                   "  env key  %s\n  revision %s\n  inputs   %zu resolved dependencies\n  finished %s\n",
                   p.n_found, p.n_found == 1 ? "" : "s", p.n_good, s->builder_id, s->build_type, s->spec,
                   s->environment_key[0] ? s->environment_key : "none", s->revision[0] ? s->revision : "not recorded",
                   s->n_dependencies, s->finished);
    }
    trust_key_free(key);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
