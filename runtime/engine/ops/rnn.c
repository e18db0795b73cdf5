/* Recurrent layers: RNN, GRU, LSTM (float32, forward/reverse/bidirectional,
 * sequence_lens, initial states, peepholes, clip, layout 0 and 1). One step
 * loop serves all three; gates are computed as matrix-vector products. */
#include "ops.h"

#include <math.h>
#include <string.h>

enum cell { CELL_RNN, CELL_GRU, CELL_LSTM };
enum act_fn { F_SIGMOID, F_TANH, F_RELU, F_SOFTSIGN, F_SOFTPLUS };

static float act(enum act_fn f, float x)
{
    switch (f) {
    case F_SIGMOID: return 1 / (1 + expf(-x));
    case F_TANH: return tanhf(x);
    case F_RELU: return x > 0 ? x : 0;
    case F_SOFTSIGN: return x / (1 + fabsf(x));
    case F_SOFTPLUS: return log1pf(expf(x));
    }
    return x;
}

struct rnn {
    enum cell cell;
    int gates; /* 1, 3 or 4 blocks of `hidden` rows in W and R */
    int64_t seq, batch, input, hidden;
    int dirs, layout, linear_before_reset, input_forget;
    float clip;          /* 0: none */
    enum act_fn f[2][3]; /* per direction: f, g, h */
    const float *x, *w, *r, *b, *p, *h0, *c0;
    const struct tensor *lens;
    float *y, *yh, *yc;
};

static int parse_activations(const struct op_call *call, struct rnn *s)
{
    static const enum act_fn defaults[3][3] = {{F_TANH}, {F_SIGMOID, F_TANH}, {F_SIGMOID, F_TANH, F_TANH}};
    int per_dir = s->cell == CELL_RNN ? 1 : s->cell == CELL_GRU ? 2 : 3;
    const Onnx__AttributeProto *a = ops_attr(call, "activations");
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < 3; i++)
            s->f[d][i] = defaults[s->cell][i];
    if (!a || a->n_strings == 0)
        return 0;
    if (a->n_strings != (size_t)(per_dir * s->dirs))
        return ops_fail(call, "activations must name %d functions", per_dir * s->dirs);
    static const struct {
        const char *name;
        enum act_fn f;
    } names[] = {
        {"Sigmoid", F_SIGMOID}, {"Tanh", F_TANH}, {"Relu", F_RELU}, {"Softsign", F_SOFTSIGN}, {"Softplus", F_SOFTPLUS}};
    for (size_t k = 0; k < a->n_strings; k++) {
        size_t j = 0;
        for (; j < sizeof names / sizeof names[0]; j++)
            if (a->strings[k].len == strlen(names[j].name) &&
                memcmp(a->strings[k].data, names[j].name, a->strings[k].len) == 0)
                break;
        if (j == sizeof names / sizeof names[0])
            return ops_unsupported(call, "activation %zu is not supported", k);
        s->f[k / (size_t)per_dir][k % (size_t)per_dir] = names[j].f;
    }
    return 0;
}

/* Element offsets under layout 0 ([seq, (dirs,) batch, ...]) or 1 ([batch, seq, (dirs,) ...]). */
static int64_t x_at(const struct rnn *s, int64_t t, int64_t b)
{
    return (s->layout ? b * s->seq + t : t * s->batch + b) * s->input;
}
static int64_t y_at(const struct rnn *s, int64_t t, int d, int64_t b)
{
    return (s->layout ? ((b * s->seq + t) * s->dirs + d) : ((t * s->dirs + d) * s->batch + b)) * s->hidden;
}
static int64_t state_at(const struct rnn *s, int d, int64_t b)
{
    return (s->layout ? b * s->dirs + d : d * s->batch + b) * s->hidden;
}

static float clipped(const struct rnn *s, float v)
{
    return s->clip > 0 ? (v < -s->clip ? -s->clip : v > s->clip ? s->clip : v) : v;
}

/* out[j] = Σ m[j, k] · v[k] over rows of m (row-major, `cols` wide). */
static void matvec(float *out, const float *m, const float *v, int64_t rows, int64_t cols)
{
    for (int64_t j = 0; j < rows; j++) {
        float acc = 0;
        for (int64_t k = 0; k < cols; k++)
            acc += m[j * cols + k] * v[k];
        out[j] = acc;
    }
}

