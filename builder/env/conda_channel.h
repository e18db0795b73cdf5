/* Where a conda channel lives and how its index is read: the one place that
 * turns a channel as an environment file names it into a URL and fetches
 * `<url>/<subdir>/repodata.json` (over http(s) with libcurl, or file://).
 *
 *   "conda-forge", "pytorch"   -> <channel_alias>/<name> (default alias
 *                                 https://conda.anaconda.org; --channel-alias
 *                                 points every named channel at a mirror)
 *   "defaults"                 -> refused: name the channels instead (Anaconda's
 *                                 terms of service govern it)
 *   "https://...", "http://...", "file:///..."   as written
 *   "/absolute/path"           -> file:///absolute/path
 *
 * Ownership: strings and buffers returned are the caller's. */
#ifndef AMLPKG_CONDA_CHANNEL_H
#define AMLPKG_CONDA_CHANNEL_H

#include "common/buf.h"

#define CONDA_CHANNEL_DEFAULT_ALIAS "https://conda.anaconda.org"
#define CONDA_REPODATA_MAX_BYTES ((size_t)2 << 30)

int conda_channel_url(char **out, const char *channel, const char *alias, const char *context);
/* The bytes at url (http, https or file) into out, which must be initialised; errors name url. */
int conda_channel_fetch(struct buf *out, const char *url);

#endif
