/* Where wheels come from for a pip section: a simple repository index (PEP 503 HTML, PEP 691 JSON) or a
 * --find-links location (a folder, or an HTML page of links), over https, http or file://.
 *
 *   <index>/<normalised name>/   asked for with "Accept: application/vnd.pypi.simple.v1+json,
 *                                text/html;q=0.1"; the answer is read as JSON when its Content-Type
 *                                says so (or its text starts with '{'), as HTML otherwise
 *   HTML: every <a href> gives a file: its name is the anchor text (else the URL's last segment),
 *         #sha256= in the URL its hash, data-requires-python, data-core-metadata /
 *         data-dist-info-metadata (PEP 658/714: "<url>.metadata" exists) and data-yanked are read;
 *         relative URLs resolve against the page (or its <base href>); HTML entities are decoded
 *   JSON: "files": [{filename, url, hashes.sha256, requires-python, core-metadata | dist-info-metadata,
 *         yanked}]
 *   folder: every *.whl, *.tar.gz, *.zip in it, as file:// URLs; hashes are computed when locked
 *
 * Ownership: struct pip_project is caller-owned (zero it, fill it, release it with
 * pip_project_release); files own their strings. */
#ifndef AMLPKG_PIP_INDEX_H
#define AMLPKG_PIP_INDEX_H

#include "common/buf.h"

#include <stddef.h>

#define PIP_INDEX_DEFAULT "https://pypi.org/simple"
#define PIP_INDEX_MAX_BYTES ((size_t)256 << 20)
#define PIP_INDEX_MAX_FILES 100000

struct pip_file {
    char *filename;        /* "six-1.16.0-py2.py3-none-any.whl" */
    char *url;             /* absolute, without its #fragment */
    char sha256[65];       /* hex, "" when the index gives none */
    char *requires_python; /* NULL when none */
    int has_metadata;      /* PEP 658: <url>.metadata holds the wheel's METADATA */
    char metadata_sha256[65];
    int yanked;
};

struct pip_project {
    struct pip_file *files;
    size_t n_files;
};

/* Appends the files of a project page; base_url resolves relative links, source names it in messages. */
int pip_index_parse_html(struct pip_project *into, const char *text, size_t len, const char *base_url,
                         const char *source);
int pip_index_parse_json(struct pip_project *into, const char *text, size_t len, const char *base_url,
                         const char *source);
/* The files of project name (normalised) on the index at index_url; a project the index does not know
 * (HTTP 404) is no error: it adds nothing. */
int pip_index_project(struct pip_project *into, const char *index_url, const char *name);
/* The files of a --find-links location (a folder, a file:// folder, or a page) whose names are for name. */
int pip_index_find_links(struct pip_project *into, const char *location, const char *name);
/* The bytes at url (http, https, file) into out; accept (may be NULL) is sent; *content_type (may be NULL)
 * gets the answer's type, malloc'ed. Errors name the URL. */
int pip_index_fetch(struct buf *out, const char *url, const char *accept, char **content_type);
/* base joined with a link (absolute, "/path", or relative), without the link's #fragment, malloc'ed. */
char *pip_index_join_url(const char *base, const char *link);
void pip_project_release(struct pip_project *p);

#endif
