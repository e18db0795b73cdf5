#include "cors.h"

#include <stdlib.h>
#include <string.h>

void cors_init(struct cors *c, const char *origins)
{
    memset(c, 0, sizeof *c);
    if (!origins || !origins[0])
        return;
    c->origins = strdup(origins);
    c->any = strcmp(origins, "*") == 0;
}

void cors_release(struct cors *c)
{
    free(c->origins);
    c->origins = NULL;
}

static int origin_allowed(const struct cors *c, const char *origin)
{
    if (c->any)
        return 1;
    size_t len = strlen(origin);
    for (const char *p = c->origins; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *trim = end;
        while (trim > p && trim[-1] == ' ')
            trim--;
        if ((size_t)(trim - p) == len && len && strncmp(p, origin, len) == 0)
            return 1;
        p = end;
    }
    return 0;
}

/* Header values are echoed into the response: refuse anything that could split it. */
static int safe_value(const char *v)
{
    return v && !strpbrk(v, "\r\n");
}

int cors_apply(const struct cors *c, const struct http_request *req, struct buf *headers)
{
    const char *origin = http_request_header(req, "origin");
    if (!c->origins || !safe_value(origin) || !origin[0] || !origin_allowed(c, origin))
        return 0;
    buf_appendf(headers, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", c->any ? "*" : origin);
    const char *method = http_request_header(req, "access-control-request-method");
    if (strcmp(req->method, "OPTIONS") != 0 || !method)
        return 0;
    const char *asked = http_request_header(req, "access-control-request-headers");
    buf_append_str(headers, "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n");
    buf_appendf(headers, "Access-Control-Allow-Headers: %s\r\n",
                safe_value(asked) && asked[0] ? asked : "Authorization, Content-Type");
    buf_append_str(headers, "Access-Control-Max-Age: 600\r\n");
    return 1;
}
