#include "pack_budget.h"

#include <stdatomic.h>

static atomic_size_t in_use;

int pack_budget_take(size_t bytes)
{
    if (bytes > PACK_MAX_BYTES)
        return 0;
    size_t now = atomic_load(&in_use);
    do {
        if (now + bytes > PACK_BUDGET_BYTES)
            return 0;
    } while (!atomic_compare_exchange_weak(&in_use, &now, now + bytes));
    return 1;
}

void pack_budget_give(size_t bytes)
{
    atomic_fetch_sub(&in_use, bytes);
}
