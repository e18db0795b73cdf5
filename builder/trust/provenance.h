/* Build provenance: an in-toto Statement (v1) with the SLSA provenance v1 predicate, saying what
 * amlpkg built (the image, by digest) from what (the spec and its digest, the models by digest, the
 * base image, the environment key, amlserve and what it was built from, the git revision when the
 * image carries it) and when. The facts come from what the build left: the image config's labels
 * and the SPDX SBOM written beside the output, so the statement says nothing the image and its
 * SBOM do not.
 *
 * provenance_check reads a statement back (verify --provenance): it must be an in-toto Statement
 * with the SLSA v1 predicate whose subject names the image digest. Inputs are borrowed. */
#ifndef AMLPKG_PROVENANCE_H
#define AMLPKG_PROVENANCE_H

#include "common/buf.h"

#include <stddef.h>

#define PROVENANCE_PAYLOAD_TYPE "application/vnd.in-toto+json"
#define PROVENANCE_PREDICATE_TYPE "https://slsa.dev/provenance/v1"
#define PROVENANCE_STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define PROVENANCE_BUILD_TYPE "urn:amlpkg:build:v1"

struct provenance_input {
    const char *image_name;   /* "ridge:1" */
    const char *image_digest; /* "sha256:<hex>" */
    const char *spec_path;    /* as given on the command line */
    const char *spec_digest;  /* "sha256:<hex>" of the spec file */
    const char *config;       /* the image config JSON */
    size_t config_len;
    const char *sbom; /* the SPDX SBOM JSON, or NULL (--no-sbom) */
    size_t sbom_len;
    long long started, finished; /* seconds since the epoch */
};

int provenance_statement(struct buf *out, const struct provenance_input *in);

/* What verify prints about a statement. */
struct provenance_summary {
    char builder_id[256];
    char build_type[128];
    char spec[512]; /* path and digest */
    char environment_key[80];
    char revision[160];
    size_t n_dependencies;
    char finished[40];
};

/* Checks statement (type, predicate type, subject naming image_digest) and fills out. */
int provenance_check(struct provenance_summary *out, const char *statement, size_t len, const char *image_digest,
                     const char *what);

#endif
