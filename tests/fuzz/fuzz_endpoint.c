/* libFuzzer target: endpoint.yaml (builder/deploy/endpoint.c) and, when it
 * loads, --set-traffic's parser and the HTTPRoute writer. The first line of
 * the input is the --set-traffic text, the rest the file (the loader reads a
 * path, as the CLI does). */
#include "builder/deploy/deploy_endpoint.h"
#include "builder/deploy/endpoint.h"
#include "common/err.h"
#include "fuzz_files.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t first = nl ? (size_t)(nl - (const char *)data) : 0;
    char traffic[256];
    snprintf(traffic, sizeof traffic, "%.*s", (int)(first < sizeof traffic ? first : sizeof traffic - 1),
             (const char *)data);
    char path[512];
    if (!fuzz_write(path, "endpoint.yaml", nl ? nl + 1 : "", nl ? size - first - 1 : 0))
        return 0;
    struct endpoint *e = NULL;
    err_clear();
    if (endpoint_load(&e, path) == 0) {
        char *text = NULL;
        if (deploy_route_text(&text, e) == 0)
            free(text);
        if (traffic[0] && !memchr(traffic, 0, strlen(traffic)) && endpoint_set_traffic(e, traffic) == 0 &&
            deploy_route_text(&text, e) == 0)
            free(text);
        endpoint_free(e);
    }
    err_clear();
    return 0;
}
