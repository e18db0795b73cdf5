/* NaCl's secretbox against the published vectors of "Cryptography in NaCl" (Bernstein): the
 * X25519 shared secret of RFC 7748's Alice and Bob, HSalsa20 of it (crypto_box_beforenm's
 * "firstkey"), the Poly1305 key at the start of the XSalsa20 stream (the poly1305-donna vector), and
 * the 131-byte message sealed under firstkey and the nonce. Then what open refuses. */
#include "test.h"

#include "builder/trust/nacl_secretbox.h"
#include "common/err.h"

#include <stdio.h>
#include <string.h>

#define SHARED "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
#define FIRSTKEY "1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389"
#define NONCE "69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37"
#define OTK "eea6a7251c1e72916d11c2cb214d3c252539121d8e234e652d651fa4c8cff880"
#define MESSAGE                                                                                                        \
    "be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffce5ecbaaf33bd751a1ac728d45e6c61296cdc3c0123356" \
    "1f41db66cce314adb310e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde048977eb48f59ffd4924ca1c60" \
    "902e52f0a089bc76897040e082f93776384864" "5e0705"
#define TAG "f3ffc7703f9400e52a7dfb4b3d3305d9"
#define CIPHERTEXT                                                                                                     \
    "8e993b9f48681273c29650ba32fc76ce48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48c97271d2c20f9b928" \
    "fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88" \
    "d5f9b37973f622a43d14a6599b1f654cb45a74e355a5"

static size_t unhex(unsigned char *out, const char *hex)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
    return n;
}

TEST(hsalsa20_gives_firstkey)
{
    unsigned char shared[32], zero[16] = {0}, want[32], got[32];
    unhex(shared, SHARED);
    unhex(want, FIRSTKEY);
    hsalsa20(got, shared, zero);
    CHECK(memcmp(got, want, 32) == 0);
}

TEST(stream_starts_with_the_poly1305_key)
{
    unsigned char key[32], nonce[24], subkey[32], in[16] = {0}, block[64], want[32];
    unhex(key, FIRSTKEY);
    unhex(nonce, NONCE);
    unhex(want, OTK);
    hsalsa20(subkey, key, nonce);
    memcpy(in, nonce + 16, 8);
    salsa20_block(block, subkey, in);
    CHECK(memcmp(block, want, 32) == 0);
}

TEST(seals_the_published_box)
{
    unsigned char key[32], nonce[24], m[131], want[16 + 131], box[16 + 131], back[131];
    unhex(key, FIRSTKEY);
    unhex(nonce, NONCE);
    CHECK_EQ_INT(unhex(m, MESSAGE), 131);
    unhex(want, TAG);
    CHECK_EQ_INT(unhex(want + 16, CIPHERTEXT), 131);
    CHECK(secretbox_seal(box, m, sizeof m, nonce, key) == 0);
    CHECK(memcmp(box, want, sizeof want) == 0);
    CHECK(secretbox_open(back, want, sizeof want, nonce, key) == 0);
    CHECK(memcmp(back, m, sizeof m) == 0);
}

TEST(open_refuses_changes_and_other_keys)
{
    unsigned char key[32], nonce[24], box[16 + 131], back[131];
    unhex(key, FIRSTKEY);
    unhex(nonce, NONCE);
    unhex(box, TAG);
    unhex(box + 16, CIPHERTEXT);
    for (size_t i = 0; i < sizeof box; i += 13) { /* the tag and the ciphertext, a bit at a time */
        box[i] ^= 1;
        CHECK(secretbox_open(back, box, sizeof box, nonce, key) == ERR_MISMATCH);
        box[i] ^= 1;
        err_clear();
    }
    memset(back, 0xaa, sizeof back);
    key[0] ^= 0x80;
    CHECK(secretbox_open(back, box, sizeof box, nonce, key) == ERR_MISMATCH);
    CHECK(back[0] == 0 && back[130] == 0); /* nothing of a refused box is left behind */
    key[0] ^= 0x80;
    nonce[23] ^= 1;
    CHECK(secretbox_open(back, box, sizeof box, nonce, key) == ERR_MISMATCH);
    err_clear();
    CHECK(secretbox_open(back, box, 15, nonce, key) == ERR_PARSE);
    err_clear();
}

TEST(round_trips_every_length)
{
    unsigned char key[32], nonce[24], m[300], box[316], back[300];
    for (size_t i = 0; i < sizeof m; i++)
        m[i] = (unsigned char)(i * 7 + 3);
    unhex(key, FIRSTKEY);
    unhex(nonce, NONCE);
    for (size_t len = 0; len <= sizeof m; len += 37) {
        CHECK(secretbox_seal(box, m, len, nonce, key) == 0);
        CHECK(secretbox_open(back, box, len + 16, nonce, key) == 0);
        CHECK(memcmp(back, m, len) == 0);
    }
}

int main(void)
{
    RUN(hsalsa20_gives_firstkey);
    RUN(stream_starts_with_the_poly1305_key);
    RUN(seals_the_published_box);
    RUN(open_refuses_changes_and_other_keys);
    RUN(round_trips_every_length);
    TEST_EXIT();
}
