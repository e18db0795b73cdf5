/* amlpkg hash SPEC: the environment key of a spec. */
#include "builder/cli/commands.h"
#include "common/err.h"
#include "builder/spec/envkey.h"
#include "builder/spec/spec.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char hash_usage[] =
    "usage: amlpkg hash SPEC [--json] [--explain]\n"
    "\n"
    "Prints the environment key of SPEC: the SHA-256 (64 hex digits) of a canonical document of what\n"
    "decides the environment image (base image, Docker steps, conda channels and dependencies, pip\n"
    "requirements, environment variables, GPU/CUDA, Python interpreter, runtime version). Comments,\n"
    "quoting, YAML style and the order of dependencies do not change it.\n"
    "\n"
    "options:\n"
    "  --explain    also print the canonical document that is hashed\n"
    "  --json       print {\"key\": ..., \"document\": ...}\n"
    "  -h, --help   show this help\n";

int cmd_hash(int argc, char **argv)
{
    static const struct option long_opts[] = {{"json", no_argument, NULL, 'j'},
                                              {"explain", no_argument, NULL, 'e'},
                                              {"help", no_argument, NULL, 'h'},
                                              {NULL, 0, NULL, 0}};
    int json = 0, explain = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == 'j') {
            json = 1;
        } else if (c == 'e') {
            explain = 1;
        } else if (c == 'h') {
            fputs(hash_usage, stdout);
            return EXIT_OK;
        } else {
            return cmd_usage_error(hash_usage);
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "amlpkg hash: expected one SPEC\n");
        return cmd_usage_error(hash_usage);
    }
    struct spec *spec = NULL;
    struct envkey key = {0};
    int rc = spec_read(&spec, argv[optind], SPEC_READ_ENVIRONMENT);
    if (!rc)
        rc = envkey_compute(&key, &spec->environment, AMLPKG_VERSION);
    if (rc)
        goto done;
    if (json)
        printf("{\"key\":\"%s\",\"document\":%s}\n", key.hex, key.document);
    else if (explain)
        printf("%s\n%s\n", key.hex, key.document);
    else
        printf("%s\n", key.hex);
done:
    envkey_release(&key);
    spec_free(spec);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
