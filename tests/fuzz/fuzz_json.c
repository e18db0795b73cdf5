/* libFuzzer target: the JSON reader that parses every /score body. */
#include "common/arena.h"
#include "common/err.h"
#include "common/json.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arena arena;
    arena_init(&arena, 4096, 64u << 20);
    struct json_value *v = NULL;
    err_clear();
    if (json_parse(&v, &arena, (const char *)data, size, "fuzz") == 0) {
        /* Walk the tree so every node pointer is touched. */
        struct buf out;
        buf_init(&out, 0);
        for (const struct json_value *c = v->child; c; c = c->next)
            if (c->type == JSON_STRING)
                json_write_string(&out, c->as.string.ptr, c->as.string.len);
            else if (c->type == JSON_NUMBER)
                json_write_double(&out, c->as.number);
        buf_release(&out);
    }
    arena_release(&arena);
    return 0;
}
