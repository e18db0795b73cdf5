#include "onnx_reader.h"
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

/* Reads bytes of an initializer kept in a file beside the model (data_location EXTERNAL):
 * external_data names location (required), offset and length (optional). Without
 * copy, only checks that the file holds them. */
static int read_external(struct tensor *out, const Onnx__TensorProto *p, size_t bytes, const char *source,
                         const char *name, const char *data_dir, int copy)
{
    const char *location = NULL;
    long long offset = 0, length = -1;
    for (size_t i = 0; i < p->n_external_data; i++) {
        const char *k = p->external_data[i]->key, *v = p->external_data[i]->value;
        char *end = NULL;
        if (!k || !v)
            continue;
        if (!strcmp(k, "location"))
            location = v;
        else if (!strcmp(k, "offset") || !strcmp(k, "length")) {
            errno = 0;
            long long n = strtoll(v, &end, 10);
            if (errno || end == v || *end || n < 0)
                return err_set(ERR_PARSE, "%s: initializer '%s': external data %s '%s' is not a byte count", source,
                               name, k, v);
            *(!strcmp(k, "offset") ? &offset : &length) = n;
        }
    }
    if (!location)
        return err_set(ERR_PARSE, "%s: initializer '%s': external data without a location", source, name);
    if (!inside_model_dir(location))
        return err_set(ERR_INVALID,
                       "%s: initializer '%s': external data location '%s' must be a relative path "
                       "inside the model's directory",
                       source, name, location);
    if (!data_dir)
        return err_set(ERR_UNSUPPORTED, "%s: initializer '%s': external data needs the model read from its file",
                       source, name);
    if (length >= 0 && (unsigned long long)length != bytes)
        return err_set(ERR_PARSE, "%s: initializer '%s': external data length %lld, its shape needs %zu", source, name,
                       length, bytes);
    char path[4096];
    if (path_join_into(path, sizeof path, data_dir, location) >= sizeof path)
        return err_set(ERR_LIMIT, "%s: initializer '%s': external data path too long", source, name);
    /* Beneath the model's folder, non-blocking, a regular file (runtime/engine/beneath.h). */
    int fd;
    int orc = beneath_open(&fd, data_dir, location, "external data");
    struct stat st;
    if (orc || fstat(fd, &st) != 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", orc ? err_message(orc) : strerror(errno));
        err_clear();
        int rc = err_set(orc == ERR_NOTFOUND ? ERR_NOTFOUND : orc ? orc : ERR_IO, "%s: initializer '%s': %s", source,
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
    if (!copy) {
        close(fd);
        return 0;
    }
    out->data = malloc(bytes ? bytes : 1);
    if (!out->data) {
        close(fd);
        return err_set(ERR_NOMEM, "%s: initializer '%s': out of memory", source, name);
    }
    size_t got = 0;
    while (got < bytes) {
        ssize_t r = pread(fd, (char *)out->data + got, bytes - got, (off_t)(offset + (long long)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int rc = err_set_errno(ERR_IO, "%s: initializer '%s': cannot read '%s'", source, name, path);
            close(fd);
            free(out->data);
            out->data = NULL;
            return rc;
        }
        got += (size_t)r;
    }
    close(fd);
    return 0;
}

/* Everything onnx_reader_tensor checks; the values are copied only with copy. */
static int read_tensor(struct tensor *out, const Onnx__TensorProto *p, const char *source, const char *data_dir,
                       int copy)
{
    memset(out, 0, sizeof *out);
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
    if (type == TENSOR_STRING)
        return read_strings(out, p, source, name, copy);
    int64_t count = tensor_element_count(out);
    if (count < 0 || (uint64_t)count > SIZE_MAX / elem)
        return err_set(ERR_PARSE, "%s: initializer '%s': invalid dimensions", source, name);
    size_t bytes = (size_t)count * elem;
    if (external)
        return read_external(out, p, bytes, source, name, data_dir, copy);
    size_t have = p->has_raw_data ? p->raw_data.len : typed_count(type, p) * elem;
    if (have != bytes)
        return err_set(ERR_PARSE, "%s: initializer '%s': holds %zu bytes, its shape needs %zu", source, name, have,
                       bytes);
    if (!copy)
        return 0;
    out->data = malloc(bytes ? bytes : 1);
    if (!out->data)
        return err_set(ERR_NOMEM, "%s: initializer '%s': out of memory", source, name);
    /* raw_data is little-endian, as is every host we build for. */
    if (p->has_raw_data) {
        if (bytes)
            memcpy(out->data, p->raw_data.data, bytes);
    } else
        copy_typed(out->data, type, p, (size_t)count);
    return 0;
}

int onnx_reader_tensor(struct tensor *out, const Onnx__TensorProto *p, const char *source, const char *data_dir)
{
    return read_tensor(out, p, source, data_dir, 1);
}

int onnx_reader_tensor_check(struct tensor *out, const Onnx__TensorProto *p, const char *source, const char *data_dir)
{
    return read_tensor(out, p, source, data_dir, 0);
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
