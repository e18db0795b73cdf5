#include "builder/env/conda_channel.h"

#include "common/err.h"

#include <curl/curl.h>
#include <pthread.h>
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

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_global(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
    return buf_append(arg, data, size * n) ? 0 : size * n;
}

static int fetch_http(struct buf *out, const char *url)
{
    pthread_once(&curl_once, curl_global);
    CURL *h = curl_easy_init();
    if (!h)
        return err_set(ERR_NOMEM, "out of memory");
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* servers gzip repodata.json */
    curl_easy_setopt(h, CURLOPT_USERAGENT, "amlpkg/0.1");
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK)
        return err_set(ERR_IO, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    if (status != 200)
        return err_set(status == 404 ? ERR_NOTFOUND : ERR_IO, "%s: HTTP status %ld", url, status);
    return 0;
}

int conda_channel_fetch(struct buf *out, const char *url)
{
    if (!strncmp(url, "file://", 7))
        return buf_read_file(out, url + 7); /* its message names the path */
    return fetch_http(out, url);
}
