/* Error codes and the one detailed message per thread.
 *
 * Functions return 0 on success or a negative code from the table below. The
 * place that finds a problem calls err_set() once with the full detail (file,
 * field, line); callers propagate the code and never overwrite the message, so
 * main() prints exactly what was found where it was found. The message buffer
 * is thread-local and owned by this module. */
#ifndef AMLPKG_ERR_H
#define AMLPKG_ERR_H

#include <stdarg.h>

#define ERR_TABLE(X)                                                                                                   \
    X(ERR_NOMEM, -1, "out of memory")                                                                                  \
    X(ERR_IO, -2, "input/output error")                                                                                \
    X(ERR_PARSE, -3, "parse error")                                                                                    \
    X(ERR_INVALID, -4, "invalid value")                                                                                \
    X(ERR_NOTFOUND, -5, "not found")                                                                                   \
    X(ERR_UNSUPPORTED, -6, "not supported")                                                                            \
    X(ERR_LIMIT, -7, "limit exceeded")                                                                                 \
    X(ERR_USAGE, -8, "usage error")                                                                                    \
    X(ERR_EXISTS, -9, "already exists")                                                                                \
    X(ERR_MISMATCH, -10, "mismatch")

enum err_code {
    ERR_OK = 0,
#define ERR_ENUM(name, value, text) name = value,
    ERR_TABLE(ERR_ENUM)
#undef ERR_ENUM
};

/* Sets the detailed message unless one is already set; returns code so that
 * `return err_set(ERR_IO, "...")` reads naturally. */
int err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int err_setv(int code, const char *fmt, va_list ap);
/* Like err_set but appends ": strerror(errno)" for the current errno. */
int err_set_errno(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* err_set_errno for a failed write, flush or close: errno 0 there means a
 * short write, which the kernel gives on a full disk without setting errno,
 * so it reads "No space left on device" rather than "Success". */
int err_set_write(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The detailed message, or the table text for code when none was set. */
const char *err_message(int code);
const char *err_code_text(int code);
void err_clear(void);

#endif
