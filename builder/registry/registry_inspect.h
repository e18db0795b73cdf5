/* What `amlpkg inspect REF` reads from a registry: the manifest (through an
 * index to one platform) and the config, never a layer. Every document is
 * verified against its digest: the manifest against the digest in the
 * reference or the registry's Docker-Content-Digest, an index's child against
 * the index entry, the config against the manifest. */
#ifndef AMLPKG_REGISTRY_INSPECT_H
#define AMLPKG_REGISTRY_INSPECT_H

#include "common/buf.h"
#include "builder/registry/registry.h"

struct registry_inspect {
    struct buf top; /* the document the reference names, byte for byte (--raw) */
    char top_digest[72];
    char top_media_type[256];
    int top_is_index;
    struct buf manifest; /* the image manifest: top itself, or the platform's entry of the index */
    char digest[72];
    char media_type[256];
    struct buf config;
    char config_digest[72];
};

void registry_inspect_init(struct registry_inspect *ri);
void registry_inspect_release(struct registry_inspect *ri);
/* OUT = the digest of INDEX's entry for PLATFORM ("os/arch[/variant]"); when it has none, an error
 * naming WHERE and the platforms it has. */
int registry_inspect_pick_platform(char out[72], const struct buf *index, const char *platform, const char *where);
/* Fetches the top document; unless top_only, also the image manifest (an
 * index resolved to platform, "os/arch[/variant]") and its config. */
int registry_inspect_fetch(struct registry_inspect *ri, struct registry *reg, const char *repo, const char *id,
                           const char *platform, int top_only);

#endif
