/* The request arena: memory reused across arena_reset (the next request asks
 * for the same sizes), an outlier's memory given back, limits kept. */
#include "test.h"

#include "common/arena.h"

#include <stdint.h>

TEST(big_blocks_are_reused_after_reset)
{
    struct arena a;
    arena_init(&a, 4096, 0);
    void *small = arena_alloc(&a, 100);
    unsigned char *big1 = arena_alloc(&a, 1 << 20), *big2 = arena_alloc(&a, 3 << 20);
    CHECK(small && big1 && big2);
    memset(big1, 1, 1 << 20);
    memset(big2, 2, 3 << 20);
    arena_reset(&a);
    CHECK_EQ_INT(a.used, 0);
    /* the same sizes again: the same blocks, in any order */
    unsigned char *again2 = arena_alloc(&a, 3 << 20), *again1 = arena_alloc(&a, 1 << 20);
    CHECK(again1 == big1 && again2 == big2);
    CHECK(arena_alloc(&a, 100) == small);
    arena_reset(&a);
    /* a much smaller request does not take a big block: that one waits for its size */
    unsigned char *mid = arena_alloc(&a, 300 << 10);
    CHECK(mid != big1 && mid != big2);
    CHECK(arena_alloc(&a, 1 << 20) == big1);
    arena_release(&a);
}

TEST(an_outlier_request_gives_its_memory_back)
{
    struct arena a;
    arena_init(&a, 4096, 0);
    void *first = arena_alloc(&a, 10);
    for (int i = 0; i < 9; i++)
        CHECK(arena_alloc(&a, 8 << 20) != NULL); /* 72 MB: past the 64 MB mark */
    arena_reset(&a);
    CHECK(a.spare == NULL);
    CHECK(arena_alloc(&a, 10) == first);
    arena_release(&a);
}

TEST(kept_blocks_do_not_count_against_the_limit)
{
    struct arena a;
    arena_init(&a, 4096, 2 << 20);
    CHECK(arena_alloc(&a, 1500 << 10) != NULL);
    CHECK(arena_alloc(&a, 1 << 20) == NULL);
    CHECK(a.over_limit);
    arena_reset(&a);
    CHECK(!a.over_limit);
    CHECK(arena_alloc(&a, 1500 << 10) != NULL);
    CHECK(arena_alloc(&a, 400 << 10) != NULL);
    arena_release(&a);
}

int main(void)
{
    RUN(big_blocks_are_reused_after_reset);
    RUN(an_outlier_request_gives_its_memory_back);
    RUN(kept_blocks_do_not_count_against_the_limit);
    return test_failures ? 1 : 0;
}
