/* The package spec: what goes into an image, read from spec.yaml.
 *
 * spec_load parses and validates the whole file (names, versions, paths that
 * must exist) so later stages never see an invalid spec. Paths in the struct
 * are resolved against the spec file's directory. A spec comes from spec_load
 * and is freed with spec_free. */
#ifndef AMLPKG_SPEC_H
#define AMLPKG_SPEC_H

#include <stddef.h>

struct conda_env;

/* What a no-code scikit-learn model answers (Azure's predict / predict_proba). */
enum spec_method { SPEC_METHOD_PREDICT, SPEC_METHOD_PREDICT_PROBA, SPEC_METHOD_BOTH };

struct spec_model {
    char *name;
    long long version;
    char *path;      /* resolved host path, a file or a directory; after a scikit-learn conversion, the ONNX file */
    char *framework; /* may be NULL */
    int is_dir;
    int line;                /* where the entry starts in the spec, for later errors */
    int sklearn;             /* framework names scikit-learn: converted to ONNX-ML when there is no entry script */
    enum spec_method method; /* scikit-learn: which outputs the converted model answers */
    char *source_path;       /* after a conversion: the pickle path as given (path was replaced), else NULL */
};

/* inference: how requests are answered. Without an entry script the package
 * is no-code: amlserve scores the ONNX model natively. */
struct spec_inference {
    char *entry_script;     /* resolved host path, or NULL */
    char *source_directory; /* resolved host path, or NULL (the script's folder) */
    int python;             /* runtime: python (entry script) or native */
    /* source_directory given as {git: {url, ref}}: the checkout (removed by spec_free), its commit and URL */
    char *git_checkout_dir, *git_commit, *git_url;
};

/* service: amlserve's settings; 0 / NULL means amlserve's default. */
struct spec_service {
    int port;                    /* host port for `serve` (the image always listens on 5001) */
    int workers;                 /* scoring threads / Python workers */
    long timeout_ms;             /* time run() may take */
    int max_request_mb;          /* largest request body */
    int max_concurrent_requests; /* per container; more wait in the queue up to max_queue_wait_ms */
    long max_queue_wait_ms;
    int auth_enabled;        /* keys given, or generated when only `enabled: true` */
    char *auth_keys[2];      /* primary, secondary; may be NULL */
    char *auth_key_file;     /* resolved host path, or NULL */
    char *token_secret_file; /* token auth (HS256 JWTs) instead of keys: the shared secret, or NULL */
    char *cors_origins;      /* comma-separated, or "*", or NULL */
    char *input_sample;      /* resolved host paths, or NULL */
    char *output_sample;
    char *tls_cert_file;        /* HTTPS for serve (resolved host paths, a matching pair), or NULL; */
    char *tls_key_file;         /* images only expect the pair mounted at run time (PLAN_TLS_DIR) */
    int target_utilization_pct; /* autoscaler target (Azure's autoScaler.targetUtilization), 0: unset */
};

struct spec_env_var {
    char *name;
    char *value;
};

/* environment: what the model's process runs in. Always filled in; without an
 * environment section it holds the defaults (line 0). */
struct spec_environment {
    int line;                /* where the section starts, 0 when absent */
    char *name;              /* informational, may be NULL; not part of the key */
    char *conda_file;        /* resolved path, or NULL (inline conda: or none) */
    char *lock_file;         /* environment.lock_file resolved, or NULL: checked against conda (not stale) */
    char lock_digest[72];    /* "sha256:<hex>" of the lock file's bytes (part of the key), "" without one */
    struct conda_env *conda; /* from conda_file or the inline conda mapping, or NULL */
    char *base_image;        /* as set; else the GPU default with gpu.enabled, the CPU default when the
                                package needs Python or a shell (see spec_finish), "scratch" otherwise */
    char **docker_steps;     /* as written: list items, or the one block string */
    size_t n_docker_steps;
    struct spec_env_var *env; /* in file order; names are unique */
    size_t n_env;
    int gpu_enabled;
    char *cuda_version;       /* NULL unless set (only with gpu.enabled) */
    char *python_interpreter; /* "python" unless set */
    int python_user_managed;  /* the image already has the packages: no conda step */
    int allow_scripts;        /* run the lock's post-link scripts through the executor (build --allow-scripts) */
};

