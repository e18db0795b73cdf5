/* The CUDA backend's place when amlserve is built without nvcc: never usable,
 * so `--backend cuda` reports that this build lacks it. */
#include "backend.h"

static int usable(void) { return 0; }
static int claims(const struct backend_node *info) { (void)info; return 0; }
static op_run_fn kernel(const Onnx__NodeProto *node) { (void)node; return NULL; }

const struct engine_backend backend_cuda = {.name = "cuda", .usable = usable, .claims = claims, .kernel = kernel};
