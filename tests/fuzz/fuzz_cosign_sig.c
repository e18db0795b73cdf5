/* libFuzzer target: what amlpkg verify reads from a registry or a layout before any signature is
 * checked: cosign's signature manifest and its simple-signing payloads. Each accepted input must
 * survive being written back and read again with the same meaning. */
#include "builder/trust/cosign_sig.h"
#include "builder/trust/simple_signing.h"
#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void payload_round_trip(const char *data, size_t size)
{
    struct simple_signing p, again;
    if (simple_signing_parse(&p, data, size, "fuzz"))
        return;
    struct buf b;
    buf_init(&b, 0);
    if (simple_signing_write(&b, p.identity, p.digest, p.creator, p.timestamp < 0 ? 0 : p.timestamp) ||
        simple_signing_parse(&again, b.data, b.len, "again") || strcmp(p.identity, again.identity) ||
        strcmp(p.digest, again.digest))
        abort();
    buf_release(&b);
}

static void manifest_round_trip(const char *data, size_t size)
{
    struct cosign_layer *layers = NULL, *back = NULL;
    size_t n = 0, n_back = 0;
    if (cosign_sig_parse(&layers, &n, data, size, "fuzz"))
        return;
    struct buf m, c;
    buf_init(&m, 0);
    buf_init(&c, 0);
    if (cosign_sig_manifest(&m, &c, layers, n) || cosign_sig_parse(&back, &n_back, m.data, m.len, "again") ||
        n_back != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if (strcmp(back[i].digest, layers[i].digest) || strcmp(back[i].signature, layers[i].signature))
            abort();
    cosign_layers_free(layers, n);
    cosign_layers_free(back, n_back);
    buf_release(&m);
    buf_release(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    err_clear();
    payload_round_trip((const char *)data, size);
    err_clear();
    manifest_round_trip((const char *)data, size);
    char tag[80];
    char *s = strndup((const char *)data, size < 200 ? size : 200);
    if (s) {
        cosign_sig_tag(tag, s);
        free(s);
    }
    return 0;
}
