/* Where the amlserve binary is: what build embeds and serve/profile run. */
#ifndef AMLPKG_RUNTIME_LOCATE_H
#define AMLPKG_RUNTIME_LOCATE_H

/* given (a --runtime flag, may be NULL), else $AMLPKG_AMLSERVE, else
 * "amlserve" beside this executable. *out is malloc'd. */
int runtime_locate(char **out, const char *given);

#endif
