/* amlpkg package: the name Azure ML users know (`az ml model package`,
 * Model.package()). --generate-dockerfile DIR is build's --dockerfile DIR, as
 * generate_dockerfile=True; everything else is `amlpkg build`. */
#include "builder/cli/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_package(int argc, char **argv)
{
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
