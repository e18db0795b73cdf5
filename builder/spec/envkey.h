/* The environment key: what decides the environment image, as one hash.
 *
 * envkey_compute turns a spec's environment into a canonical JSON document
 * and hashes it with SHA-256. The document holds only what changes the
 * image: the base image, Docker steps (one entry per non-empty, non-comment
 * line, whitespace collapsed outside quotes), conda channels in their order
 * (conda gives earlier channels priority), conda and pip dependencies in their
 * canonical forms (see conda.h), sorted and de-duplicated, pip options in
 * order, conda variables and environment variables sorted by name, the GPU
 * and CUDA choice, the Python interpreter, and the runtime version. The
 * environment's name and YAML formatting (comments, quoting, flow or block
 * style, indentation, list order of dependencies) never change it. Keys are
 * sorted and there is no insignificant whitespace, so the same meaning gives
 * the same bytes. ENVKEY_SCHEMA is in the document: changing the document's
 * shape means bumping it, so old cache entries stop matching.
 *
 * struct envkey is caller-owned (envkey_compute / envkey_release). */
#ifndef AMLPKG_ENVKEY_H
#define AMLPKG_ENVKEY_H

#include "common/buf.h"
#include "builder/spec/spec.h"

#define ENVKEY_SCHEMA 1
#define ENVKEY_HEX_SIZE 65 /* 64 hex + NUL */

struct envkey {
    char hex[ENVKEY_HEX_SIZE]; /* sha256 of document, lower-case hex */
    char *document;            /* canonical JSON (malloc'd, NUL-terminated) */
    size_t document_len;
};

/* runtime_version names the amlserve/amlpkg release the image is built with
 * (AMLPKG_VERSION). */
int envkey_compute(struct envkey *out, const struct spec_environment *env, const char *runtime_version);
void envkey_release(struct envkey *k);

/* One line of a Docker step, normalised as in the key, appended to out
 * (nothing for blank and comment lines). Exposed for tests. */
int envkey_normalise_step_line(struct buf *out, const char *line, size_t len);

#endif
