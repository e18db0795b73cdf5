#include "builder/sys/digest.h"

#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int digest_init(struct digest *d)
{
    sha256_init(&d->sha);
    return 0;
}

int digest_update(struct digest *d, const void *data, size_t len)
{
    sha256_update(&d->sha, data, len);
    return 0;
}

int digest_final(struct digest *d, char out[DIGEST_STRING_SIZE])
{
    unsigned char raw[SHA256_BYTES];
    sha256_final(&d->sha, raw);
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "sha256:", 7);
    for (unsigned i = 0; i < SHA256_BYTES; i++) {
        out[7 + 2 * i] = hex[raw[i] >> 4];
        out[8 + 2 * i] = hex[raw[i] & 15];
    }
    out[7 + 2 * SHA256_BYTES] = '\0';
    return 0;
}

void digest_release(struct digest *d)
{
    (void)d;
}

int digest_buffer(char out[DIGEST_STRING_SIZE], const void *data, size_t len)
{
    struct digest d;
    int rc = digest_init(&d);
    if (!rc)
        rc = digest_update(&d, data, len);
    if (!rc)
        return digest_final(&d, out);
    digest_release(&d);
    return rc;
}

int digest_file(const char *path, char out[DIGEST_STRING_SIZE], int64_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set_errno(errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "'%s': cannot open", path);
    static _Thread_local char chunk[1 << 16];
    struct digest d;
    int rc = digest_init(&d);
    int64_t total = 0;
    ssize_t n;
    while (!rc && (n = read(fd, chunk, sizeof chunk)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = err_set_errno(ERR_IO, "'%s': read failed", path);
            break;
        }
        total += n;
        rc = digest_update(&d, chunk, (size_t)n);
    }
    close(fd);
    if (rc) {
        digest_release(&d);
        return rc;
    }
    *size = total;
    return digest_final(&d, out);
}
