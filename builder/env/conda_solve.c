/* Design note: mamba builds libsolv with conda support; Debian's package does
 * not have it, and building libsolv from source in `make deps` would add a
 * second copy of a library the system already ships. The conda-specific parts
 * (version order, MatchSpec) are small and testable on their own
 * (builder/spec/conda_version.c, conda_matchspec.c), so the SAT solving is
 * libsolv's and the matching is ours: the cleaner split. */
#include "builder/env/conda_solve.h"

#include "builder/spec/conda_matchspec.h"
#include "common/buf.h"
#include "common/err.h"

#include <solv/pool.h>
#include <solv/poolarch.h>
#include <solv/problems.h>
#include <solv/queue.h>
#include <solv/repo.h>
#include <solv/rules.h>
#include <solv/solver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROBLEM_LINES 12

static int nomem(void)
{
    return err_set(ERR_NOMEM, "out of memory");
}

struct ctx {
    const struct conda_repodata *repo;
    struct conda_matchspec **pins; /* the root specs that name a channel (channel::name), borrowed */
    size_t n_pins;
    const char *context;
    Pool *pool;
    Repo *srepo;
    size_t *order;   /* record indices sorted by name, then rank (worst first) */
    size_t n_order;
    Id *solvable;    /* record index -> solvable id, 0 when excluded (channel priority) */
    size_t *record;  /* solvable id - first -> record index */
    Id first;
    struct conda_matchspec **specs; /* every distinct spec parsed, owned */
    Id *spec_ids;
    size_t n_specs;
};

static const struct conda_record *rec(const struct ctx *c, size_t i)
{
    return &c->repo->records[i];
}

/* Worse first: more track_features, lower version, lower build number (then file name, to be total). */
static int compare_rank(const void *a, const void *b, void *arg)
{
    const struct conda_repodata *repo = arg;
    const struct conda_record *x = &repo->records[*(const size_t *)a], *y = &repo->records[*(const size_t *)b];
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    if (x->n_track_features != y->n_track_features)
        return x->n_track_features > y->n_track_features ? -1 : 1;
    if ((c = conda_version_compare(x->version, y->version)))
        return c;
    if (x->build_number != y->build_number)
        return x->build_number < y->build_number ? -1 : 1;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    return strcmp(x->fn, y->fn);
}

/* Whether a record's channel (as the environment names it: a name, URL or path) is the one a spec's
 * `channel::` asks for: the same text, its last path component ("conda-forge" for
 * ".../conda-forge"), or that with the record's subdir ("conda-forge/linux-64"). */
static int channel_matches(const struct conda_record *r, const char *want)
{
    const char *have = r->channel;
    size_t hn = strlen(have), wn = strlen(want);
    while (hn > 1 && have[hn - 1] == '/')
        hn--;
    char with_subdir[1200];
    const char *slash = strrchr(want, '/');
    if (slash && r->subdir && !strcmp(slash + 1, r->subdir) && !strchr(want, ':')) { /* "name/subdir" */
        wn = (size_t)(slash - want);
        snprintf(with_subdir, sizeof with_subdir, "%.*s", (int)wn, want);
        want = with_subdir;
    }
    if (hn == wn && !strncmp(have, want, wn))
        return 1;
    return hn > wn && !strncmp(have + hn - wn, want, wn) && have[hn - wn - 1] == '/';
}

