/* libFuzzer target: the Open Inference Protocol's inference path, from the
 * request parser (JSON and the binary extension's header and sizes) through
 * binding to the ridge example's model, the engine, and the response writer.
 * The first three bytes choose the route (model name, version) and whether an
 * Inference-Header-Content-Length header is sent, and with what value. */
#include "common/arena.h"
#include "common/err.h"
#include "runtime/oip.h"
#include "runtime/oip_request.h"
#include "runtime/scorer_onnx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct scorer *scorer;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *root = getenv("FUZZ_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/onnx-ridge/model.onnx", root ? root : ".");
    if (scorer_onnx_new(&scorer, path) != 0) {
        fprintf(stderr, "fuzz_oip: %s\n", err_message(-1));
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 3)
        return 0;
    unsigned mode = data[0];
    size_t header_len = ((size_t)data[1] << 8 | data[2]) % (size - 3 + 2);
    data += 3;
    size -= 3;
    struct arena arena;
    arena_init(&arena, 4096, 64u << 20);
    struct buf body, headers;
    buf_init(&body, 0);
    buf_init(&headers, 0);
    char hlen[32];
    snprintf(hlen, sizeof hlen, (mode & 2) ? "%zux" : "%zu", header_len);
    struct http_header h[1] = {{.name = "Inference-Header-Content-Length", .value = hlen}};
    struct http_request req = {.method = "POST",
                               .path = "/v2/models/model/infer",
                               .query = "",
                               .headers = h,
                               .n_headers = (mode & 1) ? 1 : 0,
                               .body = (const char *)data,
                               .body_len = size,
                               .arena = &arena,
                               .worker = -1};
    struct http_response resp = {.status = 200, .headers = &headers, .body = &body};
    struct oip_route route = {.kind = OIP_INFER, .name = (mode & 4) ? "nosuch" : "model", .version = NULL};
    if (mode & 8)
        route.version = "";
    int failed = 0;
    err_clear();
    oip_serve(scorer, &route, &req, &resp, &failed);
    /* The parser alone as well, on the same bytes. */
    struct oip_request rq;
    err_clear();
    oip_request_parse(&rq, (const char *)data, size, (mode & 1) ? hlen : NULL, &arena);
    err_clear();
    buf_release(&body);
    buf_release(&headers);
    arena_release(&arena);
    return 0;
}
