/* The Dockerfile output (`amlpkg build --dockerfile DIR`, like Azure ML's
 * Model.package(generate_dockerfile=True)): a Dockerfile rendered from
 * templates/Dockerfile.in and a build context holding every file it copies.
 * It is emitted from the same plan as the OCI image, so `podman build DIR`
 * yields an image that serves the same; the text is byte-stable for a spec.
 *
 * dockerfile_write builds the context in a temporary folder beside dir and
 * renames it into place only when complete; dir must not exist or be empty. */
#ifndef AMLPKG_DOCKERFILE_H
#define AMLPKG_DOCKERFILE_H

#include "common/buf.h"
#include "builder/image/plan.h"

/* The Dockerfile text for a plan. spec_name is the spec's file name (shown in the header). */
int dockerfile_render(struct buf *out, const struct plan *plan, const char *spec_name);
int dockerfile_write(const char *dir, const struct plan *plan, const char *spec_name);
/* The environment stage alone (FROM base + its steps) with its conda file, into an
 * existing empty folder: what an executor builds. */
int dockerfile_write_environment(const char *dir, const struct plan_environment *env);
/* How many instructions that stage has after its FROM (each one history entry in the image an
 * engine builds from it): lines joined at a trailing backslash, comments and blank lines left out. */
int dockerfile_environment_instructions(size_t *out, const struct plan_environment *env);

#endif
