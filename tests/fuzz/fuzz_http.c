/* libFuzzer target: the HTTP request path of amlserve, fed as one connection
 * split at a fuzzer-chosen point, answered by the real Azure ML contract
 * handler with a scorer that echoes or fails (no model needed). Odd first
 * bytes turn key auth on, so the early look at the headers (check_headers)
 * runs too; the request arena has a small limit, so 413 paths run. */
#include "runtime/contract.h"
#include "runtime/server.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Echoes the body back as a 200, or fails on "fail", so both paths run. */
static int echo_score(struct scorer *s, const struct scorer_request *req, struct scorer_response *resp)
{
    (void)s;
    if (req->body_len == 4 && memcmp(req->body, "fail", 4) == 0)
        return -1;
    return buf_append(resp->body, req->body, req->body_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct server_config cfg;
    server_config_defaults(&cfg);
    cfg.max_header_bytes = 1024;
    cfg.max_body_bytes = 4096;
    cfg.max_request_memory_bytes = 16 * 1024;
    cfg.check_headers = contract_check_headers;
    struct scorer scorer = {.kind = "echo", .score = echo_score};
    struct contract contract;
    contract_init(&contract, &scorer, NULL);
    struct auth auth;
    if (auth_init(&auth, data[0] & 1 ? "fuzz-key" : NULL, NULL))
        return 0;
    contract.auth = &auth;

    struct server_session *s = NULL;
    if (server_session_new(&s, &cfg, contract_handle, &contract)) {
        auth_release(&auth);
        return 0;
    }
    struct buf out;
    buf_init(&out, 0);
    size_t split = data[0] % size; /* exercise parser state across reads */
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    if (split > len)
        split = len;
    if (server_session_feed(s, body, split, &out) == 0)
        server_session_feed(s, body + split, len - split, &out);
    buf_release(&out);
    server_session_free(s);
    auth_release(&auth);
    return 0;
}
