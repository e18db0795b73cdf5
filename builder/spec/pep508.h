/* Python dependency specifiers (PEP 508): "name[extra,...] (specifiers) ; marker", as written in a conda
 * YAML's pip section and in a wheel's Requires-Dist, and environment markers evaluated for the image the
 * environment is for, not for the machine amlpkg runs on.
 *
 * Markers: `and`, `or`, parentheses, and comparisons of python_version, python_full_version, os_name,
 * sys_platform, platform_machine, platform_system, platform_release, platform_version,
 * platform_python_implementation, implementation_name, implementation_version and extra with quoted
 * strings; version operators compare as PEP 440 versions when both sides parse, as strings otherwise
 * (`in`, `not in` on strings); `extra` compares normalised names. Direct references (`name @ URL`)
 * parse, with the URL kept.
 *
 * Ownership: a pep508_req is a value type holding copies; the marker text points into it. */
#ifndef AMLPKG_PEP508_H
#define AMLPKG_PEP508_H

#include "builder/spec/pep440.h"

#define PEP508_MAX_NAME 128
#define PEP508_MAX_EXTRAS 16
#define PEP508_MAX_TEXT 1024 /* characters of a requirement line */

struct pep508_req {
    char name[PEP508_MAX_NAME]; /* normalised (PEP 503): lower case, runs of -_. as '-' */
    char extras[PEP508_MAX_EXTRAS][PEP508_MAX_NAME];
    size_t n_extras;
    struct pep440_specset spec;
    char url[PEP508_MAX_TEXT]; /* "" unless "name @ URL" */
    char marker[PEP508_MAX_TEXT]; /* "" when none */
};

/* Facts about the target environment that markers ask about (see PEP 508's table). */
struct pep508_env {
    const char *python_version;      /* "3.11" */
    const char *python_full_version; /* "3.11.4" */
    const char *os_name;             /* "posix" */
    const char *sys_platform;        /* "linux" */
    const char *platform_machine;    /* "x86_64" */
    const char *platform_system;     /* "Linux" */
    const char *platform_release, *platform_version;
    const char *platform_python_implementation; /* "CPython" */
    const char *implementation_name;            /* "cpython" */
    const char *implementation_version;         /* "3.11.4" */
};

int pep508_parse(struct pep508_req *out, const char *text, const char **why);
/* 1 when the marker holds for env with extra (normalised, "" for none), 0 when not; ERR_INVALID for a
 * malformed marker (with *why). An empty marker holds. */
int pep508_marker_eval(const char *marker, const struct pep508_env *env, const char *extra, const char **why);
/* PEP 503's normalised name of text[0..len) into out; ERR_INVALID when it is not a valid name. */
int pep508_normalize_name(char *out, size_t size, const char *text, size_t len);

#endif
