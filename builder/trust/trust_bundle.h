/* Signatures and attestations as sigstore bundles (sigstore_bundle.h) attached to an image as OCI 1.1
 * referrers, the layout cosign's bundle specification describes: a manifest with artifactType
 * application/vnd.dev.sigstore.bundle.v0.3+json, the empty config, one layer (the bundle JSON),
 * subject the image, and annotations dev.sigstore.bundle.content, dev.sigstore.bundle.predicateType
 * and org.opencontainers.image.created. In a registry without the referrers API the fallback tag
 * sha256-<hex> lists it (trust_store_put); in a layout it is an index entry; in an oci-archive the
 * image entry's annotation com.amlpkg.bundles lists them.
 *
 * One artifact type holds every kind of bundle, so a reader tells them apart by what they sign:
 * trust_bundle_check skips (ERR_NOTFOUND) a bundle of another predicate before checking its
 * signature. */
#ifndef AMLPKG_TRUST_BUNDLE_H
#define AMLPKG_TRUST_BUNDLE_H

#include "builder/trust/trust_key.h"
#include "builder/trust/trust_store.h"
#include "common/buf.h"

/* The in-toto statement cosign sign --new-bundle-format signs for an image: subject (name, digest),
 * predicate type COSIGN_SIGN_PREDICATE_TYPE, an empty predicate. */
int trust_bundle_sign_statement(struct buf *out, const char *name, const char *image_digest);
/* Signs statement (an in-toto statement of predicate_type) with key into a DSSE bundle and attaches
 * it to the image of s; the referrer manifest's digest into digest. */
int trust_bundle_attach(struct trust_store *s, const struct trust_key *key, const char *statement, size_t len,
                        const char *predicate_type, char digest[72]);

/* Checks the bundle referrer manifest digest of the image in s. 0: a bundle of want_predicate signed
 * by key (a DSSE statement, into statement; a message signature over the image manifest counts as an
 * image signature and leaves statement empty). ERR_NOTFOUND: a bundle of another kind. Otherwise the
 * error says why it was refused. The statement's subject is not checked here. */
int trust_bundle_check(struct trust_store *s, const char *digest, const struct trust_key *key,
                       const char *want_predicate, struct buf *statement, const char *what);
/* The subject name of a statement that must name image_digest (sha256) among its subjects. */
int trust_statement_subject(char name[512], const char *statement, size_t len, const char *image_digest,
                            const char *what);

#endif
