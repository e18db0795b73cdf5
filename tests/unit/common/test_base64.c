/* Base64: the RFC 4648 examples, round trips checked against OpenSSL's
 * EVP_EncodeBlock/EVP_DecodeBlock (which amlpkg used before), and input that
 * is not base64. */
#include "test.h"

#include "common/base64.h"

#include <openssl/evp.h>
#include <stdint.h>

static long decode(unsigned char *out, const char *in)
{
    return base64_decode(out, in, strlen(in));
}

TEST(rfc4648_examples)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char enc[16];
        unsigned char dec[16];
        CHECK_EQ_INT(base64_encode(enc, plain[i], strlen(plain[i])), strlen(coded[i]));
        CHECK_STR(enc, coded[i]);
        long n = decode(dec, coded[i]);
        CHECK_EQ_INT(n, strlen(plain[i]));
        CHECK(memcmp(dec, plain[i], (size_t)n) == 0);
    }
}

/* Every length up to 300 with random bytes: our encoding is OpenSSL's, and
 * decoding gives back the bytes (OpenSSL counts padding as zero bytes). */
TEST(round_trips_match_openssl)
{
    uint64_t x = 0x2545f4914f6cdd1du;
    unsigned char in[300], dec[300 + 3], ref[300 + 3];
    char enc[BASE64_ENCODED_SIZE(300)], want[BASE64_ENCODED_SIZE(300)];
    for (size_t len = 0; len <= sizeof in; len++) {
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            in[i] = (unsigned char)x;
        }
        size_t m = base64_encode(enc, in, len);
        CHECK_EQ_INT(m, BASE64_ENCODED_SIZE(len) - 1);
        CHECK_EQ_INT(EVP_EncodeBlock((unsigned char *)want, in, (int)len), m);
        CHECK_STR(enc, want);
        CHECK_EQ_INT(base64_decode(dec, enc, m), len);
        CHECK(memcmp(dec, in, len) == 0);
        int pad = m && enc[m - 1] == '=' ? (enc[m - 2] == '=' ? 2 : 1) : 0;
        CHECK_EQ_INT(EVP_DecodeBlock(ref, (unsigned char *)enc, (int)m), len + (size_t)pad);
        CHECK(memcmp(ref, in, len) == 0);
    }
}

TEST(rejects_what_is_not_base64)
{
    unsigned char out[64];
    static const char *const bad[] = {
        "Zg=",      /* not a multiple of four */
        "Zg",       /* padding left out */
        "Zm9vY",    /* a character too many */
        "Zm9v!A==", /* outside the alphabet */
        "Zm9v-_==", /* the URL-safe alphabet */
        " Zm9v",    /* whitespace */
        "Zm9v\n",   /* a line end */
        "Zg==Zm9v", /* padding before the end */
        "Z===",     /* three padding characters */
        "====",     /* nothing but padding */
        "Zm=v",     /* padding inside a group */
        "Zm9v\xc3\xa9=",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (decode(out, bad[i]) != -1) {
            printf("FAIL %s: \"%s\" decoded\n", test_current, bad[i]);
            test_failures++;
            test_current_failed = 1;
            return;
        }
    }
    /* Bits under the padding are ignored, as Go's and OpenSSL's decoders do. */
    CHECK_EQ_INT(decode(out, "Zh=="), 1);
    CHECK(out[0] == 'f');
    CHECK_EQ_INT(decode(out, "Zm9="), 2);
    CHECK(memcmp(out, "fo", 2) == 0);
}

/* Each of the 256 byte values in each place of a group: only the alphabet (and
 * '=' where padding may stand) decodes. */
TEST(accepts_exactly_the_alphabet)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char out[8];
    for (int place = 0; place < 4; place++) {
        for (int c = 0; c < 256; c++) {
            char in[5] = "QUJD";
            in[place] = (char)c;
            int ok = c && strchr(alphabet, c) != NULL;
            if (c == '=' && place >= 3)
                ok = 1;
            long n = base64_decode(out, in, 4);
            if ((n >= 0) != ok) {
                printf("FAIL %s: byte %d at %d: %ld\n", test_current, c, place, n);
                test_failures++;
                test_current_failed = 1;
                return;
            }
        }
    }
}

int main(void)
{
    RUN(rfc4648_examples);
    RUN(round_trips_match_openssl);
    RUN(rejects_what_is_not_base64);
    RUN(accepts_exactly_the_alphabet);
    TEST_EXIT();
}
