/* libFuzzer target: what amlpkg verify reads from a registry or a layout before any signature is
 * checked: cosign's signature manifest and its simple-signing payloads, DSSE envelopes and the
 * provenance statement inside, sigstore bundles and the statement an image-signature bundle holds;
 * and what amlpkg reads of cosign's encrypted key file before any passphrase is tried.
 * Each accepted input must survive being written back and read
 * again with the same meaning. */
#include "builder/trust/cosign_key.h"
#include "builder/trust/cosign_sig.h"
#include "builder/trust/dsse.h"
#include "builder/trust/provenance.h"
#include "builder/trust/sigstore_bundle.h"
#include "builder/trust/simple_signing.h"
#include "builder/trust/trust_bundle.h"
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

static void envelope_round_trip(const char *data, size_t size)
{
    struct dsse_envelope e, again;
    if (dsse_envelope_parse(&e, data, size, "fuzz"))
        return;
    struct buf b;
    buf_init(&b, 0);
    struct provenance_summary sum;
    (void)provenance_check(&sum, e.payload, e.payload_len, "sha256:00", "fuzz");
    err_clear();
    const struct dsse_signature *s = &e.signatures[0];
    if (dsse_envelope_write(&b, e.payload_type, e.payload, e.payload_len, s->sig, s->sig_len, "k") ||
        dsse_envelope_parse(&again, b.data, b.len, "again") || again.payload_len != e.payload_len ||
        memcmp(again.payload, e.payload, e.payload_len) || strcmp(again.payload_type, e.payload_type) ||
        again.signatures[0].sig_len != s->sig_len || memcmp(again.signatures[0].sig, s->sig, s->sig_len))
        abort();
    dsse_envelope_release(&e);
    dsse_envelope_release(&again);
    buf_release(&b);
}

static void bundle_round_trip(const char *data, size_t size)
{
    struct sigstore_bundle b, again;
    if (sigstore_bundle_parse(&b, data, size, "fuzz"))
        return;
    if (!b.is_dsse) {
        sigstore_bundle_release(&b);
        return;
    }
    char name[512];
    (void)trust_statement_subject(name, b.dsse.payload, b.dsse.payload_len, "sha256:00", "fuzz");
    err_clear();
    struct buf w;
    buf_init(&w, 0);
    const struct dsse_signature *s = &b.dsse.signatures[0];
    if (sigstore_bundle_write_dsse(&w, b.dsse.payload_type, b.dsse.payload, b.dsse.payload_len, s->sig, s->sig_len,
                                   b.key_hint) ||
        sigstore_bundle_parse(&again, w.data, w.len, "again") || !again.is_dsse ||
        again.dsse.payload_len != b.dsse.payload_len || memcmp(again.dsse.payload, b.dsse.payload, b.dsse.payload_len) ||
        strcmp(again.key_hint, b.key_hint) || again.dsse.signatures[0].sig_len != s->sig_len)
        abort();
    sigstore_bundle_release(&b);
    sigstore_bundle_release(&again);
    buf_release(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    err_clear();
    payload_round_trip((const char *)data, size);
    err_clear();
    manifest_round_trip((const char *)data, size);
    err_clear();
    envelope_round_trip((const char *)data, size);
    err_clear();
    bundle_round_trip((const char *)data, size);
    err_clear();
    char name[512];
    (void)trust_statement_subject(name, (const char *)data, size, "sha256:00", "fuzz");
    err_clear();
    static struct cosign_key_box box;
    if (!cosign_key_parse(&box, (const char *)data, size, "fuzz") &&
        (box.ciphertext_len <= SECRETBOX_TAG_BYTES || box.n > (1u << 18) || (box.n & (box.n - 1))))
        abort(); /* parse promised these */
    err_clear();
    struct provenance_summary sum;
    (void)provenance_check(&sum, (const char *)data, size, "sha256:00", "fuzz");
    char tag[80];
    char *s = strndup((const char *)data, size < 200 ? size : 200);
    if (s) {
        cosign_sig_tag(tag, s);
        free(s);
    }
    return 0;
}
