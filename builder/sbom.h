/* The image's SBOM: an SPDX 2.3 JSON document listing what went into it —
 * the image itself (by manifest digest), the base image, amlserve and the
 * libraries statically linked into it (read from the marker amlserve
 * carries), each model (name, version) with every file's SHA-256, the entry
 * script and source files, and the declared conda and pip dependencies.
 * Deterministic: the same image gives the same bytes (times come from
 * SOURCE_DATE_EPOCH, the namespace from the manifest digest). */
#ifndef AMLPKG_SBOM_H
#define AMLPKG_SBOM_H

#include "common/buf.h"
#include "plan.h"
#include "spec.h"

int sbom_render(struct buf *out, const struct plan *plan, const struct spec *spec, const char *manifest_digest);
/* Renders and writes path atomically. */
int sbom_write(const char *path, const struct plan *plan, const struct spec *spec, const char *manifest_digest);

#endif
