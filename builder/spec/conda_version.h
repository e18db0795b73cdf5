/* conda's version order (VersionOrder) and version specs (VersionSpec), as
 * conda, mamba and rattler define them, for resolving a conda environment
 * without conda (issue 19: `amlpkg lock`).
 *
 * A version "[EPOCH!]VERSION[+LOCAL]" is split into components at '.' and '_'
 * (a trailing '_' stays on its component, for openssl-like versions; '-' is
 * read as '_' when there is no '_'), each component into runs of digits,
 * of '*' and of other characters; comparison is case-insensitive, numbers
 * compare numerically (any length), strings lexicographically, strings sort
 * before numbers, "dev" before any other string, "post" after any number, and
 * a missing part counts as 0 ("1.1" == "1.1.0"; "1.1.a1" == "1.1.0a1").
 *
 * A version spec is an expression of ',' (and, binds tighter) and '|' (or)
 * with parentheses over: `*`, `1.2.*` / `1.2*` (prefix), `1.2` (exact),
 * `==1.2`, `!=1.2`, `!=1.2.*`, `<`, `<=`, `>`, `>=`, `=1.2` (prefix) and
 * `~=1.2.3` (>=1.2.3 and prefix 1.2). Regular expressions (`^...$`) and
 * inner wildcards (`1.*.3`) are refused as unsupported.
 *
 * Ownership: conda_version_parse and conda_vspec_parse return objects freed
 * with conda_version_free / conda_vspec_free; nothing is borrowed. */
#ifndef AMLPKG_CONDA_VERSION_H
#define AMLPKG_CONDA_VERSION_H

#include <stddef.h>

#define CONDA_VERSION_MAX 256 /* characters of a version; longer is refused */
#define CONDA_VSPEC_MAX 1024  /* characters of a version spec */
#define CONDA_VSPEC_DEPTH 32  /* nesting of parentheses */

struct conda_version;
struct conda_vspec;

/* Parses text; errors name context ("env.yml:4: dependencies[1]") and why. */
int conda_version_parse(struct conda_version **out, const char *text, const char *context);
void conda_version_free(struct conda_version *v);
/* The version as parsed: lower-cased, '-' read as '_' where conda does. */
const char *conda_version_text(const struct conda_version *v);
/* <0, 0 or >0 as a sorts before, equals or after b. */
int conda_version_compare(const struct conda_version *a, const struct conda_version *b);
/* 1 when v begins with prefix component-wise, as conda's `1.2.*` asks
 * ("1.2.3" and "1.2" start with "1.2"; "1.20" does not; "1.2a" starts with "1.2a"). */
int conda_version_startswith(const struct conda_version *v, const struct conda_version *prefix);

int conda_vspec_parse(struct conda_vspec **out, const char *text, const char *context);
void conda_vspec_free(struct conda_vspec *s);
/* 1 when v satisfies s. */
int conda_vspec_match(const struct conda_vspec *s, const struct conda_version *v);
/* The spec in a canonical form (no spaces, "1.2*" as "1.2.*"), for messages and keys. */
const char *conda_vspec_text(const struct conda_vspec *s);

#endif
