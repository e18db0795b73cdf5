/* NaCl's secretbox (crypto_secretbox_xsalsa20poly1305), what cosign's encrypted key format seals a
 * key with: OpenSSL 3.0 has Poly1305 and scrypt but no Salsa20, so XSalsa20 is written here from
 * the Salsa20 specification and "Extending the Salsa20 nonce" (HSalsa20); Poly1305 is OpenSSL's.
 *
 *   subkey = HSalsa20(key, nonce[0..16]);  stream = Salsa20(subkey, nonce[16..24], block 0, 1, ...)
 *   box    = Poly1305(stream[0..32], c) || c,   c = message XOR stream[32..]
 *
 * The box layout is Go's and libsodium's "easy" form: the 16-byte tag first, then the ciphertext.
 * Nothing is allocated; out may not overlap box. */
#ifndef AMLPKG_NACL_SECRETBOX_H
#define AMLPKG_NACL_SECRETBOX_H

#include <stddef.h>

#define SECRETBOX_KEY_BYTES 32
#define SECRETBOX_NONCE_BYTES 24
#define SECRETBOX_TAG_BYTES 16

/* The 64-byte Salsa20/20 block of (key, 16-byte input: 8-byte nonce, little-endian block counter). */
void salsa20_block(unsigned char out[64], const unsigned char key[32], const unsigned char in[16]);
/* HSalsa20: the 32-byte subkey of (key, 16-byte input). */
void hsalsa20(unsigned char out[32], const unsigned char key[32], const unsigned char in[16]);

/* box[0..len+16) from message[0..len). 0, or an error from OpenSSL's Poly1305. */
int secretbox_seal(unsigned char *box, const unsigned char *message, size_t len,
                   const unsigned char nonce[SECRETBOX_NONCE_BYTES], const unsigned char key[SECRETBOX_KEY_BYTES]);
/* message[0..box_len-16) from box; ERR_MISMATCH when the tag does not authenticate it (wrong key,
 * changed box: out is then zeroed), ERR_PARSE when box is shorter than a tag. */
int secretbox_open(unsigned char *message, const unsigned char *box, size_t box_len,
                   const unsigned char nonce[SECRETBOX_NONCE_BYTES], const unsigned char key[SECRETBOX_KEY_BYTES]);

#endif
