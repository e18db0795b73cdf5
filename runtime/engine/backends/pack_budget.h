/* Memory for weights packed at load, beside the mapped model file (whose
 * pages stay shared with the page cache). Packing a weight makes a private
 * copy, so it is bounded: one copy at most PACK_MAX_BYTES, all copies in the
 * process at most PACK_BUDGET_BYTES. Bigger weights are read where they lie
 * (the kernels' unpacked paths), so a large model costs no more resident
 * memory than its file. */
#ifndef AMLSERVE_PACK_BUDGET_H
#define AMLSERVE_PACK_BUDGET_H

#include <stddef.h>

#define PACK_MAX_BYTES ((size_t)16 << 20)
#define PACK_BUDGET_BYTES ((size_t)64 << 20)

/* 1 and the bytes reserved when a copy of this size fits, else 0. */
int pack_budget_take(size_t bytes);
/* Returns what pack_budget_take reserved (the copy was freed, or not made). */
void pack_budget_give(size_t bytes);

#endif
