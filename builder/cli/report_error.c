/* How every command reports a failure: the message set where the error was
 * found, on one line, and exit status 1. In libamlpkg (not main.c) so that
 * the commands link without the executable's main. */
#include "builder/cli/commands.h"
#include "common/err.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

int cmd_report_error(int code)
{
    fprintf(stderr, "amlpkg: %s\n", err_message(code));
    return EXIT_FAIL;
}

int cmd_usage_error(const char *usage)
{
    /* getopt has named the bad option; one usage line and where the rest is, not the whole help. */
    const char *end = strchr(usage, '\n');
    const char *verb = strncmp(usage, "usage: amlpkg ", 14) ? NULL : usage + 14;
    size_t verb_len = verb ? strcspn(verb, " \n") : 0;
    fprintf(stderr, "%.*s\n", (int)(end ? end - usage : (ptrdiff_t)strlen(usage)), usage);
    if (verb)
        fprintf(stderr, "run 'amlpkg %.*s --help' for its options\n", (int)verb_len, verb);
    return EXIT_USAGE;
}
