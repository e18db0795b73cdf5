/* The package spec: what goes into an image, read from spec.yaml.
 *
 * spec_load parses and validates the whole file (names, versions, paths that
 * must exist) so later stages never see an invalid spec. Paths in the struct
 * are resolved against the spec file's directory. A spec comes from spec_load
 * and is freed with spec_free. */
#ifndef AMLPKG_SPEC_H
#define AMLPKG_SPEC_H

#include <stddef.h>

struct spec_model {
    char *name;
    long long version;
    char *path;      /* resolved host path, a file or a directory */
    char *framework; /* may be NULL */
    int is_dir;
    int line;        /* where the entry starts in the spec, for later errors */
};

struct spec {
    char *file; /* the spec file as given */
    char *dir;  /* its directory */
    struct spec_model *models;
    size_t n_models;
    char *image_name; /* output.name, defaults to the first model's name */
    char *image_tag;  /* output.tag, defaults to the first model's version */
};

#define SPEC_MAX_MODELS 1000

int spec_load(struct spec **out, const char *path);
void spec_free(struct spec *spec);

/* Azure ML's model-name rule: ^[a-zA-Z0-9][a-zA-Z0-9\-\._]{0,254}$ */
int spec_valid_model_name(const char *name);
/* OCI repository path components and tags. */
int spec_valid_image_name(const char *name);
int spec_valid_tag(const char *tag);

#endif
