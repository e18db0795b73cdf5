#include "builder/env/cache_registry.h"

#include "common/err.h"
#include "builder/sys/fsutil.h"
#include "common/path.h"
#include "builder/image/image_source.h"
#include "builder/image/reference.h"
#include "builder/registry/registry_image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int env_reference(struct reference *out, const char *prefix, const char *key)
{
    char text[700];
    snprintf(text, sizeof text, "%s/azureml/azureml_%s:latest", prefix, key);
    return reference_parse(out, text);
}

int cache_registry_pull(const char *prefix, const char *key, const struct registry_options *opt,
                        const char *out_archive)
{
    struct reference ref;
    struct registry *reg = NULL;
    struct image_transfer x = {.jobs = 4};
    int rc = env_reference(&ref, prefix, key);
    if (!rc)
        rc = registry_open(&reg, ref.registry, opt);
    if (!rc)
        rc = registry_image_pull(reg, ref.repository, ref.tag, out_archive, ref.repository, &x);
    registry_free(reg);
    return rc;
}

/* A throwaway OCI layout whose blobs are the cache's own (a link), naming one manifest. */
static int layout_over_cache(char **out_dir, const char *cache_dir, const char *manifest_digest)
{
    char *dir = NULL, *blobs = NULL, *target = NULL, *index = NULL, *layout = NULL, *manifest = NULL;
    int rc = fs_make_tmp_dir(&dir, "amlpkg-push-");
    if (!rc && (!(blobs = path_join(dir, "blobs")) || !(target = path_join(cache_dir, "blobs")) ||
                !(index = path_join(dir, "index.json")) || !(layout = path_join(dir, "oci-layout"))))
        rc = err_set(ERR_NOMEM, "out of memory");
    if (!rc && symlink(target, blobs) != 0)
        rc = err_set_errno(ERR_IO, "cannot link '%s'", blobs);
    struct stat st;
    if (!rc && asprintf(&manifest, "%s/sha256/%s", target, manifest_digest + 7) < 0)
        manifest = NULL, rc = err_set(ERR_NOMEM, "out of memory");
    if (!rc && stat(manifest, &st) != 0)
        rc = err_set_errno(ERR_NOTFOUND, "cache: manifest %s", manifest_digest);
    FILE *f = rc ? NULL : fopen(layout, "w");
    if (f) {
        fputs("{\"imageLayoutVersion\":\"1.0.0\"}", f);
        fclose(f);
    }
    f = rc ? NULL : fopen(index, "w");
    if (f) {
        fprintf(f,
                "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                "\"digest\":\"%s\",\"size\":%lld}]}",
                manifest_digest, (long long)st.st_size);
        fclose(f);
    } else if (!rc) {
        rc = err_set_write(ERR_IO, "cannot write '%s'", index);
    }
    free(blobs), free(target), free(index), free(layout), free(manifest);
    if (rc && dir) {
        fs_remove_tree(dir);
        free(dir);
        dir = NULL;
    }
    *out_dir = dir;
    return rc;
}

int cache_registry_push(const char *prefix, const char *key, const char *cache_dir, const char *manifest_digest,
                        const struct registry_options *opt)
{
    struct reference ref;
    struct registry *reg = NULL;
    struct image_source *src = NULL;
    struct image_transfer x = {.jobs = 4};
    char *dir = NULL;
    int rc = env_reference(&ref, prefix, key);
    rc = rc ? rc : layout_over_cache(&dir, cache_dir, manifest_digest);
    rc = rc ? rc : image_source_open(&src, dir);
    rc = rc ? rc : registry_open(&reg, ref.registry, opt);
    rc = rc ? rc : registry_image_push(reg, ref.repository, ref.tag, src, &x);
    registry_free(reg);
    image_source_free(src);
    if (dir) {
        fs_remove_tree(dir); /* FTW_PHYS: the link goes, the cache's blobs stay */
        free(dir);
    }
    return rc;
}
