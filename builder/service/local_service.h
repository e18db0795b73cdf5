/* A package's service running on this host, without an image: the models
 * laid out as the image would hold them (symbolic links to the spec's files,
 * never copies), the spec's service settings turned into amlserve options,
 * and amlserve started on them. Used by `serve` and `profile`.
 *
 * local_service_start lays out, starts amlserve, and waits for its
 * "listening" line; local_service_stop sends SIGTERM, waits, and removes the
 * layout. A started service must be stopped. The struct is caller-owned. */
#ifndef AMLPKG_LOCAL_SERVICE_H
#define AMLPKG_LOCAL_SERVICE_H

#include "builder/spec/spec.h"

#include <sys/types.h>

struct engine_cmd;

struct local_service_options {
    const char *amlserve; /* binary to run */
    const char *host;     /* listen address; NULL: every address */
    int port;             /* 0: any free port */
    const char *python;   /* interpreter for entry scripts, or NULL (python3) */
    int quiet;            /* no access log */
    int capture_stderr;   /* amlserve's messages go to <root>/amlserve.log, shown only if it fails to start */
    int plain_http;       /* ignore the spec's tls: profile measures the model, not TLS */
};

struct local_service {
    pid_t pid;
    int out_fd;       /* amlserve's stdout after the listening line (the access log) */
    char *root;       /* the layout: <root>/azureml-models/<name>/<version>/<file> */
    char *model_dir;  /* AZUREML_MODEL_DIR as the image sets it */
    char *key_file;   /* keys written for amlserve, or the spec's key file; NULL without auth */
    char keys[2][80]; /* the keys in force when auth is on ("" for none) */
    int port;
    double model_load_ms;
    char *container;           /* for an image under podman: the container id (see image_service.h) */
    struct engine_cmd *podman; /* for an image: how podman is run */
};

/* A random key as 64 hex digits, like the keys Azure ML issues. */
int local_service_random_key(char out[80]);

int local_service_start(struct local_service *svc, const struct spec *spec, const struct local_service_options *opts);
/* Sends SIGHUP: Python workers re-import the entry script, keys are re-read. */
int local_service_reload(struct local_service *svc);
/* 0 while running; else the exit status (or 128+signal) once it has exited. */
int local_service_exited(struct local_service *svc, int *status);
/* Stops either kind: a host process, or a container (image_service_start). */
void local_service_stop(struct local_service *svc);

#endif
