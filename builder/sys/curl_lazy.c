/* The libcurl functions amlpkg calls, loaded on first use (lazy_lib.h). */
#include "builder/sys/lazy_lib.h"

#include <curl/curl.h>
#include <stdarg.h>

#ifndef AMLPKG_CURL_SONAME
#define AMLPKG_CURL_SONAME "libcurl.so.4"
#endif

static struct lazy_lib curl = LAZY_LIB(AMLPKG_CURL_SONAME);

LAZY_FORWARD(curl, CURLcode, curl_global_init, (long flags), (flags))
LAZY_FORWARD(curl, CURL *, curl_easy_init, (void), ())
LAZY_FORWARD_VOID(curl, curl_easy_cleanup, (CURL * h), (h))
LAZY_FORWARD_VOID(curl, curl_easy_reset, (CURL * h), (h))
LAZY_FORWARD(curl, CURLcode, curl_easy_perform, (CURL * h), (h))
LAZY_FORWARD(curl, const char *, curl_easy_strerror, (CURLcode code), (code))
LAZY_FORWARD(curl, time_t, curl_getdate, (const char *text, const time_t *unused), (text, unused))
LAZY_FORWARD(curl, CURLSH *, curl_share_init, (void), ())
LAZY_FORWARD(curl, CURLSHcode, curl_share_cleanup, (CURLSH * sh), (sh))
LAZY_FORWARD(curl, struct curl_slist *, curl_slist_append, (struct curl_slist * list, const char *s), (list, s))
LAZY_FORWARD_VOID(curl, curl_slist_free_all, (struct curl_slist * list), (list))

/* The variadic ones: the argument's type follows from the option number, as
 * in libcurl itself (CURLOPTTYPE_*), and is passed on as that type. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_share_setopt

static CURLcode call_setopt(CURL *h, CURLoption option, va_list ap)
{
    CURLcode (*fn)(CURL *, CURLoption, ...);
    LAZY_RESOLVE(curl, fn, "curl_easy_setopt");
    if (option < CURLOPTTYPE_OBJECTPOINT)
        return fn(h, option, va_arg(ap, long));
    if (option < CURLOPTTYPE_FUNCTIONPOINT)
        return fn(h, option, va_arg(ap, void *));
    if (option < CURLOPTTYPE_OFF_T)
        return fn(h, option, va_arg(ap, void (*)(void)));
    if (option < CURLOPTTYPE_BLOB)
        return fn(h, option, va_arg(ap, curl_off_t));
    return fn(h, option, va_arg(ap, void *));
}

CURLcode curl_easy_setopt(CURL *h, CURLoption option, ...)
{
    va_list ap;
    va_start(ap, option);
    CURLcode rc = call_setopt(h, option, ap);
    va_end(ap);
    return rc;
}

CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
    CURLcode (*fn)(CURL *, CURLINFO, ...);
    LAZY_RESOLVE(curl, fn, "curl_easy_getinfo");
    va_list ap;
    va_start(ap, info);
    void *out = va_arg(ap, void *); /* every CURLINFO takes a pointer to its result */
    va_end(ap);
    return fn(h, info, out);
}

CURLSHcode curl_share_setopt(CURLSH *sh, CURLSHoption option, ...)
{
    CURLSHcode (*fn)(CURLSH *, CURLSHoption, ...);
    LAZY_RESOLVE(curl, fn, "curl_share_setopt");
    va_list ap;
    va_start(ap, option);
    CURLSHcode rc;
    switch (option) {
    case CURLSHOPT_SHARE:
    case CURLSHOPT_UNSHARE: rc = fn(sh, option, va_arg(ap, int)); break; /* a curl_lock_data */
    case CURLSHOPT_LOCKFUNC:
    case CURLSHOPT_UNLOCKFUNC: rc = fn(sh, option, va_arg(ap, void (*)(void))); break;
    default: rc = fn(sh, option, va_arg(ap, void *)); break;
    }
    va_end(ap);
    return rc;
}
