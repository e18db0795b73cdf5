/* Takes the weights out of a serialized ONNX model before protobuf-c decodes
 * it, so they are not copied: protobuf-c copies every bytes field, and an
 * initializer's raw_data is most of a model file.
 *
 * onnx_strip rewrites the ModelProto it is given, replacing each initializer's
 * raw_data (GraphProto.initializer of the main graph and of subgraphs in node
 * attributes) by a field ONNX does not use, ONNX_STRIP_FIELD, holding the
 * bytes' offset and length in the input (two little-endian uint64). protobuf-c
 * keeps that field as an unknown field of the TensorProto; onnx_reader
 * resolves it against the same input (a mapped file). Everything else is
 * copied verbatim. The output is caller-owned (a struct buf). */
#ifndef AMLSERVE_ONNX_STRIP_H
#define AMLSERVE_ONNX_STRIP_H

#include "common/buf.h"

#include <stddef.h>
#include <stdint.h>

/* The largest field number protobuf allows; ONNX's messages use small ones. */
#define ONNX_STRIP_FIELD 536870911u
/* raw_data shorter than this stays in place: copying it costs less than referencing it. */
#define ONNX_STRIP_MIN 64

/* out (initialised by the caller) gets the rewritten model. Returns the number
 * of raw_data fields taken out, or -1 when the input is not protobuf the
 * rewriter can walk (the caller decodes the original, whose decoder reports
 * the error) or memory ran out (out is then reset). */
long onnx_strip(struct buf *out, const unsigned char *data, size_t len);
/* The reference onnx_strip left, as protobuf-c keeps the unknown field (data,
 * len: with or without its length prefix): 0 and offset/length, or -1. */
int onnx_strip_ref(const unsigned char *data, size_t len, uint64_t *offset, uint64_t *length);

#endif
