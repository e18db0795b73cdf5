#include "builder/env/conda_channel.h"

#include "builder/sys/url_fetch.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int conda_channel_url(char **out, const char *channel, const char *alias, const char *context)
{
    *out = NULL;
    int w;
    size_t n = strlen(channel);
    while (n > 1 && channel[n - 1] == '/')
        n--;
    if (!strcmp(channel, "defaults"))
        return err_set(ERR_UNSUPPORTED,
                       "%s: channel 'defaults': name the channels (e.g. conda-forge, or a URL) instead", context);
    if (!strncmp(channel, "https://", 8) || !strncmp(channel, "http://", 7) || !strncmp(channel, "file://", 7))
        w = asprintf(out, "%.*s", (int)n, channel);
    else if (channel[0] == '/')
        w = asprintf(out, "file://%.*s", (int)n, channel);
    else if (!n || strpbrk(channel, " :?#"))
        return err_set(ERR_INVALID, "%s: channel '%s': expected a name, a URL or an absolute path", context, channel);
    else {
        const char *a = alias && alias[0] ? alias : CONDA_CHANNEL_DEFAULT_ALIAS;
        size_t an = strlen(a);
        while (an > 1 && a[an - 1] == '/')
            an--;
        w = asprintf(out, "%.*s/%.*s", (int)an, a, (int)n, channel);
    }
    if (w < 0) {
        *out = NULL;
        return err_set(ERR_NOMEM, "out of memory");
    }
    return 0;
}

int conda_channel_fetch(struct buf *out, const char *url)
{
    return url_fetch(out, url, NULL, NULL);
}
