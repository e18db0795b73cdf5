#include "onnx_reader.h"

#include "model_map.h"
#include "onnx_strip.h"
#include <unistd.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <stdio.h>
#include <errno.h>

#include "beneath.h"
#include "common/err.h"
#include "common/path.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int onnx_reader_parse(Onnx__ModelProto **out, const void *data, size_t len, const char *source)
{
    *out = NULL;
    if (len == 0)
        return err_set(ERR_PARSE, "%s: empty file, not an ONNX model", source);
    Onnx__ModelProto *model = onnx__model_proto__unpack(NULL, len, data);
    if (!model)
        return err_set(ERR_PARSE, "%s: not a valid ONNX model (protobuf decoding failed)", source);
    int rc = 0;
    if (!model->has_ir_version || model->ir_version < 3) {
        rc = err_set(ERR_UNSUPPORTED, "%s: ir_version %lld is not supported (need 3 or later)", source,
                     (long long)model->ir_version);
        goto done;
    }
    if (!model->graph) {
        rc = err_set(ERR_PARSE, "%s: not a valid ONNX model (no graph)", source);
        goto done;
    }
    if (model->graph->n_output == 0) {
        rc = err_set(ERR_PARSE, "%s: graph has no outputs", source);
        goto done;
    }
done:
    if (rc)
        onnx__model_proto__free_unpacked(model, NULL);
    else
        *out = model;
    return rc;
}

void onnx_reader_free(Onnx__ModelProto *model)
{
    if (model)
        onnx__model_proto__free_unpacked(model, NULL);
}

/* Copies n typed values, converting element width where the proto stores a
 * narrower type in a wider field (8- and 16-bit types and bool live in
 * int32_data, uint32 in uint64_data). */
static void copy_typed(void *dst, enum tensor_type type, const Onnx__TensorProto *p, size_t n)
{
    if (n == 0)
        return; /* the repeated field may be NULL */
    switch (type) {
    case TENSOR_FLOAT: memcpy(dst, p->float_data, n * sizeof(float)); break;
    case TENSOR_DOUBLE: memcpy(dst, p->double_data, n * sizeof(double)); break;
    case TENSOR_INT64: memcpy(dst, p->int64_data, n * sizeof(int64_t)); break;
    case TENSOR_INT32: memcpy(dst, p->int32_data, n * sizeof(int32_t)); break;
    case TENSOR_UINT8:
    case TENSOR_INT8:
    case TENSOR_BOOL:
        for (size_t i = 0; i < n; i++)
            ((uint8_t *)dst)[i] = (uint8_t)p->int32_data[i];
        break;
    case TENSOR_UINT16:
    case TENSOR_INT16:
    case TENSOR_FLOAT16:
    case TENSOR_BFLOAT16:
        for (size_t i = 0; i < n; i++)
            ((uint16_t *)dst)[i] = (uint16_t)p->int32_data[i];
        break;
    case TENSOR_UINT32:
        for (size_t i = 0; i < n; i++)
            ((uint32_t *)dst)[i] = (uint32_t)p->uint64_data[i];
        break;
    case TENSOR_UINT64: memcpy(dst, p->uint64_data, n * sizeof(uint64_t)); break;
    case TENSOR_UNDEFINED:
    case TENSOR_STRING: /* onnx_reader_tensor reads strings itself */
    case TENSOR_SEQUENCE:
    case TENSOR_NONE: break;
    }
}

static size_t typed_count(enum tensor_type type, const Onnx__TensorProto *p)
{
    switch (type) {
    case TENSOR_FLOAT: return p->n_float_data;
    case TENSOR_DOUBLE: return p->n_double_data;
    case TENSOR_INT64: return p->n_int64_data;
    case TENSOR_UINT32:
    case TENSOR_UINT64: return p->n_uint64_data;
    default: return p->n_int32_data;
    }
}

/* String elements and their bytes in one malloc'd block, so freeing data frees both.
 * Without copy, only checks them. */
