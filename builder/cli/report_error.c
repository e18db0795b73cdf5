/* How every command reports a failure: the message set where the error was
 * found, on one line, and exit status 1. In libamlpkg (not main.c) so that
 * the commands link without the executable's main. */
#include "builder/cli/commands.h"
#include "common/err.h"

#include <stdio.h>

int cmd_report_error(int code)
{
    fprintf(stderr, "amlpkg: %s\n", err_message(code));
    return EXIT_FAIL;
}
