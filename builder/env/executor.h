/* The executor: a container engine that builds only the environment stage of
 * an image (base image + Docker steps + conda installs), for environments the
 * daemonless builder cannot lay down itself. amlpkg then takes that stage's
 * image as the base of its own layers (runtime, app, models), so the engine
 * never sees the code or the models and a code edit never rebuilds the
 * environment. The engine's output streams to the user, prefixed; a failure
 * reports its exit status and leaves nothing behind, in amlpkg's cache or in
 * the engine's store.
 *
 * Engines: podman, buildah, docker; their command words come from
 * $AMLPKG_PODMAN / $AMLPKG_BUILDAH / $AMLPKG_DOCKER when set. */
#ifndef AMLPKG_EXECUTOR_H
#define AMLPKG_EXECUTOR_H

#include "builder/env/conda_install.h"
#include "builder/image/plan_env.h"

enum executor_kind { EXECUTOR_NONE, EXECUTOR_PODMAN, EXECUTOR_BUILDAH, EXECUTOR_DOCKER };

/* requested: "auto" (the first of podman, buildah, docker on PATH), "none", or an engine's name. */
int executor_resolve(enum executor_kind *out, const char *requested);
/* Builds the environment stage in work_dir (an existing private folder) and saves it to
 * archive_out; *format receives "oci-archive" or "docker-archive" (docker saves only that) and
 * *engine_steps the number of instructions the engine ran (its last history entries: see
 * base_image_options.engine_steps). Steps that reach the network are named in a warning.
 * Reproducibility: --timestamp 0 and no version label where the engine takes them, layers saved
 * uncompressed; the caller re-writes the engine's layers (layer_normalise.h). The engine's store is
 * left as it was found: the tag, and every image and container the build added (the base it pulled,
 * intermediate ones), are removed on success and on failure; what was there before stays. */
int executor_build_environment(enum executor_kind kind, const struct plan_environment *env, const char *work_dir,
                               const char *archive_out, const char **format, size_t *engine_steps);

/* Post-link scripts (environment.allow_scripts / build --allow-scripts): the engine builds FROM the
 * oci-archive base_archive (the base with amlpkg's conda layer on top) one RUN step per script, in the
 * order given (conda's: dependencies first), each as conda runs it: `bash -x $PREFIX/bin/.NAME-post-link.sh`
 * (sh when the image has no bash) with PREFIX, ROOT_PREFIX, PKG_NAME, PKG_VERSION, PKG_BUILDNUM (and
 * PKG_BUILDNUMBER) set and $PREFIX/bin in front of PATH. The result is saved to archive_out like
 * executor_build_environment's (the caller opens it with engine_steps = n, so its layer is normalised);
 * a failing script fails the build with the package named and the script's output in the message (read from
 * the engine's standard output, where podman and buildah print a step's output; Docker's BuildKit prints it on
 * standard error, which reaches the user as is, and its own failure message stands). */
int executor_run_scripts(enum executor_kind kind, const char *base_archive, const char *prefix,
                         const struct conda_script *scripts, size_t n, const char *key, const char *work_dir,
                         const char *archive_out, const char **format);

#endif
