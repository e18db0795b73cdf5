/* Running a container engine (podman, buildah, docker) as a child process:
 * the command words (from an environment variable such as AMLPKG_PODMAN,
 * split on blanks, so tests can add --root and --storage-driver), output
 * captured or streamed to the user with a prefix, failures reported with the
 * engine's exit status. struct engine_cmd is caller-owned (init/release). */
#ifndef AMLPKG_ENGINE_CMD_H
#define AMLPKG_ENGINE_CMD_H

#include "common/buf.h"

#define ENGINE_CMD_MAX_WORDS 64

struct engine_cmd {
    char *words[ENGINE_CMD_MAX_WORDS + 1];
    int n;
};

/* The words of $env_var when set and not empty, else of fallback. */
int engine_cmd_init(struct engine_cmd *c, const char *env_var, const char *fallback);
void engine_cmd_release(struct engine_cmd *c);
/* Runs the engine with extra arguments (NULL-terminated). With out, its stdout is
 * captured there and its stderr passes through; with prefix instead, both stream to
 * our stderr line by line, each line prefixed. Neither: output is discarded. */
int engine_cmd_run(const struct engine_cmd *c, const char *const *extra, struct buf *out, const char *prefix);
/* The same, for commands whose exit status means something (kubectl diff: 1 = differences):
 * any exit but 127 (could not run) goes to *exit_status instead of being an error. */
int engine_cmd_run_status(const struct engine_cmd *c, const char *const *extra, struct buf *out, const char *prefix,
                          int *exit_status);

#endif
