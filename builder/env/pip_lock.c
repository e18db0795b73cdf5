#include "builder/env/pip_lock.h"

#include "builder/env/pip_resolve.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* conda's subdirs and the machine names Python reports there (platform.machine()). */
static const char *arch_of(const char *subdir)
{
    static const char *const map[][2] = {{"linux-64", "x86_64"},        {"linux-aarch64", "aarch64"},
                                         {"linux-ppc64le", "ppc64le"}, {"linux-s390x", "s390x"},
                                         {"linux-32", "i686"},         {"linux-armv7l", "armv7l"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(subdir, map[i][0]))
            return map[i][1];
    return NULL;
}

static int two_numbers(const char *text, int *major, int *minor)
{
    char tail;
    return sscanf(text, "%d.%d%c", major, minor, &tail) >= 2 && *major >= 0 && *minor >= 0 && *minor < 1000;
}

int pip_lock_append(struct buf *out, const struct conda_env *env, const char *source, const struct conda_repodata *repo,
                    const size_t *picked, size_t n_picked, const char *subdir, const char *index_mirror,
                    struct cache *cache)
{
    if (!env->n_pip)
        return 0;
    struct pip_resolve_options opt = {.index_mirror = index_mirror, .cache = cache};
    const char *python = NULL, *glibc = NULL, *arch = arch_of(subdir);
    if (!arch)
        return err_set(ERR_UNSUPPORTED, "%s: dependencies: pip: wheels are locked for Linux subdirs only, not %s",
                       source, subdir);
    struct pip_installed *installed = calloc(n_picked + 1, sizeof *installed);
    if (!installed)
        return err_set(ERR_NOMEM, "out of memory");
    size_t n_installed = 0;
    for (size_t i = 0; i < n_picked; i++) {
        const struct conda_record *r = &repo->records[picked[i]];
        if (!strcmp(r->name, "python"))
            python = conda_version_text(r->version);
        installed[n_installed++] = (struct pip_installed){.name = r->name, .version = conda_version_text(r->version)};
    }
    for (size_t i = 0; i < repo->n_records; i++)
        if (repo->records[i].is_virtual && !strcmp(repo->records[i].name, "__glibc"))
            glibc = conda_version_text(repo->records[i].version);
    int rc = 0;
    if (!python || !two_numbers(python, &opt.target.py_major, &opt.target.py_minor))
        rc = err_set(ERR_INVALID,
                     "%s: dependencies: pip: the pip section needs python among the conda dependencies "
                     "(its version decides which wheels fit)%s%s",
                     source, python ? "; python's version is " : "", python ? python : "");
    else if (!glibc || !two_numbers(glibc, &opt.target.glibc_major, &opt.target.glibc_minor))
        rc = err_set(ERR_INVALID, "%s: dependencies: pip: the target's glibc is unknown (--virtual __glibc=2.N)",
                     source);
    char python_short[32];
    if (!rc) {
        snprintf(opt.target.arch, sizeof opt.target.arch, "%s", arch);
        snprintf(python_short, sizeof python_short, "%d.%d", opt.target.py_major, opt.target.py_minor);
        opt.markers = (struct pep508_env){.python_version = python_short,
                                          .python_full_version = python,
                                          .os_name = "posix",
                                          .sys_platform = "linux",
                                          .platform_machine = arch,
                                          .platform_system = "Linux",
                                          .platform_release = "",
                                          .platform_version = "",
                                          .platform_python_implementation = "CPython",
                                          .implementation_name = "cpython",
                                          .implementation_version = python};
    }
    struct pip_pin *pins = NULL;
    size_t n = 0;
    rc = rc ? rc : pip_resolve(&pins, &n, env, source, installed, n_installed, &opt);
    if (!rc && n) /* not "# pip " itself: only the wheels' lines start so */
        rc = buf_append_str(out, "# The pip section's wheels: sed -n 's/^# pip //p' THIS | "
                                 "pip install --no-deps -r /dev/stdin installs exactly these.\n");
    for (size_t i = 0; i < n && !rc; i++)
        rc = buf_appendf(out, PIP_LOCK_LINE_PREFIX "%s @ %s#sha256=%s\n", pins[i].name, pins[i].url, pins[i].sha256);
    pip_pins_free(pins, n);
    free(installed);
    return rc;
}
