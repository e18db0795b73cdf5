/* Vectorized float32 loops for the optimized CPU backend's elementwise
 * kernels, dispatched on cpu_isa. A step of 0 repeats element 0 (a broadcast
 * scalar), 1 walks the array; out may alias an input. */
#ifndef AMLSERVE_VECMATH_H
#define AMLSERVE_VECMATH_H

#include <stdint.h>

enum vec_op { VEC_ADD, VEC_SUB, VEC_MUL, VEC_DIV };
enum vec_act { VEC_RELU, VEC_LEAKY_RELU, VEC_SIGMOID, VEC_EXP, VEC_ERF, VEC_TANH };

void vec_binary(enum vec_op op, float *out, const float *a, int a_step, const float *b, int b_step, int64_t n);
/* alpha: LeakyRelu's slope, unused otherwise. */
void vec_activation(enum vec_act act, float *out, const float *in, int64_t n, float alpha);

/* out[i] = in[i] · k + off (BatchNormalization folded per channel). */
void vec_scale_shift(float *out, const float *in, int64_t n, float k, float off);
/* out[i] = exp(in[i] - shift), returning Σ out[i] in double (Softmax's exponentials and their sum in
 * one pass; out may be in). */
double vec_exp_sum(float *out, const float *in, int64_t n, float shift);
/* Σ in[i] in double, as the reference's softmax sums. */
double vec_sum(const float *in, int64_t n);
float vec_max(const float *in, int64_t n);
/* Σ (in[i] - mean)² in double: LayerNormalization's variance. */
double vec_sq_dev(const float *in, int64_t n, double mean);
/* out[i] = (in[i] - mean) · inv · scale[i] + bias[i] (bias may be NULL). */
void vec_normalize(float *out, const float *in, int64_t n, double mean, float inv, const float *scale,
                   const float *bias);

#endif
