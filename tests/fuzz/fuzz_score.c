/* libFuzzer target: the JSON-to-tensor scoring path of no-code ONNX scoring,
 * with the ridge example's model (found through $FUZZ_ROOT, which run.sh sets). */
#include "common/arena.h"
#include "common/err.h"
#include "runtime/scorer_onnx.h"

#include <stdio.h>
#include <stdlib.h>

static struct scorer *scorer;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *root = getenv("FUZZ_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/onnx-ridge/model.onnx", root ? root : ".");
    if (scorer_onnx_new(&scorer, path) != 0) {
        fprintf(stderr, "fuzz_score: %s\n", err_message(-1));
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    struct arena arena;
    arena_init(&arena, 4096, 64u << 20);
    struct buf body, headers;
    buf_init(&body, 0);
    buf_init(&headers, 0);
    struct scorer_request req = {.method = "POST",
                                 .body = (const char *)data,
                                 .body_len = size,
                                 .query = "",
                                 .path = "/score",
                                 .worker = -1,
                                 .arena = &arena};
    struct scorer_response resp = {
        .status = 200, .content_type = "application/json", .headers = &headers, .body = &body};
    err_clear();
    scorer->score(scorer, &req, &resp);
    buf_release(&body);
    buf_release(&headers);
    arena_release(&arena);
    return 0;
}
