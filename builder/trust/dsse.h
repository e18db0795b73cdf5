/* DSSE, the Dead Simple Signing Envelope that in-toto attestations travel in:
 *
 *   {"payloadType": TYPE, "payload": base64(BODY), "signatures": [{"keyid": ID, "sig": base64(SIG)}]}
 *
 * The signature is over the pre-authentication encoding, never over the raw body:
 *   PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
 * with LEN the decimal byte count, so a signature of one payload type cannot be replayed as another.
 * struct dsse_envelope is caller-owned; dsse_envelope_release frees what parse allocated. */
#ifndef AMLPKG_DSSE_H
#define AMLPKG_DSSE_H

#include "common/buf.h"

#include <stddef.h>

#define DSSE_MEDIA_TYPE "application/vnd.dsse.envelope.v1+json"
#define DSSE_LIMIT (4u << 20)
#define DSSE_MAX_SIGNATURES 16

struct dsse_signature {
    char keyid[128];
    unsigned char sig[512];
    size_t sig_len;
};

struct dsse_envelope {
    char payload_type[128];
    char *payload; /* decoded, NUL-terminated (may also hold NULs: see payload_len) */
    size_t payload_len;
    struct dsse_signature signatures[DSSE_MAX_SIGNATURES];
    size_t n_signatures;
};

/* Appends PAE(type, body) to out. */
int dsse_pae(struct buf *out, const char *type, const void *body, size_t len);
/* Appends the envelope of body with one signature. */
int dsse_envelope_write(struct buf *out, const char *type, const void *body, size_t len, const void *sig,
                        size_t sig_len, const char *keyid);
/* Reads an envelope; what names it in messages. */
int dsse_envelope_parse(struct dsse_envelope *out, const char *data, size_t len, const char *what);
void dsse_envelope_release(struct dsse_envelope *e);

#endif
