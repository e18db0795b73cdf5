/* The image's SBOM: an SPDX 2.3 JSON document listing what went into it —
 * the image itself (by manifest digest), the base image, amlserve and the
 * libraries statically linked into it (read from the marker amlserve
 * carries), each model (name, version) with every file's SHA-256, the entry
 * script and source files, and the declared conda and pip dependencies.
 * Deterministic: the same image gives the same bytes (times come from
 * SOURCE_DATE_EPOCH, the namespace from the manifest digest). */
#ifndef AMLPKG_SBOM_H
#define AMLPKG_SBOM_H

#include "cache/cache.h"
#include "common/buf.h"
#include "builder/image/oci_image.h"
#include "builder/image/plan.h"
#include "builder/spec/spec.h"

/* memo (may be NULL) remembers file digests across builds (cache_file_digest);
 * prefetch (may be NULL) has the large files hashed during the build. */
struct digest_prefetch;
int sbom_render(struct buf *out, const struct plan *plan, const struct spec *spec, const char *manifest_digest,
                struct cache *memo, struct digest_prefetch *prefetch);
/* The SBOM as an OCI artifact that refers to the image (its `subject`), so layouts and
 * registries can serve it beside the image: blobs[0] is the empty config, blobs[1] the SBOM
 * (a copy of sbom_path in work_dir), manifest the artifact manifest. Files live in work_dir;
 * release them with oci_blob_release. */
#define SBOM_ARTIFACT_TYPE "application/spdx+json"
int sbom_artifact(struct oci_blob blobs[2], struct oci_blob *manifest, const char *work_dir, const char *sbom_path,
                  const struct oci_image *image);

/* A one-manifest OCI layout in dir (created) holding the artifact, for pushing it by digest. */
int sbom_artifact_layout(const char *dir, const struct oci_blob blobs[2], const struct oci_blob *manifest);

/* Renders and writes path atomically; fsynced when sync is set (as the image is). */
int sbom_write(const char *path, const struct plan *plan, const struct spec *spec, const char *manifest_digest,
               struct cache *memo, struct digest_prefetch *prefetch, int sync);

#endif
