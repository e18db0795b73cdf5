/* Base64 with the standard alphabet and '=' padding (RFC 4648 section 4), as
 * HTTP Basic authorization and the "auth" entries of Docker's config.json use
 * it. The caller owns both buffers; nothing is allocated. Decoding is strict
 * (no whitespace, '=' only as the final padding), as Go's encoding/base64 is
 * for the docker and podman tools that write those files, except that, like
 * it, non-zero bits under the padding are ignored. */
#ifndef AMLPKG_BASE64_H
#define AMLPKG_BASE64_H

#include <stddef.h>

/* Room the encoding of n bytes needs, its NUL included. */
#define BASE64_ENCODED_SIZE(n) (4 * (((n) + 2) / 3) + 1)
/* Room the decoding of n characters may need. */
#define BASE64_DECODED_MAX(n) (3 * ((n) / 4))

/* Writes the encoding of in[0..len) and a NUL into out; returns its length. */
size_t base64_encode(char *out, const void *in, size_t len);
/* Decodes in[0..len) into out; returns the number of bytes decoded, or -1
 * when in is not base64 with padding. Padding bytes are not counted or written. */
long base64_decode(unsigned char *out, const char *in, size_t len);

#endif
