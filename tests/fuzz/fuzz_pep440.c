/* libFuzzer target: PEP 440 versions and specifier sets (builder/spec/pep440.c). The input is
 * "VERSION_A\nVERSION_B\nSPECIFIERS"; the order must be reflexive and antisymmetric, the normalised form
 * must read back as an equal version, and a set's canonical form must parse to the same text. */
#include "builder/spec/pep440.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int sign(int c)
{
    return (c > 0) - (c < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char *parts[3] = {s, "", ""};
    for (int i = 1; i < 3; i++) {
        char *nl = strchr(parts[i - 1], '\n');
        if (!nl)
            break;
        *nl = '\0';
        parts[i] = nl + 1;
    }
    struct pep440_version a, b, again;
    struct pep440_specset set, set2;
    const char *why;
    int ok_a = !pep440_parse(&a, parts[0], strlen(parts[0]), &why);
    int ok_b = !pep440_parse(&b, parts[1], strlen(parts[1]), &why);
    if (ok_a) {
        char text[PEP440_MAX_TEXT * 2];
        pep440_format(text, sizeof text, &a);
        if (pep440_compare(&a, &a) || pep440_parse(&again, text, strlen(text), &why) || pep440_compare(&a, &again))
            abort();
    }
    if (ok_a && ok_b && sign(pep440_compare(&a, &b)) != -sign(pep440_compare(&b, &a)))
        abort();
    if (!pep440_specset_parse(&set, parts[2], strlen(parts[2]), &why)) {
        char text[8192], text2[8192];
        pep440_specset_format(text, sizeof text, &set);
        if (pep440_specset_parse(&set2, text, strlen(text), &why))
            abort();
        pep440_specset_format(text2, sizeof text2, &set2);
        if (strcmp(text, text2))
            abort();
        if (ok_a)
            (void)pep440_specset_contains(&set, &a, parts[0], 0);
    }
    free(s);
    return 0;
}
