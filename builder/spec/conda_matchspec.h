/* conda's MatchSpec: which packages a dependency line of a conda environment
 * file (or a package's `depends`) accepts, as conda, mamba and rattler read it.
 *
 * Forms: `name`, `name VERSION`, `name VERSION BUILD`, `name=1.2` (prefix:
 * 1.2.*), `name=1.2=BUILD` and `name==1.2` (exact), `name>=1.2,<2`
 * (operators right after the name; spaces after an operator and around ','
 * and '|' are dropped), `channel::name ...` (also `channel/subdir::name`),
 * and `name[version='>=1.2', build='py*', build_number=3]`. BUILD is a glob
 * (`*`, `?`, `[...]`) over the build string. Keys of the bracket form other
 * than version, build, build_number and channel are refused as unsupported.
 *
 * Ownership: conda_matchspec_parse returns an object freed with
 * conda_matchspec_free; it borrows nothing. */
#ifndef AMLPKG_CONDA_MATCHSPEC_H
#define AMLPKG_CONDA_MATCHSPEC_H

#include "builder/spec/conda_version.h"

#define CONDA_MATCHSPEC_MAX 2048

struct conda_matchspec {
    char *channel;               /* NULL: any (a name or URL, with "/subdir" when given) */
    char *name;                  /* lower-case */
    struct conda_vspec *version; /* NULL: any */
    char *build;                 /* glob, NULL: any */
    long long build_number;      /* -1: any */
    char *text;                  /* canonical: "name VERSION BUILD", for messages and keys */
};

/* Parses text; errors name context and the spec. */
int conda_matchspec_parse(struct conda_matchspec **out, const char *text, const char *context);
void conda_matchspec_free(struct conda_matchspec *m);
/* 1 when the package name/version/build/build_number (channel not compared) satisfies m. */
int conda_matchspec_match(const struct conda_matchspec *m, const char *name, const struct conda_version *version,
                          const char *build, long long build_number);

#endif
