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

#endif
