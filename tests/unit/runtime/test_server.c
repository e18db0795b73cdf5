/* The HTTP layer through server_session: bytes in, bytes the server would
 * write out. An echo handler shows what the request looked like. */
#include "test.h"

#include "runtime/server.h"

static struct server_config cfg;
static struct buf out;
static int calls;

/* Answers "METHOD PATH?QUERY len=N body" so tests see what was parsed. */
static void echo_handler(void *ctx, const struct http_request *req, struct http_response *resp)
{
    (void)ctx;
    calls++;
    if (req->error_status) {
        resp->status = req->error_status;
        buf_appendf(resp->body, "error %s", req->error_message ? req->error_message : "");
        return;
    }
    resp->status = 200;
    resp->content_type = "text/plain";
    buf_appendf(resp->body, "%s %s?%s len=%zu ", req->method, req->path, req->query, req->body_len);
    buf_append(resp->body, req->body, req->body_len);
}

/* Feeds text in chunks of `step` bytes; returns what feed returned last. */
static int feed(const char *text, size_t step)
{
    struct server_session *s = NULL;
    calls = 0;
    buf_reset(&out);
    if (server_session_new(&s, &cfg, echo_handler, NULL))
        return -2;
    size_t len = strlen(text);
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i += step) {
        size_t n = len - i < step ? len - i : step;
        rc = server_session_feed(s, text + i, n, &out);
    }
    server_session_free(s);
    buf_append(&out, "", 1); /* NUL for strstr */
    return rc;
}

