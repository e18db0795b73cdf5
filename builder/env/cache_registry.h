/* The remote (ACR-style) tier of the environment cache: a registry prefix
 * under which environment images are named <prefix>/azureml/azureml_<key>,
 * as Azure ML names its cached environment images. build looks there after
 * the local cache and before building, and pushes what it had to build. */
#ifndef AMLPKG_CACHE_REGISTRY_H
#define AMLPKG_CACHE_REGISTRY_H

#include "builder/registry/registry.h"

/* Pulls the environment image for key into out_archive (an oci-archive).
 * ERR_NOTFOUND when the registry has none. */
int cache_registry_pull(const char *prefix, const char *key, const struct registry_options *opt,
                        const char *out_archive);
/* Pushes the image the local cache holds for key (manifest_digest, its blobs in cache_dir). */
int cache_registry_push(const char *prefix, const char *key, const char *cache_dir, const char *manifest_digest,
                        const struct registry_options *opt);

#endif
