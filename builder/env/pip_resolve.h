/* The pip section of a conda environment resolved to wheels, for `amlpkg lock` (issue 19): what pip
 * would install on top of the locked conda packages, found without pip and without running Python.
 *
 * Sources are the section's own options, as pip reads them in a requirements file: --index-url / -i
 * (default PyPI, or the mirror given with `amlpkg lock --pip-index-url`), --extra-index-url,
 * --find-links / -f (a folder, relative to the environment file, or a page), --no-index and --pre;
 * --only-binary, --prefer-binary and --trusted-host are accepted and change nothing (only wheels are
 * locked anyway); other options are refused, naming them. Every source is asked about every project
 * and their files are merged, as pip does.
 *
 * Resolution is backtracking, newest version first: each requirement in order picks the newest
 * version that satisfies every requirement seen so far on that project and has a wheel for the target
 * (wheel_tags.h: its best tag wins); that wheel's Requires-Dist (from the PEP 658 .metadata file when
 * the index offers one, else from the wheel itself) is added, with markers evaluated for the target and
 * the extras asked for; a conflict backtracks to the latest choice with another version left. Yanked
 * files are used only when pinned with ==; pre-releases only when asked for (--pre, or a specifier
 * naming one) or when nothing else matches. Projects the conda part installs (same normalised name)
 * count as installed at their conda version, as pip would see them: they are not locked again, and a
 * requirement they do not satisfy is a conflict. When no resolution exists the error names the
 * requirements on the project that could not be satisfied and who asked for each.
 *
 * Versions with only a source distribution are skipped, as `pip --only-binary :all:` skips them; when no
 * version with a wheel is left, the project is refused, naming the newest matching sdist: building it
 * runs arbitrary code, which the executor route does (build without a lock).
 *
 * Ownership: pins are malloc'ed; free them with pip_pins_free. */
#ifndef AMLPKG_PIP_RESOLVE_H
#define AMLPKG_PIP_RESOLVE_H

#include "builder/env/wheel_tags.h"
#include "cache/cache.h"
#include "builder/spec/conda.h"
#include "builder/spec/pep508.h"

#define PIP_RESOLVE_MAX_ATTEMPTS 20000 /* versions tried before giving up on a pathological request */

struct pip_resolve_options {
    const char *index_mirror; /* replaces the default index (PyPI); NULL: PIP_INDEX_DEFAULT */
    struct cache *cache;      /* every wheel downloaded, and every pinned one, kept there by sha256 (the store
                                 `amlpkg build` fetches from); NULL: none kept */
    struct wheel_target target;
    struct pep508_env markers;
};

/* A project installed by the conda part: name as conda spells it, and its version. */
struct pip_installed {
    const char *name, *version;
};

struct pip_pin {
    char *name;     /* normalised */
    char *version;  /* as the wheel's name writes it */
    char *filename; /* the wheel */
    char *url;      /* where it was found, without fragment */
    char sha256[65];
};

int pip_resolve(struct pip_pin **out, size_t *n_out, const struct conda_env *env, const char *source,
                const struct pip_installed *installed, size_t n_installed, const struct pip_resolve_options *opt);
void pip_pins_free(struct pip_pin *pins, size_t n);

#endif
