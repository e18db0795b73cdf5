/* Which files of a source directory go into the image: Azure ML's rule —
 * the patterns of `.amlignore` when it exists, else of `.gitignore` — with
 * gitignore syntax: blank lines and '#' comments skipped, '!' re-includes,
 * a trailing '/' matches directories only, a pattern with a '/' elsewhere is
 * anchored at the source directory, otherwise it matches a name at any depth;
 * '*', '?', '[...]' and '**' as in git. `.git` is never copied. An ignored
 * directory is skipped whole (as git does). struct ignore_rules is
 * caller-owned (ignore_load / ignore_release). */
#ifndef AMLPKG_IGNORE_H
#define AMLPKG_IGNORE_H

#include <stddef.h>

struct ignore_rule {
    char *pattern;
    int negate, dir_only, anchored;
};

struct ignore_rules {
    struct ignore_rule *rules;
    size_t n;
    char *source; /* the file the rules came from, or NULL */
};

/* Reads dir/.amlignore, else dir/.gitignore; neither is no rules. */
int ignore_load(struct ignore_rules *r, const char *dir);
void ignore_release(struct ignore_rules *r);
/* 1 when rel (a path relative to the directory, '/'-separated) is excluded. */
int ignore_match(const struct ignore_rules *r, const char *rel, int is_dir);

#endif
