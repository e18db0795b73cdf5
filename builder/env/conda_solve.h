/* Resolves conda specs against channel records with libsolv's SAT solver.
 *
 * Debian's libsolv is built without conda support (no REL_CONDA, no conda
 * version order), so conda's semantics live here and libsolv sees a generic
 * pool (why: docs and the design note in conda_solve.c):
 *   - each distinct MatchSpec becomes one dependency name, "spec:<canonical
 *     text>", provided by exactly the records it matches (conda_matchspec.h);
 *   - each record's `constrains` entry becomes a conflict with the records of
 *     that name it does not match;
 *   - preference is encoded in the EVR: the records of one name are ranked
 *     (fewer track_features first, then conda's VersionOrder, then
 *     build_number) and the rank, zero-padded, is the EVR libsolv compares;
 *   - strict channel priority: a name is taken only from the first channel
 *     (in the environment file's order) that has it, unless a root spec
 *     names its channel (`channel::name`), which then supplies that name;
 *   - virtual packages (__glibc, __linux, __unix, __cuda) are records the
 *     caller adds (conda_repodata_add_virtual) and never in the result.
 * libsolv's same-name rule keeps one record per name.
 *
 * An unsatisfiable request is ERR_INVALID with every rule of every problem
 * said in conda's terms: the specs asked for, which record needs which spec,
 * which records exclude each other; so the conflicting specs are named.
 *
 * Ownership: conda_solve returns a malloc'ed array of indices into repo's
 * records (sorted by name), freed by the caller; repo is borrowed. libsolv is
 * loaded on first use (builder/sys/solv_lazy.c). */
#ifndef AMLPKG_CONDA_SOLVE_H
#define AMLPKG_CONDA_SOLVE_H

#include "builder/env/conda_repodata.h"

int conda_solve(size_t **out, size_t *n_out, const struct conda_repodata *repo, const char *const *specs,
                size_t n_specs, const char *context);

#endif
