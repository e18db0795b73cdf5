/* The libsolv functions the conda solver calls (builder/env/conda_solve.c), loaded on first use
 * (lazy_lib.h): only `amlpkg lock` solves, and every other command starts without it. */
#include "builder/sys/lazy_lib.h"

#include <solv/pool.h>
#include <solv/poolid.h>
#include <solv/problems.h>
#include <solv/queue.h>
#include <solv/repo.h>
#include <solv/rules.h>
#include <solv/solver.h>

#ifndef AMLPKG_SOLV_SONAME
#define AMLPKG_SOLV_SONAME "libsolv.so.1"
#endif

static struct lazy_lib solv = LAZY_LIB(AMLPKG_SOLV_SONAME);

LAZY_FORWARD(solv, Pool *, pool_create, (void), ())
LAZY_FORWARD_VOID(solv, pool_free, (Pool * pool), (pool))
LAZY_FORWARD_VOID(solv, pool_createwhatprovides, (Pool * pool), (pool))
LAZY_FORWARD(solv, Id, pool_str2id, (Pool * pool, const char *s, int create), (pool, s, create))
LAZY_FORWARD(solv, Id, pool_rel2id, (Pool * pool, Id name, Id evr, int flags, int create), (pool, name, evr, flags, create))
LAZY_FORWARD(solv, const char *, pool_id2str, (const Pool *pool, Id id), (pool, id))
LAZY_FORWARD(solv, Repo *, repo_create, (Pool * pool, const char *name), (pool, name))
LAZY_FORWARD(solv, Id, repo_add_solvable, (Repo * repo), (repo))
LAZY_FORWARD(solv, Offset, repo_addid_dep, (Repo * repo, Offset olddeps, Id id, Id marker), (repo, olddeps, id, marker))
LAZY_FORWARD(solv, Solver *, solver_create, (Pool * pool), (pool))
LAZY_FORWARD_VOID(solv, solver_free, (Solver * s), (s))
LAZY_FORWARD(solv, int, solver_solve, (Solver * s, Queue *job), (s, job))
LAZY_FORWARD_VOID(solv, solver_get_decisionqueue, (Solver * s, Queue *q), (s, q))
LAZY_FORWARD_VOID(solv, solver_findallproblemrules, (Solver * s, Id problem, Queue *rules), (s, problem, rules))
LAZY_FORWARD(solv, SolverRuleinfo, solver_ruleinfo, (Solver * s, Id rid, Id *from, Id *to, Id *dep), (s, rid, from, to, dep))
LAZY_FORWARD(solv, const char *, solver_ruleinfo2str, (Solver * s, SolverRuleinfo type, Id source, Id target, Id dep),
             (s, type, source, target, dep))
LAZY_FORWARD_VOID(solv, queue_init, (Queue * q), (q))
LAZY_FORWARD_VOID(solv, queue_free, (Queue * q), (q))
LAZY_FORWARD_VOID(solv, queue_alloc_one, (Queue * q), (q))
