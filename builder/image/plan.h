/* The plan: the ordered layers of an image and its runtime configuration,
 * derived from a validated spec. No I/O happens here; emitters (OCI, and
 * later Dockerfile) turn the same plan into output, so both agree.
 *
 * A plan comes from plan_build and is freed with plan_free; it borrows
 * nothing from the spec. */
#ifndef AMLPKG_PLAN_H
#define AMLPKG_PLAN_H

#include "builder/image/plan_env.h"
#include "builder/spec/spec.h"

#include <stddef.h>

/* Image paths; the _REL forms are the same paths as layer entries (no leading '/'). */
#define PLAN_APP_ROOT_REL "var/azureml-app"
#define PLAN_MODELS_ROOT_REL PLAN_APP_ROOT_REL "/azureml-models"
#define PLAN_AMLSERVE_REL "usr/local/bin/amlserve"
#define PLAN_APP_ROOT "/" PLAN_APP_ROOT_REL
#define PLAN_MODELS_ROOT "/" PLAN_MODELS_ROOT_REL
#define PLAN_AMLSERVE_PATH "/" PLAN_AMLSERVE_REL
#define PLAN_PORT 5001
/* Where the spec's swagger samples land, under the app root. */
#define PLAN_INPUT_SAMPLE "input_sample.json"
#define PLAN_OUTPUT_SAMPLE "output_sample.json"
/* Where an image with service.tls expects its certificate and key, mounted at
 * run time (the file names of a Kubernetes TLS secret). */
#define PLAN_TLS_DIR PLAN_APP_ROOT "/tls"

/* One host file or tree copied to image_path (relative to /, no leading '/'). */
struct plan_entry {
    char *image_path;
    char *host_path;
};

struct plan_layer {
    char *created_by; /* history text, also what a reader sees in `podman history` */
    struct plan_entry *entries;
    size_t n_entries;
    int gzip_level;
};

struct plan_label {
    char *key;
    char *value;
};

struct plan {
    struct plan_layer *layers;
    size_t n_layers;
    char **env; /* "KEY=value", in image order */
    size_t n_env;
    struct plan_label *labels; /* sorted by key */
    size_t n_labels;
    char *entrypoint;
    char *workdir;
    int port;
    char *image_name;
    char *image_tag;
    long long created;                   /* SOURCE_DATE_EPOCH */
    char *created_text;                  /* the same as RFC 3339 UTC, for configs and labels */
    struct plan_environment environment; /* base image, steps, conda: below the layers above */
};

/* amlserve_path: the runtime binary to embed. created: seconds since epoch. */
int plan_build(struct plan **out, const struct spec *spec, const char *amlserve_path, long long created);
void plan_free(struct plan *plan);
/* Adds or replaces a config label (copies key and value), keeping labels sorted. */
/* SOURCE_DATE_EPOCH (seconds since 1970), 0 when unset: what builds stamp as their time. */
int plan_source_date_epoch(long long *out);
int plan_set_label(struct plan *plan, const char *key, const char *value);

#endif
