#include "builder/image/plan_env.h"

#include "common/buf.h"
#include "common/err.h"
#include "builder/spec/conda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int plan_env_is_scratch(const struct plan_environment *e)
{
    return !e->base_image || strcmp(e->base_image, "scratch") == 0;
}

/* A YAML double-quoted scalar: safe for any text a conda file may hold. */
static int yaml_quoted(struct buf *b, const char *s)
{
    int rc = buf_append(b, "\"", 1);
    for (; *s && !rc; s++) {
        if (*s == '"' || *s == '\\')
            rc = buf_append(b, "\\", 1);
        rc = rc ? rc : (*s == '\n' ? buf_append(b, "\\n", 2) : buf_append(b, s, 1));
    }
    return rc ? rc : buf_append(b, "\"", 1);
}

/* The conda file for an inline `conda:` mapping, as written (dependencies in their order). */
static int render_conda(char **out, const struct conda_env *c)
{
    struct buf b;
    buf_init(&b, 0);
    int rc = buf_append_str(&b, "# Written by amlpkg from the spec's inline environment.conda.\n");
    if (!rc && c->n_channels) {
        rc = buf_append_str(&b, "channels:\n");
        for (size_t i = 0; i < c->n_channels && !rc; i++) {
            rc = buf_append_str(&b, "  - ");
            rc = rc ? rc : yaml_quoted(&b, c->channels[i]);
            rc = rc ? rc : buf_append(&b, "\n", 1);
        }
    }
    if (!rc && (c->n_deps || c->n_pip))
        rc = buf_append_str(&b, "dependencies:\n");
    for (size_t i = 0; i < c->n_deps && !rc; i++) {
        rc = buf_append_str(&b, "  - ");
        rc = rc ? rc : yaml_quoted(&b, c->deps[i].text);
        rc = rc ? rc : buf_append(&b, "\n", 1);
    }
    if (!rc && (c->n_pip || c->n_pip_options))
        rc = buf_append_str(&b, "  - pip:\n");
    for (size_t i = 0; i < c->n_pip_options && !rc; i++) {
        rc = buf_append_str(&b, "      - ");
        rc = rc ? rc : yaml_quoted(&b, c->pip_options[i]);
        rc = rc ? rc : buf_append(&b, "\n", 1);
    }
    for (size_t i = 0; i < c->n_pip && !rc; i++) {
        rc = buf_append_str(&b, "      - ");
        rc = rc ? rc : yaml_quoted(&b, c->pip[i].text);
        rc = rc ? rc : buf_append(&b, "\n", 1);
    }
    if (!rc && c->n_vars)
        rc = buf_append_str(&b, "variables:\n");
    for (size_t i = 0; i < c->n_vars && !rc; i++) {
        rc = buf_appendf(&b, "  %s: ", c->vars[i].name);
        rc = rc ? rc : yaml_quoted(&b, c->vars[i].value);
        rc = rc ? rc : buf_append(&b, "\n", 1);
    }
    if (!rc && !(*out = strdup(b.data)))
        rc = err_set(ERR_NOMEM, "out of memory");
    buf_release(&b);
    return rc;
}

static int read_text_file(char **out, const char *path)
{
    struct buf b;
    buf_init(&b, 4u << 20);
    int rc = buf_read_file(&b, path);
    if (!rc && !(*out = strdup(b.data ? b.data : "")))
        rc = err_set(ERR_NOMEM, "out of memory");
    buf_release(&b);
    return rc;
}

static int describe_executor_needs(struct plan_environment *e, const struct spec_environment *s, int installs)
{
    struct buf b;
    buf_init(&b, 0);
    int rc = 0;
    if (s->n_docker_steps)
        rc = buf_appendf(&b, "environment.docker_steps (%zu step%s)", s->n_docker_steps,
                         s->n_docker_steps == 1 ? "" : "s");
    if (!rc && installs)
        rc = buf_appendf(&b, "%sthe conda environment (%zu conda and %zu pip dependencies)", b.len ? ", " : "",
                         s->conda->n_deps, s->conda->n_pip);
    if (!rc && b.len && !(e->needs_executor = strdup(b.data)))
        rc = err_set(ERR_NOMEM, "out of memory");
    buf_release(&b);
    return rc;
}

/* Adds NAME=value unless value is NULL or the spec's own variables already set NAME (the spec wins). */
static int add_variable(struct plan_environment *e, const struct spec_environment *s, const char *name,
                        const char *value)
{
    if (!value)
        return 0;
    for (size_t i = 0; i < s->n_env; i++)
        if (!strcmp(s->env[i].name, name))
            return 0;
    if (asprintf(&e->env[e->n_env], "%s=%s", name, value) < 0) {
        e->env[e->n_env] = NULL;
        return err_set(ERR_NOMEM, "out of memory");
    }
    e->n_env++;
    return 0;
}

/* What the NVIDIA container runtime reads to expose GPUs to the container, and where CUDA's
 * libraries are (in front of the base's LD_LIBRARY_PATH; see PLAN_CUDA_LIBRARY_PATH). */
