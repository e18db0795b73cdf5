/* Python package versions and version specifiers (PEP 440), as pip reads them, for resolving an
 * environment's pip section without pip (`amlpkg lock`, issue 19).
 *
 * A version "[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]" is read in its normalised form (case
 * insensitive; "alpha", "beta", "c", "pre", "preview" spell a, b, rc; "rev", "r" and "-N" spell post;
 * separators '-', '_', '.' optional; implicit numbers 0; a leading "v"). Versions order as PEP 440 says:
 * epoch, release (trailing zeros ignored), then .devN < aN < bN < rcN < final < .postN, a dev release of
 * a pre or post release before it, a local version after its public one (local segments: numbers after
 * strings, numbers numerically).
 *
 * A specifier set is comma-separated clauses: ==V, ==V.* (prefix), !=V, !=V.*, <=V, >=V, <V (no
 * pre-release of V itself), >V (no post-release or local of V itself), ~=V (>=V, ==V's release without its
 * last number.*), ===TEXT (string equality). Pre-releases match a set only when asked
 * (pep440_specset_allows_pre: one clause names a pre-release) or when the caller allows them.
 *
 * Everything is a value type: no allocation, no ownership. Parsers return 0 or ERR_INVALID without
 * setting the error message (the caller names the file and line); *why says what is wrong. */
#ifndef AMLPKG_PEP440_H
#define AMLPKG_PEP440_H

#include <stddef.h>
#include <stdint.h>

#define PEP440_MAX_RELEASE 16 /* numbers in a release ("1.2.3" has 3) */
#define PEP440_MAX_LOCAL 64   /* characters of the local part */
#define PEP440_MAX_TEXT 160   /* characters of a version as written */
#define PEP440_MAX_CLAUSES 32 /* clauses of a specifier set */

enum pep440_pre { PEP440_PRE_NONE = 0, PEP440_PRE_A, PEP440_PRE_B, PEP440_PRE_RC };

struct pep440_version {
    uint64_t epoch;
    uint64_t release[PEP440_MAX_RELEASE];
    size_t n_release;
    enum pep440_pre pre;
    uint64_t pre_n;
    int has_post, has_dev;
    uint64_t post_n, dev_n;
    char local[PEP440_MAX_LOCAL]; /* normalised: lower case, '.' separated; "" when none */
};

enum pep440_op { PEP440_EQ, PEP440_NE, PEP440_LE, PEP440_GE, PEP440_LT, PEP440_GT, PEP440_COMPAT, PEP440_ARBITRARY };

struct pep440_clause {
    enum pep440_op op;
    int wildcard; /* ==V.* / !=V.* */
    struct pep440_version v;
    char text[PEP440_MAX_TEXT]; /* the version as written (=== compares it) */
};

struct pep440_specset {
    struct pep440_clause clauses[PEP440_MAX_CLAUSES];
    size_t n;
};

int pep440_parse(struct pep440_version *out, const char *text, size_t len, const char **why);
/* <0, 0, >0 as a sorts before, equals or after b. */
int pep440_compare(const struct pep440_version *a, const struct pep440_version *b);
/* The normalised form ("1!2.0rc1.post0.dev3+ubuntu.1") into out (always NUL-terminated). */
void pep440_format(char *out, size_t size, const struct pep440_version *v);
int pep440_is_prerelease(const struct pep440_version *v);

/* text[0..len): clauses separated by ','; empty means "any version". */
int pep440_specset_parse(struct pep440_specset *out, const char *text, size_t len, const char **why);
/* 1 when v (written as text, for ===) satisfies every clause; pre-releases only when allow_pre. */
int pep440_specset_contains(const struct pep440_specset *s, const struct pep440_version *v, const char *text,
                            int allow_pre);
/* 1 when a clause (==, ===, >=, <=, ~=) names a pre-release: the set then asks for them. */
int pep440_specset_allows_pre(const struct pep440_specset *s);
/* The set in a canonical form (",".join of op+version, sorted as written) into out. */
void pep440_specset_format(char *out, size_t size, const struct pep440_specset *s);

#endif
