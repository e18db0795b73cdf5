/* The environment part of a plan: what the image's processes run in, derived
 * from the spec's environment section. The daemonless builder lays down only
 * what needs no execution; base images other than scratch, Docker steps and
 * conda installs are rendered by the Dockerfile emitter (and need an engine
 * to run). needs_executor says why, in words a user can act on.
 *
 * struct plan_environment is caller-owned (plan_env_init / plan_env_release);
 * it copies everything it keeps from the spec. */
#ifndef AMLPKG_PLAN_ENV_H
#define AMLPKG_PLAN_ENV_H

#include "builder/spec/envkey.h"
#include "builder/spec/spec.h"

#include <stddef.h>

/* Where the conda environment goes, as Azure ML's environment images put it. */
#define PLAN_ENVS_ROOT "/azureml-envs"
/* Where CUDA images keep their libraries (the toolkit's, and the driver's that the NVIDIA runtime
 * mounts): ahead of the base image's own LD_LIBRARY_PATH in a GPU image. */
#define PLAN_CUDA_LIBRARY_PATH "/usr/local/cuda/lib64:/usr/local/nvidia/lib:/usr/local/nvidia/lib64"

struct plan_environment {
    char key[ENVKEY_HEX_SIZE]; /* the environment key */
    char *base_image;          /* "scratch" or an image reference */
    char **docker_steps;       /* as written */
    size_t n_docker_steps;
    char *conda_yaml;   /* the conda file to create the environment from, or NULL */
    char *conda_lock;   /* environment.lock_file's text: installed instead of solving conda_yaml, or NULL */
    char *conda_prefix; /* PLAN_ENVS_ROOT "/azureml_<key>", or NULL */
    char **env;         /* the environment's variables, "NAME=value": the spec's in file order, then
                                   what amlpkg adds (GPU, interpreter) unless the spec sets that name */
    size_t n_env;
    size_t n_spec_env;     /* env[0..n_spec_env) are the spec's own */
    int gpu;               /* environment.gpu.enabled */
    char *cuda_version;    /* the CUDA version asked for (or the default base's), NULL when unknown */
    int cuda_library_path; /* 1: env holds PLAN_CUDA_LIBRARY_PATH, which goes before the base's */
    char *needs_executor;  /* what only a container run can do, or NULL */
    int conda_native;      /* 1: amlpkg installs conda_lock into conda_prefix itself (env/conda_install.h), on
                              the base or on what the executor made of the Docker steps: a lock, no pip
                              section, a base other than scratch */
};

int plan_env_init(struct plan_environment *out, const struct spec *spec, const char *runtime_version);
void plan_env_release(struct plan_environment *e);
/* 1 when env[i] was added by the GPU choice (NVIDIA_*, LD_LIBRARY_PATH) rather than the spec. */
int plan_env_is_gpu_variable(const struct plan_environment *e, const char *entry);
/* 1 when the base is "scratch": nothing below our own layers. */
int plan_env_is_scratch(const struct plan_environment *e);

#endif
