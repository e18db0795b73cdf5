/* A model's files as layer entries. Models are often symbolic links into a
 * content store (DVC, git-annex and Git LFS caches): an image must hold their
 * content, never a link to a path on the build machine. A model file or tree
 * without links is one entry, copied as it is; a link, or a tree holding
 * links, becomes one entry per regular file with every link resolved
 * (directories come from the paths). A link loop, a FIFO, socket or device,
 * and trees deeper than 64 levels are refused, naming the path.
 *
 * *out is an array of *n entries, freed with plan_entries_free. */
#ifndef AMLPKG_PLAN_MODEL_H
#define AMLPKG_PLAN_MODEL_H

#include "builder/image/plan.h"

int plan_model_entries(struct plan_entry **out, size_t *n, const char *image_path, const char *host_path);
void plan_entries_free(struct plan_entry *entries, size_t n);

#endif
