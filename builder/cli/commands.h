/* CLI verbs. Each cmd_<verb> takes the arguments after the verb and returns
 * the process exit code: 0 ok, 1 failure, 2 usage error. */
#ifndef AMLPKG_COMMANDS_H
#define AMLPKG_COMMANDS_H

#include "version.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

int cmd_build(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_copy(int argc, char **argv);
int cmd_tags(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_package(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_hash(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_lock(int argc, char **argv);

/* Prints "amlpkg: <message>" for a failed command and returns EXIT_FAIL. */
int cmd_report_error(int code);
/* A usage error: the usage line and a pointer to --help on stderr; returns EXIT_USAGE. */
int cmd_usage_error(const char *usage);

#endif
