#include "builder/sys/suggest.h"

#include <ctype.h>
#include <string.h>

/* Case-insensitive Levenshtein distance, capped for long words. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 64;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *suggest_closest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_distance = (size_t)-1;
    for (size_t i = 0; candidates[i]; i++) {
        size_t d = edit_distance(word, candidates[i]);
        if (d < best_distance) {
            best_distance = d;
            best = candidates[i];
        }
    }
    /* Allow about one typo per three characters. */
    size_t len = strlen(word);
    size_t allowed = len < 4 ? 1 : len / 3 + 1;
    return best && best_distance <= allowed ? best : NULL;
}

int suggest_quotable(const char *word)
{
    size_t n = 0;
    for (const char *c = word; *c; c++, n++)
        if (!(isalpha((unsigned char)*c) || *c == '_' || (n && isdigit((unsigned char)*c))))
            return 0;
    return n > 0 && n <= 32;
}
