#include "ops.h"

#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct op_kernel op_table[] = {
    {"", "Add", 2, 2, op_add},
    {"", "Sub", 2, 2, op_sub},
    {"", "Mul", 2, 2, op_mul},
    {"", "Div", 2, 2, op_div},
    {"", "MatMul", 2, 2, op_matmul},
};

const struct op_kernel *ops_find(const char *domain, const char *op_type)
{
    /* "ai.onnx" is another spelling of the default domain. */
    if (!domain || strcmp(domain, "ai.onnx") == 0)
        domain = "";
    for (size_t i = 0; i < sizeof op_table / sizeof op_table[0]; i++)
        if (strcmp(op_table[i].domain, domain) == 0 && strcmp(op_table[i].op_type, op_type) == 0)
            return &op_table[i];
    return NULL;
}

int ops_fail(const struct op_call *call, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    const char *name = call->node->name && call->node->name[0] ? call->node->name : "(unnamed)";
    return err_set(ERR_INVALID, "node '%s' (%s): %s", name, call->node->op_type, detail);
}

int ops_alloc_output(const struct op_call *call, int index, enum tensor_type type, int rank,
                     const int64_t *dims)
{
    struct tensor *t = &call->outputs[index];
    t->type = type;
    t->rank = rank;
    for (int i = 0; i < rank; i++)
        t->dims[i] = dims[i];
    int64_t count = tensor_element_count(t);
    size_t elem = tensor_type_size(type);
    if (count < 0 || (uint64_t)count > SIZE_MAX / elem)
        return ops_fail(call, "output %d is too large", index);
    t->data = arena_alloc(call->arena, (size_t)count * elem);
    if (!t->data)
        return err_set(ERR_LIMIT, "node '%s' (%s): output does not fit in the request memory limit",
                       call->node->name ? call->node->name : "", call->node->op_type);
    return 0;
}