static int read_strings(struct tensor *out, const Onnx__TensorProto *p, const char *source, const char *name, int copy)
{
    int64_t count = tensor_element_count(out);
    if (count < 0 || (size_t)count != p->n_string_data)
        return err_set(ERR_PARSE, "%s: initializer '%s': holds %zu strings, its shape needs %lld", source, name,
                       p->n_string_data, (long long)count);
    size_t bytes = 0;
    for (size_t i = 0; i < p->n_string_data; i++) {
        if (p->string_data[i].len > ONNX_READER_MAX_BYTES)
            return err_set(ERR_PARSE, "%s: initializer '%s': a string is too long", source, name);
        bytes += p->string_data[i].len;
    }
    if (!copy)
        return 0;
    size_t head = (size_t)count * sizeof(struct tensor_string);
    out->data = malloc(head + bytes + 1);
    if (!out->data)
        return err_set(ERR_NOMEM, "%s: initializer '%s': out of memory", source, name);
    struct tensor_string *s = out->data;
    char *text = (char *)out->data + head;
    for (size_t i = 0; i < p->n_string_data; i++) {
        size_t len = p->string_data[i].len;
        if (len)
            memcpy(text, p->string_data[i].data, len);
        s[i] = (struct tensor_string){.data = text, .len = len};
        text += len;
    }
    return 0;
}

/* A path inside the model's directory: relative, no ".." component (ONNX external data rules). */
static int inside_model_dir(const char *location)
{
    if (!location[0] || location[0] == '/')
        return 0;
    for (const char *p = location; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 0;
        p += n;
        p += *p == '/';
    }
    return 1;
}

/* Where an initializer's bytes are, once found: in memory the caller can point
 * to (a mapping or the decoded proto), or at an offset of an open file. */
struct bytes_at {
    const unsigned char *data; /* NULL when only the file holds them */
    int fd;
    long long offset;
    const char *path;
};

/* The key/value pairs of external_data: location (required), offset and length (optional). */
static int external_location(const Onnx__TensorProto *p, size_t bytes, const char *source, const char *name,
                             const char **location, long long *offset)
{
    long long length = -1;
    *location = NULL;
    *offset = 0;
    for (size_t i = 0; i < p->n_external_data; i++) {
        const char *k = p->external_data[i]->key, *v = p->external_data[i]->value;
        char *end = NULL;
        if (!k || !v)
            continue;
        if (!strcmp(k, "location"))
            *location = v;
        else if (!strcmp(k, "offset") || !strcmp(k, "length")) {
            errno = 0;
            long long n = strtoll(v, &end, 10);
            if (errno || end == v || *end || n < 0)
                return err_set(ERR_PARSE, "%s: initializer '%s': external data %s '%s' is not a byte count", source,
                               name, k, v);
            *(!strcmp(k, "offset") ? offset : &length) = n;
        }
    }
    if (!*location)
        return err_set(ERR_PARSE, "%s: initializer '%s': external data without a location", source, name);
    if (!inside_model_dir(*location))
        return err_set(ERR_INVALID,
                       "%s: initializer '%s': external data location '%s' must be a relative path "
                       "inside the model's directory",
                       source, name, *location);
    if (length >= 0 && (unsigned long long)length != bytes)
        return err_set(ERR_PARSE, "%s: initializer '%s': external data length %lld, its shape needs %zu", source, name,
                       length, bytes);
    return 0;
}

/* The mapping of an external data file, mapped on first use (from fd, opened beneath the model's
 * folder; always taken) and kept in files->maps. */
static int external_map(struct model_map **out, struct onnx_reader_files *files, const char *path, int fd)
{
    for (size_t i = 0; i < files->n_maps; i++)
        if (!strcmp(model_map_path(files->maps[i]), path)) {
            close(fd);
            *out = files->maps[i];
            return 0;
        }
    struct model_map **grown = realloc(files->maps, (files->n_maps + 1) * sizeof *grown);
    if (!grown) {
        close(fd);
        return err_set(ERR_NOMEM, "%s: out of memory", path);
    }
    files->maps = grown;
    int rc = model_map_open_fd(out, fd, path, 0);
    if (!rc)
        files->maps[files->n_maps++] = *out;
    return rc;
}

