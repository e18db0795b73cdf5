/* A static memory plan for a model's intermediate tensors.
 *
 * The engine has no shape inference, so the plan is learned: the first run
 * with a given set of input shapes records what each node output asked for
 * (ops_alloc_output) and which outputs are views of another's bytes; with
 * each value's last use known from the topologically sorted graph, every
 * buffer gets an offset in one slab, greedily by size, buffers whose
 * lifetimes do not overlap sharing bytes. Later runs with the same input
 * shapes take a slab (one per concurrent run, idle slabs kept with the model)
 * and each planned output lands at its offset; anything else (other shapes, a
 * size that differs, graph outputs and the buffers they view) comes from the
 * request's arena as before. A planned run checks after every node that no
 * output views slab bytes the record did not see it view; if one does (a
 * kernel whose views depend on the data), the run is redone on the arena and
 * the plan dropped.
 *
 * Ownership: the model owns its mem_plan (mem_plan_free); a mem_run lives on
 * the running thread's stack between mem_plan_begin and mem_plan_end. */
#ifndef AMLSERVE_MEM_PLAN_H
#define AMLSERVE_MEM_PLAN_H

#include "tensor.h"

#include <stddef.h>

struct mem_plan;

enum mem_mode { MEM_OFF, MEM_RECORD, MEM_PLANNED };

struct mem_run {
    struct mem_plan *plan;
    enum mem_mode mode;
    unsigned char *slab;
};

/* n_outputs[i]: node i's output count; last_use[i][k]: the last node that
 * reads node i's output k (i itself when none does), -1 for a graph output
 * (never planned). NULL when out of memory. */
struct mem_plan *mem_plan_new(size_t n_nodes, const int *n_outputs, const int *const *last_use);
void mem_plan_free(struct mem_plan *p);

/* Starts a run with these inputs: MEM_PLANNED with a slab when the plan was
 * made for their shapes, MEM_RECORD for the first run, else MEM_OFF. */
void mem_plan_begin(struct mem_plan *p, const struct tensor *inputs, size_t n_inputs, struct mem_run *run);
/* Where node's output k of bytes goes in a planned run, or NULL (the arena). */
void *mem_run_output(struct mem_run *run, size_t node, int k, size_t bytes);
/* The arena gave node's output k these bytes (recorded in a record run). */
void mem_run_note(struct mem_run *run, size_t node, int k, const void *data, size_t bytes);
/* After node ran with these results: 0, or -1 when a planned run must be
 * redone on the arena (an output views slab bytes the plan did not expect). */
int mem_run_node_done(struct mem_run *run, size_t node, const struct tensor *results, int n);
/* Ends the run (ok: it succeeded): a record run makes the plan, a planned
 * run gives its slab back; failed: the plan is dropped (never retried). */
void mem_plan_end(struct mem_run *run, int ok, int failed);

/* The slab's size and what its buffers would take one after another (0, 0 before a plan exists). */
void mem_plan_sizes(const struct mem_plan *p, size_t *slab, size_t *unplanned);

#endif