/* The first record of name in order, by binary search (order is sorted by name). */
static size_t first_of(const struct ctx *c, const char *name)
{
    size_t lo = 0, hi = c->n_order;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(rec(c, c->order[mid])->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void describe_record(struct buf *b, const struct ctx *c, Id p)
{
    if (p < c->first || (size_t)(p - c->first) >= c->repo->n_records) {
        buf_append_str(b, "?");
        return;
    }
    const struct conda_record *r = rec(c, c->record[p - c->first]);
    buf_appendf(b, "%s %s %s", r->name, conda_version_text(r->version), r->build);
}

/* The spec a dependency id stands for: the text after "spec:" / "not:". */
static const char *dep_text(const struct ctx *c, Id dep)
{
    const char *s = pool_id2str(c->pool, dep);
    return !strncmp(s, "spec:", 5) ? s + 5 : !strncmp(s, "not:", 4) ? s + 4 : s;
}

/* The dependency id of spec text, parsing it and giving it its providers the first time. */
static int spec_id(Id *out, struct ctx *c, const char *text, int negated, const char *context)
{
    struct conda_matchspec *m = NULL;
    int rc = conda_matchspec_parse(&m, text, context);
    if (rc)
        return rc;
    char *key = NULL;
    if (asprintf(&key, "%s%s", negated ? "not:" : "spec:", m->text) < 0) {
        conda_matchspec_free(m);
        return nomem();
    }
    Id id = pool_str2id(c->pool, key, 1);
    free(key);
    for (size_t i = 0; i < c->n_specs; i++)
        if (c->spec_ids[i] == id) { /* seen: its providers are in place */
            conda_matchspec_free(m);
            *out = id;
            return 0;
        }
    struct conda_matchspec **specs = realloc(c->specs, (c->n_specs + 1) * sizeof *specs);
    Id *ids = specs ? realloc(c->spec_ids, (c->n_specs + 1) * sizeof *ids) : NULL;
    if (specs)
        c->specs = specs;
    if (!ids) {
        conda_matchspec_free(m);
        return nomem();
    }
    c->spec_ids = ids;
    c->specs[c->n_specs] = m;
    c->spec_ids[c->n_specs++] = id;
    /* Providers: the included records of that name that match (or, negated, do not). */
    for (size_t k = first_of(c, m->name); k < c->n_order && !strcmp(rec(c, c->order[k])->name, m->name); k++) {
        size_t i = c->order[k];
        const struct conda_record *r = rec(c, i);
        if (!c->solvable[i])
            continue;
        int match = conda_matchspec_match(m, r->name, r->version, r->build, r->build_number) &&
                    (!m->channel || channel_matches(r, m->channel));
        if (match != negated) {
            Solvable *s = pool_id2solvable(c->pool, c->solvable[i]);
            s->provides = repo_addid_dep(c->srepo, s->provides, id, 0);
        }
    }
    *out = id;
    return 0;
}

static int add_records(struct ctx *c)
{
    size_t n = c->repo->n_records;
    if (!(c->order = malloc((n ? n : 1) * sizeof *c->order)) || !(c->solvable = calloc(n ? n : 1, sizeof *c->solvable)) ||
        !(c->record = calloc(n ? n : 1, sizeof *c->record)))
        return nomem();
    for (size_t i = 0; i < n; i++)
        c->order[i] = i;
    qsort_r(c->order, n, sizeof *c->order, compare_rank, (void *)c->repo);
    c->n_order = n;
    c->first = 0;
    for (size_t k = 0; k < n;) {
        /* One name: strict channel priority keeps only the first channel that has it. */
        size_t end = k;
        int best = rec(c, c->order[k])->priority;
        while (end < n && !strcmp(rec(c, c->order[end])->name, rec(c, c->order[k])->name)) {
            if (rec(c, c->order[end])->priority < best)
                best = rec(c, c->order[end])->priority;
            end++;
        }
        /* ...unless a root spec names the channel (channel::name): then that channel's records. */
        for (size_t q = 0; q < c->n_pins; q++)
            if (!strcmp(c->pins[q]->name, rec(c, c->order[k])->name))
                for (size_t j = k; j < end; j++)
                    if (channel_matches(rec(c, c->order[j]), c->pins[q]->channel))
                        best = rec(c, c->order[j])->priority;
        Id name = pool_str2id(c->pool, rec(c, c->order[k])->name, 1);
        for (size_t j = k, rank = 0; j < end; j++) {
            size_t i = c->order[j];
            if (rec(c, i)->priority != best)
                continue;
            char evr[32];
            snprintf(evr, sizeof evr, "%010zu", ++rank);
            Id p = repo_add_solvable(c->srepo);
            if (!c->first)
                c->first = p;
            Solvable *s = pool_id2solvable(c->pool, p);
            s->name = name;
            s->evr = pool_str2id(c->pool, evr, 1);
            s->arch = ARCH_NOARCH;
            s->provides = repo_addid_dep(c->srepo, s->provides, pool_rel2id(c->pool, name, s->evr, REL_EQ, 1), 0);
            c->solvable[i] = p;
            c->record[p - c->first] = i;
        }
        k = end;
    }
    return 0;
}

static int add_dependencies(struct ctx *c)
{
    int rc = 0;
    for (size_t i = 0; i < c->repo->n_records && !rc; i++) {
        const struct conda_record *r = rec(c, i);
        if (!c->solvable[i])
            continue;
        char context[1200];
        snprintf(context, sizeof context, "%s/%s/%s: depends", r->channel, r->subdir, r->fn);
        for (size_t d = 0; d < r->n_depends && !rc; d++) {
            Id id;
            if (!(rc = spec_id(&id, c, r->depends[d], 0, context))) {
                Solvable *s = pool_id2solvable(c->pool, c->solvable[i]);
                s->requires = repo_addid_dep(c->srepo, s->requires, id, 0);
            }
        }
        snprintf(context, sizeof context, "%s/%s/%s: constrains", r->channel, r->subdir, r->fn);
        for (size_t d = 0; d < r->n_constrains && !rc; d++) {
            Id id;
            if (!(rc = spec_id(&id, c, r->constrains[d], 1, context))) {
                Solvable *s = pool_id2solvable(c->pool, c->solvable[i]);
                s->conflicts = repo_addid_dep(c->srepo, s->conflicts, id, 0);
            }
        }
    }
    return rc;
}

/* One rule of a problem, in conda's words. */
static void describe_rule(struct buf *b, struct ctx *c, Solver *solver, Id rule)
{
    Id source = 0, target = 0, dep = 0;
    SolverRuleinfo type = solver_ruleinfo(solver, rule, &source, &target, &dep);
    switch (type) {
    case SOLVER_RULE_JOB:
        buf_appendf(b, "you asked for '%s'", dep ? dep_text(c, dep) : "?");
        break;
    case SOLVER_RULE_JOB_NOTHING_PROVIDES_DEP:
    case SOLVER_RULE_JOB_UNKNOWN_PACKAGE:
        buf_appendf(b, "nothing in the channels matches '%s', which you asked for", dep_text(c, dep));
        break;
    case SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP:
        describe_record(b, c, source);
        buf_appendf(b, " needs '%s', which nothing in the channels matches", dep_text(c, dep));
        break;
    case SOLVER_RULE_PKG_REQUIRES:
        describe_record(b, c, source);
        buf_appendf(b, " needs '%s'", dep_text(c, dep));
        break;
    case SOLVER_RULE_PKG_CONFLICTS:
        describe_record(b, c, source);
        buf_appendf(b, " constrains '%s', which ", dep_text(c, dep));
        describe_record(b, c, target);
        buf_append_str(b, " does not match");
        break;
    case SOLVER_RULE_PKG_SAME_NAME:
        buf_append_str(b, "only one of ");
        describe_record(b, c, source);
        buf_append_str(b, " and ");
        describe_record(b, c, target);
        buf_append_str(b, " can be installed");
        break;
    default:
        buf_append_str(b, solver_ruleinfo2str(solver, type, source, target, dep));
        break;
    }
}

/* The rules of every problem, the specs asked for and what nothing provides first (amlpkg's error
 * messages hold about 1000 characters), each said once. */
static int explain(struct ctx *c, Solver *solver, unsigned n_problems)
{
    struct buf b, line;
    buf_init(&b, 64 * 1024);
    buf_init(&line, 4096);
    buf_appendf(&b, "%s: the specs cannot be satisfied together:", c->context);
    Queue rules;
    queue_init(&rules);
    size_t lines = 0;
    for (int pass = 0; pass < 2; pass++)
        for (Id problem = 1; problem <= (Id)n_problems && lines < MAX_PROBLEM_LINES; problem++) {
            queue_empty(&rules);
            solver_findallproblemrules(solver, problem, &rules);
            for (int i = 0; i < rules.count && lines < MAX_PROBLEM_LINES; i++) {
                Id from, to, dep;
                SolverRuleinfo type = solver_ruleinfo(solver, rules.elements[i], &from, &to, &dep);
                int first = type == SOLVER_RULE_JOB || type == SOLVER_RULE_JOB_NOTHING_PROVIDES_DEP ||
                            type == SOLVER_RULE_JOB_UNKNOWN_PACKAGE || type == SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP;
                if (first != (pass == 0))
                    continue;
                buf_reset(&line);
                buf_append_str(&line, "\n  - ");
                describe_rule(&line, c, solver, rules.elements[i]);
                if (line.data && (!b.data || !strstr(b.data, line.data))) {
                    buf_append_str(&b, line.data);
                    lines++;
                }
            }
        }
    queue_free(&rules);
    int rc = err_set(ERR_INVALID, "%s", b.data ? b.data : "unsatisfiable");
    buf_release(&line);
    buf_release(&b);
    return rc;
}

static int compare_by_name(const void *a, const void *b, void *arg)
{
    const struct conda_repodata *repo = arg;
    return strcmp(repo->records[*(const size_t *)a].name, repo->records[*(const size_t *)b].name);
}

int conda_solve(size_t **out, size_t *n_out, const struct conda_repodata *repo, const char *const *specs,
                size_t n_specs, const char *context)
{
    *out = NULL;
    *n_out = 0;
    struct ctx c = {.repo = repo, .context = context};
    Solver *solver = NULL;
    Queue job, decisions;
    queue_init(&job);
    queue_init(&decisions);
    int rc = 0;
    if (!(c.pins = calloc(n_specs + 1, sizeof *c.pins)))
        return nomem();
    for (size_t i = 0; i < n_specs && !rc; i++) { /* errors come later, with the spec's place */
        struct conda_matchspec *m = NULL;
        if (conda_matchspec_parse(&m, specs[i], context) == 0 && m->channel)
            c.pins[c.n_pins++] = m;
        else
            conda_matchspec_free(m);
        err_clear();
    }
    c.pool = pool_create();
    c.srepo = repo_create(c.pool, "channels");
    rc = add_records(&c);
    rc = rc ? rc : add_dependencies(&c);
    for (size_t i = 0; i < n_specs && !rc; i++) {
        char where[600];
        snprintf(where, sizeof where, "%s: dependencies[%zu]", context, i);
        Id id;
        if (!(rc = spec_id(&id, &c, specs[i], 0, where))) {
            queue_push(&job, SOLVER_INSTALL | SOLVER_SOLVABLE_PROVIDES);
            queue_push(&job, id);
        }
    }
    if (rc)
        goto done;
    pool_createwhatprovides(c.pool);
    solver = solver_create(c.pool);
    unsigned n_problems = (unsigned)solver_solve(solver, &job);
    if (n_problems) {
        rc = explain(&c, solver, n_problems);
        goto done;
    }
    solver_get_decisionqueue(solver, &decisions);
    size_t *picked = malloc(((size_t)decisions.count + 1) * sizeof *picked), n = 0;
    if (!picked) {
        rc = nomem();
        goto done;
    }
    for (int i = 0; i < decisions.count; i++) {
        Id p = decisions.elements[i];
        if (p < c.first || (size_t)(p - c.first) >= repo->n_records)
            continue;
        size_t r = c.record[p - c.first];
        if (!repo->records[r].is_virtual)
            picked[n++] = r;
    }
    qsort_r(picked, n, sizeof *picked, compare_by_name, (void *)repo);
    *out = picked;
    *n_out = n;
done:
    if (solver)
        solver_free(solver);
    queue_free(&job);
    queue_free(&decisions);
    pool_free(c.pool);
    for (size_t i = 0; i < c.n_specs; i++)
        conda_matchspec_free(c.specs[i]);
    free(c.specs);
    free(c.spec_ids);
    for (size_t i = 0; i < c.n_pins; i++)
        conda_matchspec_free(c.pins[i]);
    free(c.pins);
    free(c.order);
    free(c.solvable);
    free(c.record);
    return rc;
}