/* Finds bytes of an initializer kept in a file beside the model (data_location
 * EXTERNAL) and checks the file holds them. Mapping the file (map, kept in
 * files->maps) gives their address; otherwise *fd is left open on the file (the
 * caller closes it) when need_fd is set. */
static int find_external(struct bytes_at *at, const Onnx__TensorProto *p, size_t bytes, const char *name,
                         struct onnx_reader_files *files, int map, int need_fd, char *path, size_t path_size)
{
    const char *source = files->source, *location;
    long long offset;
    int rc = external_location(p, bytes, source, name, &location, &offset);
    if (rc)
        return rc;
    if (!files->data_dir)
        return err_set(ERR_UNSUPPORTED, "%s: initializer '%s': external data needs the model read from its file",
                       source, name);
    if (path_join_into(path, path_size, files->data_dir, location) >= path_size)
        return err_set(ERR_LIMIT, "%s: initializer '%s': external data path too long", source, name);
    at->path = path;
    at->offset = offset;
    /* Beneath the model's folder, non-blocking, a regular file (runtime/engine/beneath.h); checked the
     * same way whether it is then mapped or read, so the builder's graph-only check and the server say
     * the same thing. */
    int fd = -1;
    int orc = beneath_open(&fd, files->data_dir, location, "external data");
    struct stat st;
    if (orc || fstat(fd, &st) != 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", orc ? err_message(orc) : strerror(errno));
        err_clear();
        rc = err_set(orc == ERR_NOTFOUND ? ERR_NOTFOUND : orc ? orc : ERR_IO, "%s: initializer '%s': %s", source,
                     name, why);
        if (fd >= 0)
            close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode) || offset > st.st_size || (unsigned long long)(st.st_size - offset) < bytes) {
        close(fd);
        return err_set(ERR_PARSE,
                       "%s: initializer '%s': external data '%s' holds %lld bytes, offset %lld + %zu "
                       "needed",
                       source, name, path, (long long)st.st_size, offset, bytes);
    }
    if (!map) {
        if (need_fd)
            at->fd = fd;
        else
            close(fd);
        return 0;
    }
    struct model_map *file;
    if ((rc = external_map(&file, files, path, fd)))
        return rc; /* the error names the data file */
    /* Checked again on the mapping: the file may have changed since. */
    size_t size = model_map_len(file);
    if ((unsigned long long)offset > size || size - (size_t)offset < bytes)
        return err_set(ERR_PARSE, "%s: initializer '%s': external data '%s' changed while it was read", source, name,
                       path);
    at->data = size ? model_map_data(file) + offset : NULL;
    return 0;
}