/* Direction d's weights and output slot; backwards walks each sequence from its end. */
static void run_direction(const struct rnn *s, int d, int backwards, float *h, float *c, float *xw, float *hr,
                          float *tmp)
{
    int64_t H = s->hidden, G = s->gates;
    const float *w = s->w + d * G * H * s->input, *r = s->r + d * G * H * H;
    const float *wb = s->b ? s->b + d * 2 * G * H : NULL, *rb = wb ? wb + G * H : NULL;
    const float *p = s->p ? s->p + d * 3 * H : NULL;
    const enum act_fn *fn = s->f[d];
    for (int64_t b = 0; b < s->batch; b++) {
        float *hb = h + b * H, *cb = c + b * H;
        int64_t len = s->seq;
        if (s->lens) {
            len = (int64_t)ops_load(s->lens->type, s->lens->data, b);
            len = len < 0 ? 0 : len > s->seq ? s->seq : len;
        }
        for (int64_t step = 0; step < len; step++) {
            int64_t t = backwards ? len - 1 - step : step;
            matvec(xw, w, s->x + x_at(s, t, b), G * H, s->input);
            matvec(hr, r, hb, G * H, H);
            for (int64_t j = 0; j < G * H; j++)
                xw[j] += wb ? wb[j] : 0;
            switch (s->cell) {
            case CELL_RNN:
                for (int64_t j = 0; j < H; j++)
                    hb[j] = act(fn[0], clipped(s, xw[j] + hr[j] + (rb ? rb[j] : 0)));
                break;
            case CELL_GRU: /* gates z, r, h */
                for (int64_t j = 0; j < H; j++) {
                    float z = act(fn[0], clipped(s, xw[j] + hr[j] + (rb ? rb[j] : 0)));
                    float rg = act(fn[0], clipped(s, xw[H + j] + hr[H + j] + (rb ? rb[H + j] : 0)));
                    tmp[j] = z;
                    tmp[H + j] = rg;
                }
                if (!s->linear_before_reset) {
                    /* (r ⊙ h) · Rhᵀ needs the reset applied before the product */
                    for (int64_t j = 0; j < H; j++)
                        tmp[3 * H + j] = tmp[H + j] * hb[j];
                    matvec(hr + 2 * H, r + 2 * H * H, tmp + 3 * H, H, H);
                }
                for (int64_t j = 0; j < H; j++) {
                    float rh = rb ? rb[2 * H + j] : 0;
                    float pre = s->linear_before_reset ? xw[2 * H + j] + tmp[H + j] * (hr[2 * H + j] + rh)
                                                       : xw[2 * H + j] + hr[2 * H + j] + rh;
                    float hh = act(fn[1], clipped(s, pre));
                    hb[j] = (1 - tmp[j]) * hh + tmp[j] * hb[j];
                }
                break;
            case CELL_LSTM: /* gates i, o, f, c */
                for (int64_t j = 0; j < H; j++) {
                    float gi = xw[j] + hr[j] + (rb ? rb[j] : 0) + (p ? p[j] * cb[j] : 0);
                    float gf =
                        xw[2 * H + j] + hr[2 * H + j] + (rb ? rb[2 * H + j] : 0) + (p ? p[2 * H + j] * cb[j] : 0);
                    float gc = xw[3 * H + j] + hr[3 * H + j] + (rb ? rb[3 * H + j] : 0);
                    float i = act(fn[0], clipped(s, gi));
                    float f = s->input_forget ? 1 - i : act(fn[0], clipped(s, gf));
                    float cc = act(fn[1], clipped(s, gc));
                    cb[j] = f * cb[j] + i * cc;
                    float go = xw[H + j] + hr[H + j] + (rb ? rb[H + j] : 0) + (p ? p[H + j] * cb[j] : 0);
                    float o = act(fn[0], clipped(s, go));
                    tmp[j] = o * act(fn[2], cb[j]);
                }
                memcpy(hb, tmp, (size_t)H * sizeof *hb);
                break;
            }
            if (s->y)
                memcpy(s->y + y_at(s, t, d, b), hb, (size_t)H * sizeof *hb);
        }
    }
}

