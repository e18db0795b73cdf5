/* One document by URL into memory: what reading a conda channel's repodata
 * and a Python package index's pages share. file:// is read from disk;
 * http(s) with libcurl (redirects followed, gzip accepted, a 30 s connect
 * timeout); other schemes are refused. A status other than 200 is an error
 * naming the URL (404: ERR_NOTFOUND). */
#ifndef AMLPKG_URL_FETCH_H
#define AMLPKG_URL_FETCH_H

#include "common/buf.h"

/* accept: an Accept header value, or NULL. content_type (may be NULL): the
 * server's Content-Type, malloc'd (NULL for file:// or when none was sent). */
int url_fetch(struct buf *out, const char *url, const char *accept, char **content_type);

#endif
