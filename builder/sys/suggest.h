/* "Did you mean" hints for misspelt names. */
#ifndef AMLPKG_SUGGEST_H
#define AMLPKG_SUGGEST_H

/* The candidate closest to word by edit distance, or NULL when none is close
 * enough to be a plausible typo. candidates is NULL-terminated. */
const char *suggest_closest(const char *word, const char *const *candidates);

/* 1 when an unknown key read from a file may be quoted in an error: a plain
 * name (a letter or '_', then letters, digits and '_', at most 32 of them),
 * which names the field the user wrote. Anything else (a password hash, a
 * line of /etc/shadow read as a key, punctuation) is not repeated: the file
 * may not be the user's. */
int suggest_quotable(const char *word);

#endif
