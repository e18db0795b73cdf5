/* Kubernetes objects for a package: a kustomize folder (kustomization.yaml,
 * deployment.yaml, service.yaml, pdb.yaml and the autoscaler) written from the
 * spec's service settings and Azure's deploymentconfig.json (spec->deploy),
 * for an image given by digest; or, for KServe, kustomization.yaml and
 * inferenceservice.yaml. The mapping is specs/kubernetes-mapping.md.
 *
 * deploy_plan_make resolves every setting (Azure's AKS defaults where a field
 * is not given) and checks it, so writing can no longer fail on input; the
 * writers then produce byte-stable YAML. struct deploy_plan is caller-owned
 * and holds borrowed pointers into the spec and the request: keep both alive. */
#ifndef AMLPKG_DEPLOY_H
#define AMLPKG_DEPLOY_H

#include "builder/spec/spec.h"

enum deploy_autoscaler { DEPLOY_AUTOSCALER_KEDA, DEPLOY_AUTOSCALER_HPA, DEPLOY_AUTOSCALER_CPU };

struct deploy_request {
    const char *image;        /* REF@sha256:<64 hex>, required */
    const char *name;         /* object names; NULL: from the spec's image name */
    const char *namespace_;   /* NULL: deploymentconfig.json's, else none */
    const char *service_type; /* ClusterIP (default), NodePort or LoadBalancer */
    const char *prometheus;   /* the KEDA trigger's server; NULL: DEPLOY_DEFAULT_PROMETHEUS */
    enum deploy_autoscaler autoscaler;
    int kserve; /* a KServe InferenceService instead of Deployment, Service, PDB and autoscaler */
};

#define DEPLOY_DEFAULT_PROMETHEUS "http://prometheus-operated.monitoring.svc:9090"
/* Where the Secret with keys or the token secret is mounted in the container. */
#define DEPLOY_SECRET_DIR "/var/run/secrets/amlserve"
/* amlserve drains for at most 30 s after SIGTERM (runtime/server.c, DRAIN_LIMIT_MS). */
#define DEPLOY_DRAIN_SECONDS 30

struct deploy_plan {
    const struct spec *spec;
    const struct deploy_request *req;
    char name[64];
    const char *part_of;    /* an endpoint's name for its versions' labels, or NULL */
    int canary_pct;         /* KServe: canaryTrafficPercent of a two-version endpoint; 0: none */
    const char *canary_of;  /* KServe: the version the canary's remaining traffic stays on */
    const char *namespace_; /* or NULL */
    const char *service_type;
    int autoscale, replicas, min_replicas, max_replicas, refresh_s, target_pct;
    int max_concurrent; /* per replica; the autoscaler's unit */
    long scoring_timeout_ms, queue_wait_ms;
    long cpu_m, cpu_limit_m, mem_mi, mem_limit_mi;
    int gpu;
    int auth; /* 0 none, 1 keys, 2 token */
    int tls;  /* sslEnabled or service.tls: a kubernetes.io/tls Secret mounted where amlserve expects it */
    struct spec_probe liveness;
    int startup_failures; /* the startup probe's budget for the model load, in 5 s periods */
};

int deploy_plan_make(struct deploy_plan *out, const struct spec *spec, const struct deploy_request *req);

/* The files of the folder, in kustomization order; deploy_file_text returns a
 * malloc'd YAML text of the i-th (NULL past the end), *name its file name. */
int deploy_file_text(char **out, const char **name, const struct deploy_plan *p, int i);
/* A folder's files in order, each name and text malloc'd (deploy_files_release). */
#define DEPLOY_MAX_FILES 128
struct deploy_files {
    char *names[DEPLOY_MAX_FILES];
    char *texts[DEPLOY_MAX_FILES];
    size_t n;
};
void deploy_files_release(struct deploy_files *f);
/* Takes text (freed on failure too). */
int deploy_files_add(struct deploy_files *f, const char *name, char *text);
/* The plan's files; with suffix (an endpoint's version), named deployment-SUFFIX.yaml ... and without
 * kustomization.yaml, which the endpoint writes for all versions. */
int deploy_files_for_plan(struct deploy_files *out, const struct deploy_plan *p, const char *suffix);
/* Writes the folder: into a staging directory beside dir, then renamed into
 * place, so a failure leaves nothing. An existing dir must be one amlpkg deploy
 * wrote (its kustomization.yaml says so): it is replaced. */
int deploy_files_write(const struct deploy_files *f, const char *dir);
/* deploy_files_for_plan + deploy_files_write. */
int deploy_write_folder(const struct deploy_plan *p, const char *dir);
/* Replaces one file of a folder amlpkg deploy wrote, atomically (--set-traffic's route). */
int deploy_file_replace(const char *dir, const char *name, const char *text);
/* The Secret the Deployment reads (keys, or the token secret): its value is the
 * spec's keys (one a line) or token secret, else two new random keys
 * (deploy_secret_value, malloc'd); deploy_secret_text makes the Secret (with
 * stringData, readable) for --create-secret, written beside, never into, the
 * folder. deploy_podman_secret_text is the same Secret in the form podman 4.3
 * reads for `podman secret create` (data not base64-encoded: podman does not
 * decode it); it is never a manifest for a cluster. */
int deploy_secret_value(char **out, const struct deploy_plan *p);
int deploy_secret_text(char **out, const struct deploy_plan *p, const char *value);
int deploy_podman_secret_text(char **out, const struct deploy_plan *p, const char *value);
/* The Deployment for `podman kube play`: one replica, port 5001 published on
 * 127.0.0.1:host_port; otherwise the Deployment of the folder. */
int deploy_podman_text(char **out, const struct deploy_plan *p, int host_port);

#endif
