/* amlpkg package: the name Azure ML users know (`az ml model package`,
 * Model.package()). --generate-dockerfile DIR is build's --dockerfile DIR, as
 * generate_dockerfile=True; everything else is `amlpkg build`. */
#include "builder/cli/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char package_usage[] =
    "usage: amlpkg package SPEC [options]\n"
    "       amlpkg package SPEC --generate-dockerfile DIR\n"
    "\n"
    "Azure ML's name for `amlpkg build` (az ml model package, Model.package()): the same options,\n"
    "plus:\n"
    "      --generate-dockerfile DIR  write a Dockerfile and its build context to DIR instead of\n"
    "                          an image (generate_dockerfile=True; build's --dockerfile DIR)\n"
    "\n";

int cmd_package(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(package_usage, stdout);
            char *help[] = {argv[0], argv[i], NULL};
            return cmd_build(2, help);
        }
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args) {
        fputs("amlpkg package: out of memory\n", stderr);
        return EXIT_FAIL;
    }
    static char dockerfile_flag[] = "--dockerfile";
    char *joined = NULL; /* "--dockerfile=DIR" for "--generate-dockerfile=DIR" */
    for (int i = 0; i < argc; i++) {
        args[i] = argv[i];
        if (!strcmp(argv[i], "--generate-dockerfile"))
            args[i] = dockerfile_flag;
        else if (!strncmp(argv[i], "--generate-dockerfile=", 22) && !joined &&
                 asprintf(&joined, "--dockerfile=%s", argv[i] + 22) >= 0)
            args[i] = joined;
    }
    int rc = cmd_build(argc, args);
    free(joined);
    free(args);
    return rc;
}
