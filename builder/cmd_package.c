/* amlpkg package: Azure ML's `az ml model package` / Model.package(). With
 * --generate-dockerfile DIR it writes a Dockerfile and its build context (as
 * generate_dockerfile=True does); without, it is `amlpkg build`. */
#include "commands.h"
#include "common/err.h"
#include "dockerfile.h"
#include "plan.h"
#include "runtime_locate.h"
#include "spec.h"
#include "spec_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char package_usage[] =
    "usage: amlpkg package SPEC --generate-dockerfile DIR [options]\n"
    "       amlpkg package --inference-config F --model N:V=PATH... --generate-dockerfile DIR\n"
    "       amlpkg package SPEC [build options]      (the same as amlpkg build)\n"
    "\n"
    "Writes a Dockerfile and a complete build context to DIR (which must not exist or be empty);\n"
    "`podman build DIR` or `docker build DIR` then yields an image that serves like the one\n"
    "`amlpkg build` writes without a daemon.\n"
    "\n"
    "options:\n"
    "      --generate-dockerfile DIR  where to write the Dockerfile and context\n"
    "      --runtime PATH             amlserve binary to put in the context\n" SPEC_CLI_HELP
    "  -h, --help                     show this help\n";

static int source_date_epoch(long long *out)
{
    *out = 0;
    const char *s = getenv("SOURCE_DATE_EPOCH");
    if (!s || !s[0])
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno || v < 0 || v > 253402300799LL)
        return err_set(ERR_INVALID, "SOURCE_DATE_EPOCH: '%s' is not a number of seconds since 1970", s);
    *out = v;
    return 0;
}

static const char *file_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int cmd_package(int argc, char **argv)
{
    int wants_dockerfile = 0;
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "--generate-dockerfile", 21) || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            wants_dockerfile = 1;
    if (!wants_dockerfile)
        return cmd_build(argc, argv);
    static const struct option long_opts[] = {
        {"generate-dockerfile", required_argument, NULL, 'g'},
        {"runtime", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        SPEC_CLI_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct spec_cli package = {0};
    const char *dir = NULL, *runtime = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        int used = spec_cli_option(&package, c, optarg, "package");
        if (used < 0)
            return EXIT_USAGE;
        if (used)
            continue;
        switch (c) {
        case 'g': dir = optarg; break;
        case 'R': runtime = optarg; break;
        case 'h': fputs(package_usage, stdout); return EXIT_OK;
        default: fputs(package_usage, stderr); return EXIT_USAGE;
        }
    }
    const char *spec_path = optind < argc ? argv[optind] : NULL;
    if (optind < argc - 1 || !dir) {
        fprintf(stderr, "amlpkg package: expected one SPEC and --generate-dockerfile DIR\n%s", package_usage);
        return EXIT_USAGE;
    }
    if (spec_cli_check(&package, spec_path, "package"))
        return EXIT_USAGE;
    struct spec *spec = NULL;
    struct plan *plan = NULL;
    char *amlserve = NULL;
    long long created;
    int rc = source_date_epoch(&created);
    rc = rc ? rc : spec_cli_load(&spec, &package, spec_path);
    rc = rc ? rc : runtime_locate(&amlserve, runtime);
    rc = rc ? rc : plan_build(&plan, spec, amlserve, created);
    rc = rc ? rc : dockerfile_write(dir, plan, file_name(spec->file));
    if (!rc)
        printf("wrote %s/Dockerfile and its build context; build it with: podman build -t %s:%s %s\n", dir,
               plan->image_name, plan->image_tag, dir);
    plan_free(plan);
    free(amlserve);
    spec_free(spec);
    return rc ? cmd_report_error(rc) : EXIT_OK;
}
