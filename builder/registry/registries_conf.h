/* Registry mirrors as containers-registries.conf(5) (version 2) writes them, so
 * an air-gapped site, and the tests, can point mcr.microsoft.com (or any
 * registry) at a local one the way podman and skopeo are pointed there:
 *
 *   [[registry]]
 *   prefix = "mcr.microsoft.com"          # what a reference starts with
 *   location = "mcr.microsoft.com"        # where it lives (default: prefix)
 *   insecure = false                      # plain HTTP / unverified TLS allowed
 *   blocked = false                       # refuse to pull from it
 *   mirror-by-digest-only = false         # mirrors only for references by digest
 *   [[registry.mirror]]
 *   location = "127.0.0.1:5000/mcr"       # tried first, in file order
 *   insecure = true
 *   pull-from-mirror = "all"              # "all", "digest-only" or "tag-only"
 *
 * The reader is a strict subset of TOML: comments, `[[registry]]`,
 * `[[registry.mirror]]`, `[aliases]`, `key = value` with basic or literal
 * strings, booleans and one-line arrays of strings. Keys podman reads that say
 * nothing about where an image is pulled from (unqualified-search-registries,
 * short-name-mode, credential-helpers, the [aliases] table) are accepted and
 * not used; anything else (prefix wildcards, the version 1 [registries.*]
 * tables) is refused with file:line, never ignored.
 *
 * Where the file comes from: --registries-conf FILE, else
 * $AMLPKG_REGISTRIES_CONF, else /etc/containers/registries.conf plus
 * /etc/containers/registries.conf.d/ *.conf in name order (absent: no
 * mirrors). Ownership: registries_conf_load/_parse fill a struct that
 * registries_conf_free releases; endpoints are a caller-freed array. */
#ifndef AMLPKG_REGISTRIES_CONF_H
#define AMLPKG_REGISTRIES_CONF_H

#include "builder/image/reference.h"

#include <stddef.h>

#define REGISTRIES_CONF_SYSTEM "/etc/containers/registries.conf"
#define REGISTRIES_CONF_ENV "AMLPKG_REGISTRIES_CONF"

enum registries_pull_from { REGISTRIES_PULL_ALL, REGISTRIES_PULL_DIGEST_ONLY, REGISTRIES_PULL_TAG_ONLY };

struct registries_mirror {
    char *location;
    int insecure;
    enum registries_pull_from pull_from;
    int line;
};

struct registries_entry {
    char *prefix;   /* "host[:port][/path]" */
    char *location; /* NULL: the prefix */
    int insecure, blocked, mirror_by_digest_only;
    struct registries_mirror *mirrors;
    size_t n_mirrors;
    char *file; /* where it was written, for messages */
    int line;
};

struct registries_conf {
    struct registries_entry *entries;
    size_t n_entries;
};

/* Parses one file's text (len bytes, NUL not needed) and appends its entries;
 * file names it in messages. An error leaves conf as it was before the call
 * only in the sense that it stays valid for registries_conf_release. */
int registries_conf_parse(struct registries_conf *conf, const char *text, size_t len, const char *file);
/* Reads the configuration: path (--registries-conf) when not NULL, else the
 * environment variable, else the system files. A named file must exist. */
int registries_conf_load(struct registries_conf **out, const char *path);
void registries_conf_release(struct registries_conf *conf);
void registries_conf_free(struct registries_conf *conf);

struct registries_endpoint {
    struct reference ref; /* the image at this endpoint */
    int insecure;
    int mirror; /* 1 for a mirror, 0 for the primary location */
};

/* Where to pull ref from, in order: the matching entry's mirrors, then its
 * location (longest prefix wins, at a path-component boundary). No matching
 * entry: ref itself. A blocked registry is an error naming the file and line. */
int registries_conf_endpoints(struct registries_endpoint **out, size_t *n_out, const struct registries_conf *conf,
                              const struct reference *ref);

#endif
