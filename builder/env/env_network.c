#include "builder/env/env_network.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define MAX_WORDS 256

/* Shell words, split on blanks and the operators that start a new command; a path's last part only
 * ("/usr/bin/pip3" is "pip3"). Words longer than the buffer are cut. */
static int is_separator(char c)
{
    return isspace((unsigned char)c) || strchr(";&|()`\\\"'", c);
}

static size_t split_words(const char *s, char words[][32], size_t max)
{
    size_t n = 0;
    while (n < max) {
        while (*s && is_separator(*s))
            s++;
        size_t len = 0;
        while (s[len] && !is_separator(s[len]))
            len++;
        if (!len)
            break;
        const char *word = s;
        size_t keep = len;
        const char *url = strstr(word, "://");
        if (!url || url >= word + len) /* a path: its last part; a URL stays whole */
            for (size_t i = len; i > 0; i--)
                if (word[i - 1] == '/') {
                    word += i;
                    keep -= i;
                    break;
                }
        snprintf(words[n++], 32, "%.*s", (int)keep, word);
        s += len;
    }
    return n;
}

static int is(const char *word, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(word, *set))
            return 1;
    return 0;
}

/* 1 when one of verbs follows word i within the same command (before the next tool name). */
static int followed_by(char words[][32], size_t n, size_t i, const char *const *verbs)
{
    for (size_t j = i + 1; j < n && j < i + 8; j++)
        if (is(words[j], verbs))
            return 1;
    return 0;
}

const char *env_network_reason(const char *step)
{
    static char words[MAX_WORDS][32];
    size_t n = split_words(step, words, MAX_WORDS);
    static const char *const pip[] = {"pip", "pip3", "pip2", "uv", NULL};
    static const char *const pip_verbs[] = {"install", "download", NULL};
    static const char *const apt[] = {"apt-get", "apt", "aptitude", NULL};
    static const char *const apt_verbs[] = {"install", "update", "upgrade", "dist-upgrade", "build-dep", NULL};
    static const char *const rpm[] = {"yum", "dnf", "microdnf", "zypper", "tdnf", NULL};
    static const char *const rpm_verbs[] = {"install", "update", "upgrade", "in", NULL};
    static const char *const apk_verbs[] = {"add", "update", "upgrade", NULL};
    static const char *const conda[] = {"conda", "mamba", "micromamba", NULL};
    static const char *const conda_verbs[] = {"install", "create", "update", "upgrade", NULL};
    static const char *const npm[] = {"npm", "yarn", "pnpm", NULL};
    static const char *const npm_verbs[] = {"install", "add", "ci", "i", NULL};
    static const char *const fetch[] = {"curl", "wget", NULL};
    static const char *const clone[] = {"clone", "fetch", "pull", NULL};
    static const char *const gem_verbs[] = {"install", NULL};
    if (n && !strcasecmp(words[0], "ADD"))
        for (size_t i = 1; i < n; i++)
            if (!strncmp(words[i], "http://", 7) || !strncmp(words[i], "https://", 8))
                return "ADD downloads a URL";
    int no_index = strstr(step, "--no-index") != NULL;
    for (size_t i = 0; i < n; i++) {
        const char *w = words[i];
        if (is(w, pip) && !no_index && followed_by(words, n, i, pip_verbs))
            return "pip installs from a package index";
        if (!strcmp(w, "-m") && i + 1 < n && !strcmp(words[i + 1], "pip") && !no_index &&
            followed_by(words, n, i + 1, pip_verbs))
            return "pip installs from a package index";
        if (is(w, apt) && followed_by(words, n, i, apt_verbs))
            return "apt-get reads the distribution's mirrors";
        if (is(w, rpm) && followed_by(words, n, i, rpm_verbs))
            return "the package manager reads the distribution's mirrors";
        if (!strcmp(w, "apk") && followed_by(words, n, i, apk_verbs))
            return "apk reads the distribution's mirrors";
        if (is(w, conda) && followed_by(words, n, i, conda_verbs))
            return "conda installs from a channel";
        if (is(w, npm) && followed_by(words, n, i, npm_verbs))
            return "npm installs from a registry";
        if (!strcmp(w, "gem") && followed_by(words, n, i, gem_verbs))
            return "gem installs from a registry";
        if (is(w, fetch))
            return "it downloads (curl/wget)";
        if (!strcmp(w, "git") && followed_by(words, n, i, clone))
            return "git fetches a repository";
    }
    return NULL;
}

/* The step's first line, cut to fit one terminal line. */
static void excerpt(char out[72], const char *step)
{
    size_t n = strcspn(step, "\n");
    if (n > 60)
        snprintf(out, 72, "%.57s...", step);
    else
        snprintf(out, 72, "%.*s", (int)n, step);
}

size_t env_network_warn(const struct plan_environment *env)
{
    size_t warned = 0;
    for (size_t i = 0; i < env->n_docker_steps; i++) {
        const char *why = env_network_reason(env->docker_steps[i]);
        if (!why)
            continue;
        char text[72];
        excerpt(text, env->docker_steps[i]);
        fprintf(stderr,
                "amlpkg build: warning: environment %.12s is not reproducible: environment.docker_steps[%zu] "
                "(%s): %s\n",
                env->key, i, text, why);
        warned++;
    }
    if (env->conda_prefix) {
        fprintf(stderr,
                "amlpkg build: warning: environment %.12s is not reproducible: the conda install (%s): conda "
                "%s\n",
                env->key, env->conda_lock ? "environment.lock_file" : "environment.conda_file",
                env->conda_lock ? "downloads the locked packages from their channels and records install times"
                                : "solves and downloads from the channels as they are today");
        warned++;
    }
    return warned;
}