static int add_gpu_variables(struct plan_environment *e, const struct spec_environment *s)
{
    if (!s->gpu_enabled)
        return 0;
    char require[64] = "";
    if (e->cuda_version)
        snprintf(require, sizeof require, "cuda>=%s", e->cuda_version);
    int rc = add_variable(e, s, "NVIDIA_VISIBLE_DEVICES", "all");
    rc = rc ? rc : add_variable(e, s, "NVIDIA_DRIVER_CAPABILITIES", "compute,utility");
    rc = rc ? rc : add_variable(e, s, "NVIDIA_REQUIRE_CUDA", require[0] ? require : NULL);
    size_t before = e->n_env;
    rc = rc ? rc : add_variable(e, s, "LD_LIBRARY_PATH", PLAN_CUDA_LIBRARY_PATH);
    e->cuda_library_path = !rc && e->n_env > before;
    return rc;
}

/* The interpreter the workers run, when the spec names one: Azure's default "python" means
 * whatever python3 PATH finds (amlserve's own default), so it sets nothing. */
static const char *interpreter_in_image(const struct spec_environment *s)
{
    return s->python_interpreter && strcmp(s->python_interpreter, "python") ? s->python_interpreter : NULL;
}

int plan_env_is_gpu_variable(const struct plan_environment *e, const char *entry)
{
    static const char *const names[] = {
        "NVIDIA_VISIBLE_DEVICES=", "NVIDIA_DRIVER_CAPABILITIES=", "NVIDIA_REQUIRE_CUDA=", "LD_LIBRARY_PATH="};
    if (!e->gpu)
        return 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strncmp(entry, names[i], strlen(names[i])))
            for (size_t j = e->n_spec_env; j < e->n_env; j++)
                if (!strcmp(e->env[j], entry))
                    return 1;
    return 0;
}

int plan_env_init(struct plan_environment *e, const struct spec *spec, const char *runtime_version)
{
    memset(e, 0, sizeof *e);
    const struct spec_environment *s = &spec->environment;
    struct envkey key = {0};
    int rc = envkey_compute(&key, s, runtime_version);
    if (rc)
        return rc;
    snprintf(e->key, sizeof e->key, "%s", key.hex);
    envkey_release(&key);
    if (!(e->base_image = strdup(s->base_image ? s->base_image : "scratch")))
        return err_set(ERR_NOMEM, "out of memory");
    if (s->n_docker_steps && !(e->docker_steps = calloc(s->n_docker_steps, sizeof *e->docker_steps)))
        return err_set(ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n_docker_steps; i++, e->n_docker_steps++)
        if (!(e->docker_steps[i] = strdup(s->docker_steps[i])))
            return err_set(ERR_NOMEM, "out of memory");
    if (!(e->env = calloc(s->n_env + 5, sizeof *e->env)))
        return err_set(ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n_env; i++, e->n_env++)
        if (asprintf(&e->env[i], "%s=%s", s->env[i].name, s->env[i].value) < 0) {
            e->env[i] = NULL;
            return err_set(ERR_NOMEM, "out of memory");
        }
    e->n_spec_env = e->n_env;
    e->gpu = s->gpu_enabled;
    const char *cuda = s->cuda_version;
    if (!cuda && s->gpu_enabled && !strcmp(e->base_image, SPEC_DEFAULT_GPU_BASE_IMAGE))
        cuda = SPEC_DEFAULT_GPU_CUDA_VERSION;
    if (cuda && !(e->cuda_version = strdup(cuda)))
        return err_set(ERR_NOMEM, "out of memory");
    if ((rc = add_gpu_variables(e, s)) || (rc = add_variable(e, s, "AZUREML_PYTHON", interpreter_in_image(s))))
        return rc;
    /* A user-managed environment already has its packages: nothing to install. */
    int installs = s->conda && !s->python_user_managed && (s->conda->n_deps || s->conda->n_pip);
    if (installs) {
        rc = s->conda_file ? read_text_file(&e->conda_yaml, s->conda_file) : render_conda(&e->conda_yaml, s->conda);
        if (!rc && s->lock_file)
            rc = read_text_file(&e->conda_lock, s->lock_file);
        if (rc)
            return rc;
        if (asprintf(&e->conda_prefix, PLAN_ENVS_ROOT "/azureml_%s", e->key) < 0) {
            e->conda_prefix = NULL;
            return err_set(ERR_NOMEM, "out of memory");
        }
    }
    /* A lock (conda packages and pip wheels) is installed by amlpkg itself; Docker steps, which come first,
     * still run in a container. */
    e->conda_native = installs && e->conda_lock && !plan_env_is_scratch(e);
    return describe_executor_needs(e, s, installs && !e->conda_native);
}

void plan_env_release(struct plan_environment *e)
{
    free(e->base_image);
    for (size_t i = 0; i < e->n_docker_steps; i++)
        free(e->docker_steps[i]);
    free(e->docker_steps);
    for (size_t i = 0; i < e->n_env; i++)
        free(e->env[i]);
    free(e->env);
    free(e->conda_yaml);
    free(e->conda_lock);
    free(e->conda_prefix);
    free(e->needs_executor);
    free(e->cuda_version);
    memset(e, 0, sizeof *e);
}