/* Copies bytes from an open file at offset. */
static int read_at(void *dst, size_t bytes, const struct bytes_at *at, const char *source, const char *name)
{
    size_t got = 0;
    while (got < bytes) {
        ssize_t r = pread(at->fd, (char *)dst + got, bytes - got, (off_t)(at->offset + (long long)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return err_set_errno(ERR_IO, "%s: initializer '%s': cannot read '%s'", source, name, at->path);
        got += (size_t)r;
    }
    return 0;
}

/* The reference onnx_strip left in place of raw_data, or NULL. */
static const ProtobufCMessageUnknownField *stripped_ref(const Onnx__TensorProto *p)
{
    for (unsigned i = 0; i < p->base.n_unknown_fields; i++) {
        const ProtobufCMessageUnknownField *f = &p->base.unknown_fields[i];
        if (f->tag == ONNX_STRIP_FIELD && f->wire_type == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
            return f;
    }
    return NULL;
}

enum read_mode { READ_CHECK, READ_COPY, READ_BORROW };

/* Copies bytes out of the mapped model file a few MiB at a time, dropping
 * each stretch's pages from this process's mapping once copied (they stay in
 * the page cache, and fault back in if read again): a misaligned weight then
 * costs its copy, not its copy plus its mapped pages, and the peak stays near
 * the model's size instead of twice it. */
void onnx_reader_copy_mapped(void *dst, const void *src_bytes, size_t bytes)
{
    const unsigned char *src = src_bytes;
    const size_t chunk = (size_t)4 << 20;
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t mask = page > 0 ? (uintptr_t)page - 1 : 4095;
    for (size_t done = 0; done < bytes;) {
        size_t n = bytes - done < chunk ? bytes - done : chunk;
        memcpy((unsigned char *)dst + done, src + done, n);
        /* whole pages inside [src + done, src + done + n) only: the neighbours may hold other tensors */
        uintptr_t lo = ((uintptr_t)(src + done) + mask) & ~mask, hi = (uintptr_t)(src + done + n) & ~mask;
        if (hi > lo)
            madvise((void *)lo, hi - lo, MADV_DONTNEED);
        done += n;
    }
}

/* Everything onnx_reader_tensor checks; the values are copied (READ_COPY),
 * borrowed where aligned for their type (READ_BORROW) or left (READ_CHECK). */
static int read_tensor(struct tensor *out, int *owned, const Onnx__TensorProto *p, struct onnx_reader_files *files,
                       enum read_mode mode)
{
    memset(out, 0, sizeof *out);
    *owned = 0;
    const char *source = files->source;
    const char *name = p->name ? p->name : "";
    enum tensor_type type = (enum tensor_type)p->data_type;
    size_t elem = tensor_type_size(type);
    if (!elem)
        return err_set(ERR_UNSUPPORTED, "%s: initializer '%s': data type %d is not supported", source, name,
                       (int)p->data_type);
    if (p->n_dims > TENSOR_MAX_RANK)
        return err_set(ERR_UNSUPPORTED, "%s: initializer '%s': rank %zu is above %d", source, name, p->n_dims,
                       TENSOR_MAX_RANK);
    int external = p->has_data_location && p->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    if (external && type == TENSOR_STRING)
        return err_set(ERR_UNSUPPORTED, "%s: initializer '%s': string data cannot be external", source, name);
    out->type = type;
    out->rank = (int)p->n_dims;
    for (size_t i = 0; i < p->n_dims; i++)
        out->dims[i] = p->dims[i];
    if (type == TENSOR_STRING) {
        *owned = mode != READ_CHECK;
        return read_strings(out, p, source, name, mode != READ_CHECK);
    }
    int64_t count = tensor_element_count(out);
    if (count < 0 || (uint64_t)count > SIZE_MAX / elem)
        return err_set(ERR_PARSE, "%s: initializer '%s': invalid dimensions", source, name);
    size_t bytes = (size_t)count * elem;
    struct bytes_at at = {.fd = -1};
    char path[4096];
    int rc = 0;
    const ProtobufCMessageUnknownField *ref = files->model ? stripped_ref(p) : NULL;
    if (external) {
        if ((rc = find_external(&at, p, bytes, name, files, mode == READ_BORROW, mode == READ_COPY, path, sizeof path)))
            return rc;
    } else if (ref) {
        uint64_t offset, length;
        if (onnx_strip_ref(ref->data, ref->len, &offset, &length) || offset > files->model_len ||
            length > files->model_len - offset)
            return err_set(ERR_PARSE, "%s: initializer '%s': bad raw data reference", source, name);
        if (length != bytes)
            return err_set(ERR_PARSE, "%s: initializer '%s': holds %llu bytes, its shape needs %zu", source, name,
                           (unsigned long long)length, bytes);
        at.data = files->model + offset;
    } else {
        size_t have = p->has_raw_data ? p->raw_data.len : typed_count(type, p) * elem;
        if (have != bytes)
            return err_set(ERR_PARSE, "%s: initializer '%s': holds %zu bytes, its shape needs %zu", source, name,
                           have, bytes);
        if (p->has_raw_data)
            at.data = p->raw_data.data;
        else if (type == TENSOR_FLOAT || type == TENSOR_DOUBLE || type == TENSOR_INT64 || type == TENSOR_INT32 ||
                 type == TENSOR_UINT64)
            at.data = count == 0                   ? NULL
                      : type == TENSOR_FLOAT       ? (const void *)p->float_data
                      : type == TENSOR_DOUBLE      ? (const void *)p->double_data
                      : type == TENSOR_INT64       ? (const void *)p->int64_data
                      : type == TENSOR_INT32       ? (const void *)p->int32_data
                                                   : (const void *)p->uint64_data;
    }
    if (mode == READ_CHECK)
        goto done;
    /* raw_data is little-endian, as is every host we build for. Borrowed bytes
     * must be aligned for their type (protobuf does not align raw_data) unless
     * the caller reads misaligned ones as bytes. */
    int in_mapping = ref || external; /* a misaligned copy in the decoded proto is copied, as before */
    if (mode == READ_BORROW && bytes && at.data &&
        ((uintptr_t)at.data % elem == 0 || (files->borrow_unaligned && in_mapping))) {
        out->data = (void *)at.data;
        goto done;
    }
    out->data = malloc(bytes ? bytes : 1);
    if (!out->data) {
        rc = err_set(ERR_NOMEM, "%s: initializer '%s': out of memory", source, name);
        goto done;
    }
    *owned = 1;
    if (at.data && ref) {
        onnx_reader_copy_mapped(out->data, at.data, bytes);
    } else if (at.data) {
        if (bytes)
            memcpy(out->data, at.data, bytes);
    } else if (at.fd >= 0) {
        rc = read_at(out->data, bytes, &at, source, name);
    } else
        copy_typed(out->data, type, p, (size_t)count);
    if (rc) {
        free(out->data);
        out->data = NULL;
        *owned = 0;
    }
done:
    if (at.fd >= 0)
        close(at.fd);
    return rc;
}

int onnx_reader_tensor(struct tensor *out, const Onnx__TensorProto *p, const char *source, const char *data_dir)
{
    struct onnx_reader_files files = {.source = source, .data_dir = data_dir};
    int owned;
    return read_tensor(out, &owned, p, &files, READ_COPY);
}

int onnx_reader_tensor_check(struct tensor *out, const Onnx__TensorProto *p, const char *source, const char *data_dir)
{
    struct onnx_reader_files files = {.source = source, .data_dir = data_dir};
    int owned;
    return read_tensor(out, &owned, p, &files, READ_CHECK);
}

int onnx_reader_tensor_from(struct tensor *out, int *owned, const Onnx__TensorProto *p,
                            struct onnx_reader_files *files, int check_only)
{
    return read_tensor(out, owned, p, files, check_only ? READ_CHECK : READ_BORROW);
}

int onnx_reader_value_info(struct tensor *out, const Onnx__ValueInfoProto *info, const char *source)
{
    memset(out, 0, sizeof *out);
    const char *name = info->name ? info->name : "";
    const Onnx__TypeProto *type = info->type;
    /* An optional is described by what it holds when it holds something. */
    if (type && type->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE && type->optional_type)
        type = type->optional_type->elem_type;
    if (type && type->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE) {
        out->type = TENSOR_SEQUENCE;
        out->rank = -1;
        return 0;
    }
    if (!type || type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !type->tensor_type)
        return err_set(ERR_UNSUPPORTED, "%s: graph value '%s' is not a tensor, a sequence or an optional", source,
                       name);
    out->type = (enum tensor_type)type->tensor_type->elem_type;
    const Onnx__TensorShapeProto *shape = type->tensor_type->shape;
    if (!shape) {
        out->rank = -1; /* unknown rank */
        return 0;
    }
    if (shape->n_dim > TENSOR_MAX_RANK)
        return err_set(ERR_UNSUPPORTED, "%s: graph value '%s': rank %zu is above %d", source, name, shape->n_dim,
                       TENSOR_MAX_RANK);
    out->rank = (int)shape->n_dim;
    for (size_t i = 0; i < shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = shape->dim[i];
        out->dims[i] = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ? d->dim_value : -1;
    }
    return 0;
}