#define SPEC_DEFAULT_BASE_IMAGE "scratch"
/* With an entry script, conda dependencies or Docker steps and no base image: Azure ML's default CPU
 * image, as Azure uses it (specs/azureml-mapping.md, "Default base images", cites where from).
 * Air-gapped sites point mcr.microsoft.com at a mirror (registries.conf, builder/registry/registries_conf.h). */
#define SPEC_DEFAULT_CPU_BASE_IMAGE "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"
/* With gpu.enabled and no base image: Azure ML's default GPU image, and the CUDA version it carries. */
#define SPEC_DEFAULT_GPU_BASE_IMAGE "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.3-cudnn8-ubuntu20.04"
#define SPEC_DEFAULT_GPU_CUDA_VERSION "11.3"

/* deploymentconfig.json's cluster settings (builder/spec/deployment_config.h), which only
 * `amlpkg deploy` applies; 0 / NULL / -1 where a field says "not given". */
struct spec_probe {
    int period_s, initial_delay_s, timeout_s, success_threshold, failure_threshold;
};

struct spec_deploy {
    char *file;         /* the deploymentconfig.json read, or NULL */
    char *compute_type; /* as written: local, ACI, AKS, AKSENDPOINT */
    char *namespace_;   /* Kubernetes namespace, or NULL */
    int num_replicas;   /* fixed replicas without an autoscaler; 0: not given */
    long cpu_millis, cpu_limit_millis;    /* CPU request and limit, in millicores */
    long memory_mib, memory_limit_mib;    /* memory request and limit, in MiB */
    int gpu;                              /* GPUs (nvidia.com/gpu) */
    int autoscale_enabled;                /* -1: not given (Azure: on for AKS unless numReplicas is set) */
    int min_replicas, max_replicas;       /* 0: not given */
    int refresh_s;                        /* autoscaler polling, seconds; 0: not given */
    struct spec_probe liveness;           /* livenessProbeRequirements */
    int ssl_enabled;                      /* sslEnabled: amlserve terminates TLS with a mounted pair */
    /* Fields given that a Kubernetes cluster has no use for: "file:line: field: reason". */
    char **notes;
    size_t n_notes;
};

struct spec {
    char *file; /* the spec file as given */
    char *dir;  /* its directory */
    struct spec_model *models;
    size_t n_models;
    char *image_name; /* output.name, defaults to the first model's name */
    char *image_tag;  /* output.tag, defaults to the first model's version */
    struct spec_inference inference;
    struct spec_service service;
    struct spec_environment environment;
    /* Files amlpkg made for this package (converted models, samples); the
     * directory is removed by spec_free. NULL when nothing was made. */
    char *generated_dir;
    struct spec_deploy deploy;
};

#define SPEC_MAX_MODELS 1000

/* spec_read parses every section this version understands. SPEC_READ_ENVIRONMENT
 * accepts an environment section; without it the section is refused, because
 * `amlpkg build` does not build environments into images yet and must not
 * ignore one silently (`amlpkg hash` reads it). spec_load is spec_read(.., 0). */
enum {
    SPEC_READ_ENVIRONMENT = 1,
    /* `amlpkg lock`, which writes environment.lock_file: the lock named need not exist or be current */
    SPEC_READ_NO_LOCK = 2,
};
int spec_read(struct spec **out, const char *path, unsigned flags);
int spec_load(struct spec **out, const char *path);
/* Fills defaults that depend on the whole spec (image name and tag); for
 * loaders other than spec_load. */
int spec_finish(struct spec *spec);
void spec_free(struct spec *spec);

/* Azure ML's model-name rule: ^[a-zA-Z0-9][a-zA-Z0-9\-\._]{0,254}$ */
int spec_valid_model_name(const char *name);
/* OCI repository path components and tags. */
int spec_valid_image_name(const char *name);
int spec_valid_tag(const char *tag);
/* Whether a framework name means scikit-learn: "scikit-learn", "sklearn" or
 * Azure's "ScikitLearn" (any case). */
int spec_framework_is_sklearn(const char *framework);
/* Azure ML's model_framework values (Model.Framework) and the spellings above;
 * for --model-framework. */
int spec_framework_valid(const char *framework);
/* "predict", "predict_proba" or "both"; -1 for anything else. */
int spec_method_parse(const char *s);
const char *spec_method_name(enum spec_method m);
/* A CUDA version: digits and single dots, such as "11.3" (it reaches ENV, LABEL and a comment). */
int spec_valid_cuda_version(const char *s);

#endif