static int recurrent(const struct op_call *call, enum cell cell)
{
    struct rnn s = {.cell = cell, .gates = cell == CELL_RNN ? 1 : cell == CELL_GRU ? 3 : 4};
    const struct tensor *x = call->inputs[0], *w = call->inputs[1], *r = call->inputs[2];
    const struct tensor *b = ops_input(call, 3), *lens = ops_input(call, 4), *h0 = ops_input(call, 5);
    const struct tensor *c0 = cell == CELL_LSTM ? ops_input(call, 6) : NULL,
                        *p = cell == CELL_LSTM ? ops_input(call, 7) : NULL;
    if (x->type != TENSOR_FLOAT || w->type != TENSOR_FLOAT || r->type != TENSOR_FLOAT)
        return ops_unsupported(call, "only float32 is supported");
    if (x->rank != 3 || w->rank != 3 || r->rank != 3)
        return ops_fail(call, "X, W and R must be 3-D");
    s.layout = ops_attr_int(call, "layout", 0) != 0;
    s.seq = x->dims[s.layout ? 1 : 0];
    s.batch = x->dims[s.layout ? 0 : 1];
    s.input = x->dims[2];
    s.hidden = ops_attr_int(call, "hidden_size", w->dims[1] / s.gates);
    const Onnx__AttributeProto *dir = ops_attr(call, "direction");
    int reverse = 0;
    s.dirs = 1;
    if (dir && dir->has_s && dir->s.len == 13 && memcmp(dir->s.data, "bidirectional", 13) == 0)
        s.dirs = 2;
    else if (dir && dir->has_s && dir->s.len == 7 && memcmp(dir->s.data, "reverse", 7) == 0)
        reverse = 1;
    s.clip = ops_attr_float(call, "clip", 0);
    s.linear_before_reset = ops_attr_int(call, "linear_before_reset", 0) != 0;
    s.input_forget = ops_attr_int(call, "input_forget", 0) != 0;
    int64_t H = s.hidden, G = s.gates;
    if (H < 1 || w->dims[0] != s.dirs || w->dims[1] != G * H || w->dims[2] != s.input || r->dims[0] != s.dirs ||
        r->dims[1] != G * H || r->dims[2] != H)
        return ops_fail(call, "W or R does not match hidden_size %lld and the input", (long long)H);
    if (b && (b->type != TENSOR_FLOAT || tensor_element_count(b) != s.dirs * 2 * G * H))
        return ops_fail(call, "B must hold %lld floats", (long long)(s.dirs * 2 * G * H));
    if (p && (p->type != TENSOR_FLOAT || tensor_element_count(p) != s.dirs * 3 * H))
        return ops_fail(call, "P must hold %lld floats", (long long)(s.dirs * 3 * H));
    if (lens && ((lens->type != TENSOR_INT32 && lens->type != TENSOR_INT64) || tensor_element_count(lens) != s.batch))
        return ops_fail(call, "sequence_lens must hold one integer per batch entry");
    int64_t state_n = s.dirs * s.batch * H;
    if ((h0 && (h0->type != TENSOR_FLOAT || tensor_element_count(h0) != state_n)) ||
        (c0 && (c0->type != TENSOR_FLOAT || tensor_element_count(c0) != state_n)))
        return ops_fail(call, "initial states must hold %lld floats", (long long)state_n);
    int rc = parse_activations(call, &s);
    if (rc)
        return rc;
    s.x = x->data;
    s.w = w->data;
    s.r = r->data;
    s.b = b ? b->data : NULL;
    s.p = p ? p->data : NULL;
    s.lens = lens;
    int64_t ydims[4], sdims[3];
    if (s.layout) {
        int64_t yd[4] = {s.batch, s.seq, s.dirs, H}, sd[3] = {s.batch, s.dirs, H};
        memcpy(ydims, yd, sizeof yd);
        memcpy(sdims, sd, sizeof sd);
    } else {
        int64_t yd[4] = {s.seq, s.dirs, s.batch, H}, sd[3] = {s.dirs, s.batch, H};
        memcpy(ydims, yd, sizeof yd);
        memcpy(sdims, sd, sizeof sd);
    }
    struct tensor hs, cs;
    rc = ops_alloc_output(call, 0, TENSOR_FLOAT, 4, ydims);
    if (!rc)
        rc = ops_alloc_tensor(call, &hs, TENSOR_FLOAT, 3, sdims);
    if (!rc)
        rc = ops_alloc_tensor(call, &cs, TENSOR_FLOAT, 3, sdims);
    float *xw = arena_alloc(call->arena, (size_t)(4 * G * H) * sizeof(float));
    if (!rc && !xw)
        rc = ops_fail(call, "out of request memory");
    if (rc)
        return rc;
    s.y = call->outputs[0].data;
    memset(s.y, 0, (size_t)tensor_element_count(&call->outputs[0]) * sizeof(float));
    float *h = hs.data, *c = cs.data;
    for (int d = 0; d < s.dirs; d++) {
        /* working state is [batch, hidden] per direction, whatever the layout */
        float *hd = arena_alloc(call->arena, (size_t)(2 * s.batch * H) * sizeof(float) + 1), *cd;
        if (!hd)
            return ops_fail(call, "out of request memory");
        cd = hd + s.batch * H;
        for (int64_t bb = 0; bb < s.batch; bb++)
            for (int64_t j = 0; j < H; j++) {
                int64_t at = (d * s.batch + bb) * H + j; /* initial states are [dirs, batch, hidden] in layout 0 */
                if (s.layout)
                    at = (bb * s.dirs + d) * H + j;
                hd[bb * H + j] = h0 ? ((const float *)h0->data)[at] : 0;
                cd[bb * H + j] = c0 ? ((const float *)c0->data)[at] : 0;
            }
        run_direction(&s, d, reverse || d == 1, hd, cd, xw, xw + G * H, xw + 2 * G * H);
        for (int64_t bb = 0; bb < s.batch; bb++) {
            memcpy(h + state_at(&s, d, bb), hd + bb * H, (size_t)H * sizeof(float));
            memcpy(c + state_at(&s, d, bb), cd + bb * H, (size_t)H * sizeof(float));
        }
    }
    if (call->n_outputs > 1)
        call->outputs[1] = hs;
    if (call->n_outputs > 2)
        call->outputs[2] = cs;
    return 0;
}

int op_rnn(const struct op_call *call)
{
    return recurrent(call, CELL_RNN);
}
int op_gru(const struct op_call *call)
{
    return recurrent(call, CELL_GRU);
}
int op_lstm(const struct op_call *call)
{
    return recurrent(call, CELL_LSTM);
}
