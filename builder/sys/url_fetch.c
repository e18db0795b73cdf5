#include "builder/sys/url_fetch.h"

#include "common/err.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_global(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
    return buf_append(arg, data, size * n) ? 0 : size * n;
}

int url_fetch(struct buf *out, const char *url, const char *accept, char **content_type)
{
    if (content_type)
        *content_type = NULL;
    if (!strncmp(url, "file://", 7))
        return buf_read_file(out, url + 7); /* its message names the path */
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
        return err_set(ERR_UNSUPPORTED, "%s: only https, http and file URLs are read", url);
    pthread_once(&curl_once, curl_global);
    CURL *h = curl_easy_init();
    if (!h)
        return err_set(ERR_NOMEM, "out of memory");
    struct curl_slist *headers = NULL;
    char errbuf[CURL_ERROR_SIZE] = "", accept_header[256];
    if (accept) {
        snprintf(accept_header, sizeof accept_header, "Accept: %s", accept);
        if (!(headers = curl_slist_append(NULL, accept_header))) {
            curl_easy_cleanup(h);
            return err_set(ERR_NOMEM, "out of memory");
        }
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* servers gzip repodata.json and index pages */
    curl_easy_setopt(h, CURLOPT_USERAGENT, "amlpkg/0.1");
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    char *type = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type);
    int rc = 0;
    if (cc != CURLE_OK)
        rc = err_set(ERR_IO, "%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    else if (status != 200)
        rc = err_set(status == 404 ? ERR_NOTFOUND : ERR_IO, "%s: HTTP status %ld", url, status);
    else if (content_type && type && !(*content_type = strdup(type)))
        rc = err_set(ERR_NOMEM, "out of memory");
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    return rc;
}