static int count(const char *needle)
{
    int n = 0;
    for (const char *p = out.data; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

TEST(answers_a_simple_get)
{
    CHECK_EQ_INT(feed("GET /score?a=1 HTTP/1.1\r\nHost: x\r\n\r\n", 1 << 20), 0);
    CHECK(strncmp(out.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(out.data, "GET /score?a=1 len=0") != NULL);
    CHECK(strstr(out.data, "Content-Length: ") != NULL);
}

TEST(pipelined_requests_answer_in_order)
{
    const char *two = "POST /score HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                      "GET /second HTTP/1.1\r\n\r\n";
    CHECK_EQ_INT(feed(two, 1 << 20), 0);
    CHECK_EQ_INT(calls, 2);
    char *first = strstr(out.data, "POST /score? len=3 abc");
    char *second = strstr(out.data, "GET /second?");
    CHECK(first && second && first < second);
}

TEST(byte_at_a_time_input_parses_the_same)
{
    CHECK_EQ_INT(feed("POST /score HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 1), 0);
    CHECK(strstr(out.data, "POST /score? len=5 hello") != NULL);
}

TEST(chunked_bodies_are_joined)
{
    CHECK_EQ_INT(feed("POST /score HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
                      7),
                 0);
    CHECK(strstr(out.data, "len=7 abcdefg") != NULL);
}

TEST(expect_100_continue_gets_an_interim_response)
{
    CHECK_EQ_INT(feed("POST /score HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", 1 << 20), 0);
    CHECK(strncmp(out.data, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
    CHECK_EQ_INT(calls, 0);
}

TEST(too_large_bodies_are_413_and_close)
{
    struct server_config saved = cfg;
    cfg.max_body_bytes = 10;
    int rc = feed("POST /score HTTP/1.1\r\nContent-Length: 11\r\n\r\n01234567890", 1 << 20);
    cfg = saved;
    CHECK_EQ_INT(rc, -1);
    CHECK(strncmp(out.data, "HTTP/1.1 413 ", 13) == 0);
    CHECK(strstr(out.data, "Connection: close") != NULL);
}

TEST(too_large_chunked_bodies_are_413)
{
    struct server_config saved = cfg;
    cfg.max_body_bytes = 10;
    int rc = feed(
        "POST /score HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n", 5);
    cfg = saved;
    CHECK_EQ_INT(rc, -1);
    CHECK(strncmp(out.data, "HTTP/1.1 413 ", 13) == 0);
}

TEST(too_large_headers_are_431)
{
    struct server_config saved = cfg;
    cfg.max_header_bytes = 64;
    int rc =
        feed("GET / HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
             1 << 20);
    cfg = saved;
    CHECK_EQ_INT(rc, -1);
    CHECK(strncmp(out.data, "HTTP/1.1 431 ", 13) == 0);
}

TEST(garbage_is_400_and_close)
{
    CHECK_EQ_INT(feed("NOT HTTP AT ALL\r\n\r\n", 1 << 20), -1);
    CHECK(strncmp(out.data, "HTTP/1.1 400 ", 13) == 0);
}

TEST(connection_close_is_honoured)
{
    CHECK_EQ_INT(feed("GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n", 1 << 20), -1);
    CHECK_EQ_INT(count("HTTP/1.1 200"), 1);
    CHECK(strstr(out.data, "Connection: close") != NULL);
}

TEST(http_1_0_closes_unless_keep_alive)
{
    CHECK_EQ_INT(feed("GET / HTTP/1.0\r\n\r\n", 1 << 20), -1);
    CHECK_EQ_INT(feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1 << 20), 0);
}

TEST(header_lookup_is_case_insensitive)
{
    struct http_header h[] = {{"Content-Type", "application/json"}, {"x-ms-client-request-id", "abc"}};
    struct http_request req = {.headers = h, .n_headers = 2};
    CHECK_STR(http_request_header(&req, "content-type"), "application/json");
    CHECK_STR(http_request_header(&req, "X-MS-Client-Request-Id"), "abc");
    CHECK(http_request_header(&req, "missing") == NULL);
}

/* check_headers hook: refuses any request without "Authorization: ok". */
static int headers_seen_body_len = -1;
static int refuse_without_ok(void *ctx, const struct http_request *req, struct http_response *resp)
{
    (void)ctx;
    headers_seen_body_len = (int)req->body_len;
    const char *a = http_request_header(req, "authorization");
    if (a && strcmp(a, "ok") == 0 && req->headers_only)
        return 0;
    resp->status = 401;
    buf_append_str(resp->body, "refused on the headers");
    return 1;
}

TEST(check_headers_refuses_before_the_body_and_100_continue)
{
    struct server_config saved = cfg;
    cfg.check_headers = refuse_without_ok;
    const char *wrong = "POST /score HTTP/1.1\r\nAuthorization: no\r\nExpect: 100-continue\r\n"
                        "Content-Length: 5\r\n\r\nhello";
    CHECK_EQ_INT(feed(wrong, 1 << 20), -1);
    CHECK(strncmp(out.data, "HTTP/1.1 401 ", 13) == 0); /* no 100 Continue before it */
    CHECK_EQ_INT(count("100 Continue"), 0);
    CHECK(strstr(out.data, "Connection: close") != NULL);
    CHECK_EQ_INT(calls, 0); /* the handler never saw it */
    CHECK_EQ_INT(headers_seen_body_len, 0);
    const char *right = "POST /score HTTP/1.1\r\nAuthorization: ok\r\nExpect: 100-continue\r\n"
                        "Content-Length: 5\r\n\r\nhello";
    CHECK_EQ_INT(feed(right, 1 << 20), 0);
    CHECK(strncmp(out.data, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ", 36) == 0);
    CHECK(strstr(out.data, "POST /score? len=5 hello") != NULL);
    cfg = saved;
}

/* The request arena's limit, and the flag a handler reads to answer 413. */
static void arena_hog(void *ctx, const struct http_request *req, struct http_response *resp)
{
    (void)ctx;
    int got = arena_alloc(req->arena, 4096) != NULL;
    resp->status = 200;
    buf_appendf(resp->body, "got=%d over=%d", got, req->arena->over_limit);
}

TEST(request_memory_limit_sets_over_limit)
{
    struct server_config saved = cfg;
    cfg.max_request_memory_bytes = 1024;
    struct server_session *s = NULL;
    buf_reset(&out);
    CHECK_EQ_INT(server_session_new(&s, &cfg, arena_hog, NULL), 0);
    const char *two = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    CHECK_EQ_INT(server_session_feed(s, two, strlen(two), &out), 0);
    server_session_free(s);
    buf_append(&out, "", 1);
    CHECK_EQ_INT(count("got=0 over=1"), 2); /* per request: each hits the limit anew */
    cfg = saved;
}

int main(void)
{
    server_config_defaults(&cfg);
    buf_init(&out, 1 << 20);
    RUN(answers_a_simple_get);
    RUN(pipelined_requests_answer_in_order);
    RUN(byte_at_a_time_input_parses_the_same);
    RUN(chunked_bodies_are_joined);
    RUN(expect_100_continue_gets_an_interim_response);
    RUN(too_large_bodies_are_413_and_close);
    RUN(too_large_chunked_bodies_are_413);
    RUN(too_large_headers_are_431);
    RUN(garbage_is_400_and_close);
    RUN(connection_close_is_honoured);
    RUN(http_1_0_closes_unless_keep_alive);
    RUN(header_lookup_is_case_insensitive);
    RUN(check_headers_refuses_before_the_body_and_100_continue);
    RUN(request_memory_limit_sets_over_limit);
    buf_release(&out);
    return test_failures != 0;
}
