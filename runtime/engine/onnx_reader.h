/* Reads ONNX protobuf files into protobuf-c structs and their initializers
 * into tensors.
 *
 * This is the part of the engine the builder also links, to validate models
 * and read their signatures without starting a server. A model read with
 * onnx_reader_parse is owned by the caller and freed with onnx_reader_free. */
#ifndef AMLSERVE_ONNX_READER_H
#define AMLSERVE_ONNX_READER_H

#include "model_map.h"
#include "onnx.pb-c.h"
#include "tensor.h"

#include <stddef.h>

/* Unpacks and sanity-checks a ModelProto; source names the file in errors. */
int onnx_reader_parse(Onnx__ModelProto **out, const void *data, size_t len, const char *source);
void onnx_reader_free(Onnx__ModelProto *model);
/* Copies an initializer's values into a malloc'd buffer at out->data
 * (raw_data, the typed repeated field, or external data: a file under
 * data_dir, the model's directory, named by a relative location without
 * "..", at its offset and length). data_dir NULL refuses external data. The
 * caller frees out->data. */
int onnx_reader_tensor(struct tensor *out, const Onnx__TensorProto *proto, const char *source, const char *data_dir);
/* The same checks as onnx_reader_tensor (data type, rank, byte count, external
 * data location, presence and size) without copying a value or reading
 * external data: out gets type, rank and dims, out->data stays NULL. */
int onnx_reader_tensor_check(struct tensor *out, const Onnx__TensorProto *proto, const char *source,
                             const char *data_dir);
/* Where onnx_reader_tensor_from finds an initializer's bytes. */
struct onnx_reader_files {
    const char *source;         /* the model, as errors name it */
    const char *data_dir;       /* where external data lives; NULL refuses external data */
    const unsigned char *model; /* the input onnx_strip's references point into (the mapped file), or NULL */
    size_t model_len;
    struct model_map **maps; /* external data files mapped so far (grown here; the caller frees them) */
    size_t n_maps;
    /* Borrow bytes in a mapping (raw_data in files->model, external data) even when they are not
     * aligned for their type: out->data is then misaligned, and only code that reads it as bytes
     * (memcpy) may touch it. Protobuf does not align raw_data; copying every such weight would cost
     * the model's size in private memory. */
    int borrow_unaligned;
};
/* Like onnx_reader_tensor, but borrows instead of copying wherever the bytes
 * are aligned for their type (or lie in a mapping, with files->borrow_unaligned):
 * raw_data onnx_strip referenced in files->model,
 * external data (its file mapped into files->maps), and the decoded proto's
 * own fields. *owned tells whether out->data is malloc'd (the caller frees it)
 * or borrowed (valid while the proto and the mappings live). check_only: as
 * onnx_reader_tensor_check. */
int onnx_reader_tensor_from(struct tensor *out, int *owned, const Onnx__TensorProto *proto,
                            struct onnx_reader_files *files, int check_only);
/* Copies bytes out of a read-only file mapping (model_map.h), dropping each copied stretch's
 * pages from this process's mapping (they stay in the page cache): a copied weight costs its copy,
 * not its copy plus its mapped pages. src must lie in such a mapping. */
void onnx_reader_copy_mapped(void *dst, const void *src, size_t bytes);
/* Fills type/rank/dims (-1 for symbolic dims) from a graph input/output. A
 * sequence gets type TENSOR_SEQUENCE and rank -1; an optional, what it holds. */
int onnx_reader_value_info(struct tensor *out, const Onnx__ValueInfoProto *info, const char *source);
/* Largest model file we accept into memory (protobuf's own limit is 2 GiB). */
#define ONNX_READER_MAX_BYTES ((size_t)2 << 30)

#endif
