/* Readable, byte-stable YAML for Kubernetes objects: block style, two spaces
 * per level, keys in the order written, scalars quoted only where a plain one
 * would change meaning (YAML 1.1 booleans, numbers, null, special first
 * characters) and then as JSON strings, which YAML reads the same.
 *
 * struct kyaml is caller-owned (kyaml_init/kyaml_release); errors are sticky:
 * after the first failure nothing more is written and kyaml_done returns it.
 * A key may start with "- " to open a list item: the caller's indent is the
 * dash's column. */
#ifndef AMLPKG_KYAML_H
#define AMLPKG_KYAML_H

#include "common/buf.h"

struct kyaml {
    struct buf out;
    int rc;
    int shift; /* added to every indent: one writer serves a block at two depths (a pod spec) */
};

void kyaml_init(struct kyaml *y);
void kyaml_release(struct kyaml *y);
int kyaml_done(struct kyaml *y);
/* "# text" lines (text may hold newlines), at indent. */
void kyaml_comment(struct kyaml *y, int indent, const char *text);
/* "key:" opening a mapping or a list. */
void kyaml_key(struct kyaml *y, int indent, const char *key);
void kyaml_str(struct kyaml *y, int indent, const char *key, const char *value);
void kyaml_int(struct kyaml *y, int indent, const char *key, long long value);
void kyaml_bool(struct kyaml *y, int indent, const char *key, int value);
/* "- value" list items of scalars. */
void kyaml_item(struct kyaml *y, int indent, const char *value);
/* "---" between documents of one file. */
void kyaml_separator(struct kyaml *y);
/* 1 when s is written without quotes (for tests). */
int kyaml_plain_ok(const char *s);

#endif
