#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_buffer[1024];
static _Thread_local int err_is_set;

int err_setv(int code, const char *fmt, va_list ap)
{
    if (!err_is_set) {
        vsnprintf(err_buffer, sizeof err_buffer, fmt, ap);
        err_is_set = 1;
    }
    return code;
}

int err_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_setv(code, fmt, ap);
    va_end(ap);
    return code;
}

static int set_with_errno(int code, int saved, const char *fmt, va_list ap)
{
    if (err_is_set)
        return code;
    vsnprintf(err_buffer, sizeof err_buffer, fmt, ap);
    size_t used = strlen(err_buffer);
    snprintf(err_buffer + used, sizeof err_buffer - used, ": %s", strerror(saved));
    err_is_set = 1;
    return code;
}

int err_set_errno(int code, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    set_with_errno(code, saved, fmt, ap);
    va_end(ap);
    return code;
}

int err_set_write(int code, const char *fmt, ...)
{
    int saved = errno ? errno : ENOSPC;
    va_list ap;
    va_start(ap, fmt);
    set_with_errno(code, saved, fmt, ap);
    va_end(ap);
    return code;
}

const char *err_code_text(int code)
{
    switch (code) {
    case ERR_OK: return "success";
#define ERR_CASE(name, value, text)                                                                                    \
    case name: return text;
        ERR_TABLE(ERR_CASE)
#undef ERR_CASE
    }
    return "unknown error";
}

const char *err_message(int code)
{
    return err_is_set ? err_buffer : err_code_text(code);
}

void err_clear(void)
{
    err_is_set = 0;
    err_buffer[0] = '\0';
}
