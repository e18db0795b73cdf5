/* A conda channel's index (`<channel>/<subdir>/repodata.json`) read into
 * package records, for the solver (conda_solve.h).
 *
 * Both "packages" (.tar.bz2) and "packages.conda" (.conda) are read; when a
 * package is in both, the .conda one is kept, as conda does. A record needs
 * name, version and build; depends, constrains, build_number,
 * track_features, sha256, md5, size and subdir are read when present, other
 * keys ignored. Errors name the source, line and column.
 *
 * Ownership: struct conda_repodata is caller-owned (zero it, fill it with
 * conda_repodata_parse, possibly several times, release it with
 * conda_repodata_release); records own all their strings. */
#ifndef AMLPKG_CONDA_REPODATA_H
#define AMLPKG_CONDA_REPODATA_H

#include "builder/spec/conda_version.h"

#include <stddef.h>

#define CONDA_REPODATA_MAX_DEPENDS 1024

struct conda_record {
    char *channel; /* the channel as the environment names it */
    int priority;  /* the channel's place in the environment file: 0 first (strict priority) */
    char *subdir;  /* "linux-64", "noarch" */
    char *fn;      /* file name in <channel>/<subdir>/ */
    char *name, *build;
    struct conda_version *version;
    long long build_number, size;
    char *sha256, *md5; /* hex, or NULL when the index has none */
    char **depends;
    size_t n_depends;
    char **constrains;
    size_t n_constrains;
    int n_track_features;
    int is_virtual; /* __glibc and friends, made by the caller, never downloaded */
};

struct conda_repodata {
    struct conda_record *records;
    size_t n_records;
};

/* Appends the records of one repodata.json (text[0..len)); source names it in messages. */
int conda_repodata_parse(struct conda_repodata *into, const char *text, size_t len, const char *source,
                         const char *channel, int priority, const char *subdir);
/* Appends a virtual package (name "__glibc", version "2.35"). */
int conda_repodata_add_virtual(struct conda_repodata *into, const char *name, const char *version);
void conda_repodata_release(struct conda_repodata *r);

#endif
