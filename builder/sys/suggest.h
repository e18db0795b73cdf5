/* "Did you mean" hints for misspelt names. */
#ifndef AMLPKG_SUGGEST_H
#define AMLPKG_SUGGEST_H

/* The candidate closest to word by edit distance, or NULL when none is close
 * enough to be a plausible typo. candidates is NULL-terminated. */
const char *suggest_closest(const char *word, const char *const *candidates);

#endif
