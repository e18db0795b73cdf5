#include "builder/env/conda_lock.h"

#include "builder/env/conda_channel.h"
#include "builder/env/conda_solve.h"
#include "builder/env/pip_lock.h"
#include "builder/spec/conda_lockfile.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

int conda_lock_input_digest(char out[DIGEST_STRING_SIZE], const struct conda_env *env, const char *subdir)
{
    return conda_lockfile_input_digest(out, env, subdir);
}

/* Azure ML's default CPU image (Ubuntu 22.04): what its packages may rely on. */
static const char *const default_virtuals[][2] = {{"__glibc", "2.35"}, {"__linux", "5.15"}, {"__unix", "0"}};

static int add_virtuals(struct conda_repodata *repo, const struct conda_lock_options *opt)
{
    int rc = 0;
    for (size_t i = 0; i < opt->n_virtuals && !rc; i++) {
        const char *eq = strchr(opt->virtuals[i], '=');
        if (!eq || eq == opt->virtuals[i] || strncmp(opt->virtuals[i], "__", 2) || !eq[1])
            return err_set(ERR_USAGE, "--virtual '%s': expected __NAME=VERSION (e.g. __glibc=2.28, __cuda=12.2)",
                           opt->virtuals[i]);
        char *name = strndup(opt->virtuals[i], (size_t)(eq - opt->virtuals[i]));
        rc = name ? conda_repodata_add_virtual(repo, name, eq + 1) : nomem();
        free(name);
    }
    for (size_t d = 0; d < sizeof default_virtuals / sizeof default_virtuals[0] && !rc; d++) {
        int given = 0;
        for (size_t i = 0; i < opt->n_virtuals; i++)
            given |= !strncmp(opt->virtuals[i], default_virtuals[d][0], strlen(default_virtuals[d][0])) &&
                     opt->virtuals[i][strlen(default_virtuals[d][0])] == '=';
        if (!given && !(opt->no_glibc && !strcmp(default_virtuals[d][0], "__glibc")))
            rc = conda_repodata_add_virtual(repo, default_virtuals[d][0], default_virtuals[d][1]);
    }
    return rc;
}

/* Reads <channel>/<subdir>/repodata.json for the target subdir and noarch of every channel. */
static int read_channels(struct conda_repodata *repo, char ***urls, const struct conda_env *env, const char *source,
                         const char *subdir, const struct conda_lock_options *opt)
{
    int rc = 0;
    if (!(*urls = calloc(env->n_channels + 1, sizeof **urls)))
        return nomem();
    for (size_t c = 0; c < env->n_channels && !rc; c++) {
        char context[600];
        snprintf(context, sizeof context, "%s: channels[%zu]", source, c);
        if ((rc = conda_channel_url(&(*urls)[c], env->channels[c], opt->channel_alias, context)))
            break;
        const char *subdirs[] = {subdir, "noarch"};
        for (int s = 0; s < 2 && !rc; s++) {
            char *url = NULL;
            struct buf body;
            buf_init(&body, CONDA_REPODATA_MAX_BYTES);
            if (asprintf(&url, "%s/%s/repodata.json", (*urls)[c], subdirs[s]) < 0) {
                url = NULL;
                rc = nomem();
            }
            rc = rc ? rc : conda_channel_fetch(&body, url);
            rc = rc ? rc : conda_repodata_parse(repo, body.data ? body.data : "", body.len, url, env->channels[c],
                                                (int)c, subdirs[s]);
            buf_release(&body);
            free(url);
        }
    }
    return rc;
}

static const char *channel_url_of(char **urls, const struct conda_env *env, const struct conda_record *r)
{
    for (size_t c = 0; c < env->n_channels; c++)
        if (!strcmp(env->channels[c], r->channel))
            return urls[c];
    return "?";
}

int conda_lock_resolve(struct buf *out, const struct conda_env *env, const char *source,
                       const struct conda_lock_options *opt)
{
    const char *subdir = opt->subdir ? opt->subdir : CONDA_LOCK_DEFAULT_SUBDIR;
    if (!env->n_channels)
        return err_set(ERR_INVALID, "%s: channels: none given; name the channels to resolve against (e.g. conda-forge)",
                       source);
    if (!env->n_deps)
        return err_set(ERR_INVALID, "%s: dependencies: nothing to lock", source);
    struct conda_repodata repo = {0};
    char **urls = NULL, input[DIGEST_STRING_SIZE];
    const char **specs = calloc(env->n_deps, sizeof *specs);
    size_t *picked = NULL, n = 0;
    int rc = specs ? read_channels(&repo, &urls, env, source, subdir, opt) : nomem();
    rc = rc ? rc : add_virtuals(&repo, opt);
    for (size_t i = 0; i < env->n_deps && !rc; i++)
        specs[i] = env->deps[i].text;
    rc = rc ? rc : conda_solve(&picked, &n, &repo, specs, env->n_deps, source);
    rc = rc ? rc : conda_lock_input_digest(input, env, subdir);
    for (size_t i = 0; i < n && !rc; i++) {
        const struct conda_record *r = &repo.records[picked[i]];
        if (!r->sha256)
            rc = err_set(ERR_INVALID, "%s/%s/%s: the channel's index gives no sha256 for it: it cannot be locked",
                         channel_url_of(urls, env, r), r->subdir, r->fn);
    }
    if (!rc)
        rc = buf_appendf(out,
                         "# Written by amlpkg lock from %s; do not edit: run amlpkg lock again.\n"
                         "# Conda's explicit format: conda create -p PREFIX --file THIS installs exactly these.\n"
                         "%s%s\n# platform: %s\n@EXPLICIT\n",
                         source, CONDA_LOCKFILE_INPUT_PREFIX, input, subdir);
    for (size_t i = 0; i < n && !rc; i++) {
        const struct conda_record *r = &repo.records[picked[i]];
        rc = buf_appendf(out, "%s/%s/%s#%s\n", channel_url_of(urls, env, r), r->subdir, r->fn, r->sha256);
    }
    rc = rc ? rc : pip_lock_append(out, env, source, &repo, picked, n, subdir, opt->pip_index_url, opt->cache);
    for (size_t c = 0; urls && c < env->n_channels; c++)
        free(urls[c]);
    free(urls);
    free(specs);
    free(picked);
    conda_repodata_release(&repo);
    return rc;
}
