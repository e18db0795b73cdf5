/* TreeEnsembleRegressor and TreeEnsembleClassifier (ai.onnx.ml opsets 1 and 3).
 *
 * Nodes are named by (tree id, node id); the first run resolves the children
 * and the leaves' weights to node indices (a hash of the pairs) and keeps the
 * result in the node's cache (ops.h), then every run walks every tree for
 * every row. Thresholds and weights are compared and summed in
 * double, so the opset-3 *_as_tensor double attributes keep their precision.
 * When every branch is BRANCH_LEQ (what scikit-learn converters write), the
 * trees are also flattened into 16-byte nodes with float thresholds rounded
 * down (v ≤ t ⇔ v ≤ the largest float ≤ t, so every comparison stays exact),
 * and float32 rows walk them eight at a time without branches. When every leaf
 * also has exactly one weight (scikit-learn's forests and boosted trees), a
 * chunk of rows is copied feature-major once, the eight walks stay in
 * registers, and each row adds its leaf's weight as it reaches it (no leaf
 * indices kept and read back). Rows are split over the engine's thread pool. */
#include "ml.h"

#include "common/err.h"
#include "runtime/engine/backends/threadpool.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

enum tree_mode { MODE_LEQ, MODE_LT, MODE_GTE, MODE_GT, MODE_EQ, MODE_NEQ, MODE_LEAF };

struct tree_node {
    int64_t feature;
    double value;
    int64_t next_true, next_false; /* node indices */
    uint8_t mode, missing_true;
};

/* Rows are walked in chunks of this many, tree by tree: one tree's nodes stay
 * in cache for the whole chunk instead of every tree passing through per row. */
#define TREE_ROW_CHUNK 256

/* A BRANCH_LEQ node as a float32 row walks it: 16 bytes; a leaf leads to itself. Offsets are in
 * bytes, so that each step of a walk is loads at a base plus an offset, with no index arithmetic
 * on the chain from one node to the next. */
struct flat_node {
    float threshold;
    int32_t feature_at; /* the feature's byte offset in a feature-major chunk: feature · TREE_ROW_CHUNK · 4 */
    int32_t next[2];    /* the children's byte offsets in the flat array; [0]: the true branch */
};
#define FLAT_FEATURE_STRIDE (TREE_ROW_CHUNK * (int32_t)sizeof(float))

/* A leaf's weights: entries [first, first + count) of the weights arrays. */
struct tree_ensemble {
    struct flat_node *flat; /* NULL when the node indices do not fit in 32 bits */
    /* Every branch is BRANCH_LEQ with NaN going false: rows then walk the flat
     * nodes without branches, a leaf leading to itself, for depth[t] steps
     * (-1: deeper than FLAT_MAX_DEPTH, or not a tree; walked node by node). */
    int all_leq;
    int32_t *depth;
    struct tree_node *nodes;
    int64_t n_nodes;
    int64_t *roots; /* node index of each tree's first node */
    int64_t n_trees;
    int64_t *leaf_first, *leaf_count; /* per node */
    int64_t *weight_target;           /* target (regressor) or class id (classifier) per weight, grouped by leaf */
    double *weight_value;
    int64_t n_weights;
    /* Over all weights, found at load so that runs need not scan them: the largest target or class id,
     * whether every weight names the first one's id, whether none is negative. */
    int64_t max_target;
    int one_id, all_positive;
    /* Every leaf has exactly one weight: per node, that weight and its target (rows then add it as they
     * reach the leaf, with no leaves kept). NULL otherwise. */
    double *leaf_value;
    int32_t *leaf_target;
    double *base;
    int64_t n_base;
};

/* (tree, node) → node index. */
struct pair_map {
    int64_t *keys_tree, *keys_node, *index;
    int64_t cap;
};

static uint64_t pair_hash(int64_t t, int64_t n)
{
    uint64_t h = (uint64_t)t * 0x9e3779b97f4a7c15ull ^ ((uint64_t)n + 0x632be59bd9b4e019ull);
    return h ^ (h >> 29);
}

static int64_t pair_find(const struct pair_map *m, int64_t t, int64_t n)
{
    for (uint64_t i = pair_hash(t, n) & (uint64_t)(m->cap - 1);; i = (i + 1) & (uint64_t)(m->cap - 1)) {
        if (m->index[i] < 0)
            return -1;
        if (m->keys_tree[i] == t && m->keys_node[i] == n)
            return m->index[i];
    }
}

static void *alloc_array(const struct op_call *call, int64_t n, size_t size)
{
    return arena_alloc(call->arena, (size_t)(n > 0 ? n : 1) * size);
}

static int parse_mode(const ProtobufCBinaryData *s, uint8_t *out)
{
    static const char *const names[] = {"BRANCH_LEQ", "BRANCH_LT",  "BRANCH_GTE", "BRANCH_GT",
                                        "BRANCH_EQ",  "BRANCH_NEQ", "LEAF"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (s->len == strlen(names[i]) && memcmp(s->data, names[i], s->len) == 0) {
            *out = (uint8_t)i;
            return 0;
        }
    return -1;
}

/* The float nearest t on the side that keeps v OP t exact for every float v:
 * down for ≤ and >, up for < and ≥ (t itself when it is a float). */
static float exact_threshold(double t, int mode)
{
    float f = (float)t;
    if (isnan(t))
        return f;
    if ((mode == MODE_LEQ || mode == MODE_GT) && (double)f > t)
        f = nextafterf(f, -INFINITY);
    if ((mode == MODE_LT || mode == MODE_GTE) && (double)f < t)
        f = nextafterf(f, INFINITY);
    return f;
}

#define FLAT_MAX_DEPTH 64

/* depth[t]: the longest path from tree t's root to a leaf; -1 past
 * FLAT_MAX_DEPTH or when the walk meets a node twice (a cycle, shared nodes). */
static int tree_depths(const struct op_call *call, struct tree_ensemble *te)
{
    te->depth = alloc_array(call, te->n_trees, sizeof *te->depth);
    int64_t *stack = alloc_array(call, 2 * (te->n_nodes + 1), sizeof *stack);
    if (!te->depth || !stack)
        return err_set(ERR_LIMIT, "request memory limit reached");
    for (int64_t t = 0; t < te->n_trees; t++) {
        int64_t top = 0, visits = 0, deepest = 0;
        stack[top++] = te->roots[t];
        stack[top++] = 0;
        while (top && deepest >= 0) {
            int64_t d = stack[--top], i = stack[--top];
            const struct tree_node *nd = &te->nodes[i];
            if (++visits > te->n_nodes || d > FLAT_MAX_DEPTH) {
                deepest = -1;
            } else if (nd->mode == MODE_LEAF) {
                deepest = d > deepest ? d : deepest;
            } else if (top + 4 > 2 * (te->n_nodes + 1)) {
                deepest = -1;
            } else {
                stack[top++] = nd->next_true;
                stack[top++] = d + 1;
                stack[top++] = nd->next_false;
                stack[top++] = d + 1;
            }
        }
        te->depth[t] = (int32_t)deepest;
    }
    return 0;
}

static int flatten(const struct op_call *call, struct tree_ensemble *te)
{
    te->flat = NULL;
    te->all_leq = 1;
    if (te->n_nodes > INT32_MAX / (int64_t)sizeof(struct flat_node))
        return 0;
    for (int64_t i = 0; i < te->n_nodes; i++)
        if (te->nodes[i].mode != MODE_LEAF && te->nodes[i].feature > INT32_MAX / FLAT_FEATURE_STRIDE)
            return 0;
    te->flat = alloc_array(call, te->n_nodes, sizeof *te->flat);
    if (!te->flat)
        return err_set(ERR_LIMIT, "request memory limit reached");
    for (int64_t i = 0; i < te->n_nodes; i++) {
        const struct tree_node *nd = &te->nodes[i];
        int leaf = nd->mode == MODE_LEAF;
        int32_t size = (int32_t)sizeof(struct flat_node);
        te->flat[i] = (struct flat_node){
            .threshold = exact_threshold(nd->value, nd->mode),
            .feature_at = leaf ? 0 : (int32_t)nd->feature * FLAT_FEATURE_STRIDE,
            .next = {(int32_t)(leaf ? i : nd->next_true) * size, (int32_t)(leaf ? i : nd->next_false) * size},
        };
        if (!leaf && (nd->mode != MODE_LEQ || nd->missing_true))
            te->all_leq = 0;
    }
    return tree_depths(call, te);
}

/* Reads the nodes_* attributes and the weights named prefix_ids/nodeids/treeids/weights. */
static int tree_load(const struct op_call *call, struct tree_ensemble *te, const char *prefix, int64_t n_features)
{
    size_t n_tree, n_node, n_feat, n_true, n_false, n_miss, w_ids, w_nodes, w_trees;
    const int64_t *treeids = ops_attr_ints(call, "nodes_treeids", &n_tree);
    const int64_t *nodeids = ops_attr_ints(call, "nodes_nodeids", &n_node);
    const int64_t *featids = ops_attr_ints(call, "nodes_featureids", &n_feat);
    const int64_t *trueids = ops_attr_ints(call, "nodes_truenodeids", &n_true);
    const int64_t *falseids = ops_attr_ints(call, "nodes_falsenodeids", &n_false);
    const int64_t *missing = ops_attr_ints(call, "nodes_missing_value_tracks_true", &n_miss);
    const Onnx__AttributeProto *modes = ops_attr(call, "nodes_modes");
    char name[64];
    snprintf(name, sizeof name, "%s_ids", prefix);
    const int64_t *w_id = ops_attr_ints(call, name, &w_ids);
    snprintf(name, sizeof name, "%s_nodeids", prefix);
    const int64_t *w_node = ops_attr_ints(call, name, &w_nodes);
    snprintf(name, sizeof name, "%s_treeids", prefix);
    const int64_t *w_tree = ops_attr_ints(call, name, &w_trees);
    double *values, *weights;
    int64_t n_values, n_w;
    snprintf(name, sizeof name, "%s_weights", prefix);
    int rc = ml_attr_doubles(call, "nodes_values", &values, &n_values);
    if (!rc)
        rc = ml_attr_doubles(call, name, &weights, &n_w);
    if (!rc)
        rc = ml_attr_doubles(call, "base_values", &te->base, &te->n_base);
    if (rc)
        return rc;
    int64_t n = (int64_t)n_tree;
    if (n == 0 || n_node != n_tree || n_feat != n_tree || n_true != n_tree || n_false != n_tree ||
        (n_miss && n_miss != n_tree) || !modes || modes->n_strings != n_tree || (n_values && n_values != n))
        return ops_fail(call, "the nodes_* attributes must all list the same number of nodes (nodes_treeids has %lld)",
                        (long long)n);
    if (w_nodes != w_ids || w_trees != w_ids || (size_t)n_w != w_ids)
        return ops_fail(call, "%s_ids, %s_nodeids, %s_treeids and %s_weights differ in length", prefix, prefix, prefix,
                        prefix);
    struct pair_map map = {.cap = 16};
    while (map.cap < 2 * n)
        map.cap *= 2;
    map.keys_tree = alloc_array(call, map.cap, sizeof(int64_t));
    map.keys_node = alloc_array(call, map.cap, sizeof(int64_t));
    map.index = alloc_array(call, map.cap, sizeof(int64_t));
    struct pair_map trees = {.cap = map.cap}; /* tree id → its root */
    trees.keys_tree = alloc_array(call, map.cap, sizeof(int64_t));
    trees.keys_node = alloc_array(call, map.cap, sizeof(int64_t));
    trees.index = alloc_array(call, map.cap, sizeof(int64_t));
    te->nodes = alloc_array(call, n, sizeof *te->nodes);
    te->roots = alloc_array(call, n, sizeof(int64_t));
    te->leaf_first = alloc_array(call, n, sizeof(int64_t));
    te->leaf_count = alloc_array(call, n, sizeof(int64_t));
    te->weight_target = alloc_array(call, n_w, sizeof(int64_t));
    te->weight_value = alloc_array(call, n_w, sizeof(double));
    int64_t *fill = alloc_array(call, n, sizeof(int64_t));
    if (!map.keys_tree || !map.keys_node || !map.index || !trees.keys_tree || !trees.keys_node || !trees.index ||
        !te->nodes || !te->roots || !te->leaf_first || !te->leaf_count || !te->weight_target || !te->weight_value ||
        !fill)
        return err_set(ERR_LIMIT, "request memory limit reached");
    memset(map.index, 0xff, (size_t)map.cap * sizeof(int64_t));
    memset(trees.index, 0xff, (size_t)map.cap * sizeof(int64_t));
    te->n_nodes = n;
    te->n_trees = 0;
    for (int64_t i = 0; i < n; i++) {
        uint64_t h = pair_hash(treeids[i], nodeids[i]) & (uint64_t)(map.cap - 1);
        while (map.index[h] >= 0) {
            if (map.keys_tree[h] == treeids[i] && map.keys_node[h] == nodeids[i])
                return ops_fail(call, "tree %lld has node %lld twice", (long long)treeids[i], (long long)nodeids[i]);
            h = (h + 1) & (uint64_t)(map.cap - 1);
        }
        map.keys_tree[h] = treeids[i];
        map.keys_node[h] = nodeids[i];
        map.index[h] = i;
        if (pair_find(&trees, treeids[i], 0) < 0) { /* a tree id not seen yet: its first node is the root */
            uint64_t t = pair_hash(treeids[i], 0) & (uint64_t)(trees.cap - 1);
            while (trees.index[t] >= 0)
                t = (t + 1) & (uint64_t)(trees.cap - 1);
            trees.keys_tree[t] = treeids[i];
            trees.keys_node[t] = 0;
            trees.index[t] = i;
            te->roots[te->n_trees++] = i;
        }
        struct tree_node *nd = &te->nodes[i];
        if (parse_mode(&modes->strings[i], &nd->mode))
            return ops_fail(call, "nodes_modes[%lld] is not a known mode", (long long)i);
        nd->feature = featids[i];
        nd->value = n_values ? values[i] : 0;
        nd->missing_true = n_miss && missing[i];
        if (nd->mode != MODE_LEAF && (nd->feature < 0 || nd->feature >= n_features))
            return ops_fail(call, "node %lld of tree %lld reads feature %lld, the input has %lld",
                            (long long)nodeids[i], (long long)treeids[i], (long long)nd->feature,
                            (long long)n_features);
    }
    for (int64_t i = 0; i < n; i++) {
        struct tree_node *nd = &te->nodes[i];
        if (nd->mode == MODE_LEAF)
            continue;
        nd->next_true = pair_find(&map, treeids[i], trueids[i]);
        nd->next_false = pair_find(&map, treeids[i], falseids[i]);
        if (nd->next_true < 0 || nd->next_false < 0)
            return ops_fail(call, "node %lld of tree %lld branches to a node the tree does not have",
                            (long long)nodeids[i], (long long)treeids[i]);
    }
    /* Weights grouped by leaf: count, prefix sums, fill. */
    int64_t *leaf_of = alloc_array(call, n_w, sizeof(int64_t));
    if (!leaf_of)
        return err_set(ERR_LIMIT, "request memory limit reached");
    memset(te->leaf_count, 0, (size_t)n * sizeof(int64_t));
    for (int64_t k = 0; k < n_w; k++) {
        leaf_of[k] = pair_find(&map, w_tree[k], w_node[k]);
        if (leaf_of[k] < 0)
            return ops_fail(call, "weight %lld names node %lld of tree %lld, which does not exist", (long long)k,
                            (long long)w_node[k], (long long)w_tree[k]);
        if (w_id[k] < 0)
            return ops_fail(call, "weight %lld has the negative %s id %lld", (long long)k, prefix, (long long)w_id[k]);
        te->leaf_count[leaf_of[k]]++;
    }
    for (int64_t i = 0, sum = 0; i < n; i++) {
        te->leaf_first[i] = fill[i] = sum;
        sum += te->leaf_count[i];
    }
    for (int64_t k = 0; k < n_w; k++) {
        int64_t at = fill[leaf_of[k]]++;
        te->weight_target[at] = w_id[k];
        te->weight_value[at] = weights[k];
    }
    te->n_weights = n_w;
    te->max_target = -1;
    te->one_id = n_w > 0;
    te->all_positive = 1;
    for (int64_t k = 0; k < n_w; k++) {
        te->max_target = te->weight_target[k] > te->max_target ? te->weight_target[k] : te->max_target;
        te->one_id = te->one_id && te->weight_target[k] == te->weight_target[0];
        te->all_positive = te->all_positive && te->weight_value[k] >= 0;
    }
    te->leaf_value = NULL;
    te->leaf_target = NULL;
    int one_weight = 1;
    for (int64_t i = 0; i < n && one_weight; i++)
        one_weight = te->nodes[i].mode != MODE_LEAF ||
                     (te->leaf_count[i] == 1 && te->weight_target[te->leaf_first[i]] <= INT32_MAX);
    if (one_weight) {
        te->leaf_value = alloc_array(call, n, sizeof *te->leaf_value);
        te->leaf_target = alloc_array(call, n, sizeof *te->leaf_target);
        if (!te->leaf_value || !te->leaf_target)
            return err_set(ERR_LIMIT, "request memory limit reached");
        for (int64_t i = 0; i < n; i++) {
            int leaf = te->nodes[i].mode == MODE_LEAF;
            te->leaf_value[i] = leaf ? te->weight_value[te->leaf_first[i]] : 0;
            te->leaf_target[i] = leaf ? (int32_t)te->weight_target[te->leaf_first[i]] : 0;
        }
    }
    return flatten(call, te);
}

/* The leaf row x reaches in the tree rooted at node index root; -1 on a cycle. */
static int64_t tree_leaf(const struct tree_ensemble *te, const struct tensor *x, int64_t row_offset, int64_t root)
{
    int64_t i = root;
    for (int64_t steps = 0; steps <= te->n_nodes; steps++) {
        const struct tree_node *nd = &te->nodes[i];
        if (nd->mode == MODE_LEAF)
            return i;
        double v = tensor_load(x->type, x->data, row_offset + nd->feature);
        int go_true;
        if (isnan(v))
            go_true = nd->missing_true;
        else
            switch (nd->mode) {
            case MODE_LEQ: go_true = v <= nd->value; break;
            case MODE_LT: go_true = v < nd->value; break;
            case MODE_GTE: go_true = v >= nd->value; break;
            case MODE_GT: go_true = v > nd->value; break;
            case MODE_EQ: go_true = v == nd->value; break;
            default: go_true = v != nd->value; break;
            }
        i = go_true ? nd->next_true : nd->next_false;
    }
    return -1;
}

/* A parsed ensemble kept in the node's cache: its arrays live in its own arena. */
struct tree_cache {
    struct op_cache base;
    struct arena arena;
    struct tree_ensemble te;
    int64_t n_features;
};

static void tree_cache_free(struct op_cache *self)
{
    struct tree_cache *tc = (struct tree_cache *)self;
    arena_release(&tc->arena);
    free(tc);
}

/* The ensemble for rows of n_features: from the node's cache when it was
 * parsed for as many features, else parsed now (into the cache when the slot
 * is free, else into local in the request's arena). */
static int tree_get(const struct op_call *call, const struct tree_ensemble **out, struct tree_ensemble *local,
                    const char *prefix, int64_t n_features)
{
    struct tree_cache *tc = call->cache ? (struct tree_cache *)atomic_load(call->cache) : NULL;
    if (tc && tc->n_features == n_features) {
        *out = &tc->te;
        return 0;
    }
    if (call->cache && !tc && (tc = calloc(1, sizeof *tc))) {
        tc->base.free = tree_cache_free;
        tc->n_features = n_features;
        arena_init(&tc->arena, 1 << 16, 0);
        struct op_call own = *call;
        own.arena = &tc->arena;
        int rc = tree_load(&own, &tc->te, prefix, n_features);
        struct op_cache *expected = NULL;
        if (rc || !atomic_compare_exchange_strong(call->cache, &expected, &tc->base)) {
            tree_cache_free(&tc->base);
            if (rc)
                return rc;
            tc = (struct tree_cache *)expected; /* another run published first */
            if (tc->n_features == n_features) {
                *out = &tc->te;
                return 0;
            }
        } else {
            *out = &tc->te;
            return 0;
        }
    }
    *out = local;
    return tree_load(call, local, prefix, n_features);
}

/* leaves[(r - r0) · n_trees + t]: the leaf row r reaches in tree t, rows [r0, r1). -1 on a cycle. */
/* Rows walked together through one tree: independent chains of loads hide each other's latency. */
#define FLAT_ROW_BLOCK 8

/* The leaves of rows [r0, r1) in tree t, every row taking exactly depth steps without a branch. */
static void lockstep_leaves(const struct tree_ensemble *te, const float *x, int64_t c, int64_t r0, int64_t r1,
                            int64_t t, int64_t *leaves)
{
    const char *flat = (const char *)te->flat;
    int32_t depth = te->depth[t], root = (int32_t)(te->roots[t] * (int64_t)sizeof(struct flat_node));
    for (int64_t b = r0; b < r1; b += FLAT_ROW_BLOCK) {
        int n = r1 - b < FLAT_ROW_BLOCK ? (int)(r1 - b) : FLAT_ROW_BLOCK;
        int32_t at[FLAT_ROW_BLOCK];
        const float *row[FLAT_ROW_BLOCK];
        for (int k = 0; k < FLAT_ROW_BLOCK; k++) {
            at[k] = root;
            row[k] = x + (b + (k < n ? k : 0)) * c;
        }
        for (int32_t d = 0; d < depth; d++)
            for (int k = 0; k < FLAT_ROW_BLOCK; k++) {
                const struct flat_node *nd = (const struct flat_node *)(flat + at[k]);
                at[k] = nd->next[!(row[k][nd->feature_at / FLAT_FEATURE_STRIDE] <= nd->threshold)];
            }
        for (int k = 0; k < n; k++)
            leaves[(b + k - r0) * te->n_trees + t] = at[k] / (int32_t)sizeof(struct flat_node);
    }
}

/* Eight chains through the flat nodes of xt (a chunk feature-major: xt[f · TREE_ROW_CHUNK + r]),
 * chain k from the node at byte offset root[k], reading its features lane_bytes · k bytes on
 * (4: rows [0, 8) of the chunk through one tree; 0: one row through eight trees), depth steps
 * without a branch (a leaf leads to itself, so a chain that is there already stays); at: where
 * each ends. Eight chains held in registers (no store and reload between steps), and a feature's
 * value is one load at the chunk's base plus the node's offset, not through a row pointer. */
__attribute__((always_inline)) static inline void
walk_block(const struct flat_node *nodes, const float *xt, const int32_t *root, int32_t depth, int32_t *at,
           const int lane_bytes)
{
    const char *flat = (const char *)nodes, *x = (const char *)xt;
    int32_t a0 = root[0], a1 = root[1], a2 = root[2], a3 = root[3], a4 = root[4], a5 = root[5], a6 = root[6],
            a7 = root[7];
#define TREE_STEP(a, k)                                                                                      \
    do {                                                                                                     \
        const struct flat_node *nd_ = (const struct flat_node *)(flat + a);                                  \
        float v_;                                                                                            \
        memcpy(&v_, x + nd_->feature_at + lane_bytes * (k), sizeof v_);                                      \
        a = nd_->next[!(v_ <= nd_->threshold)];                                                              \
    } while (0)
    for (int32_t d = 0; d < depth; d++) {
        TREE_STEP(a0, 0);
        TREE_STEP(a1, 1);
        TREE_STEP(a2, 2);
        TREE_STEP(a3, 3);
        TREE_STEP(a4, 4);
        TREE_STEP(a5, 5);
        TREE_STEP(a6, 6);
        TREE_STEP(a7, 7);
    }
#undef TREE_STEP
    at[0] = a0, at[1] = a1, at[2] = a2, at[3] = a3, at[4] = a4, at[5] = a5, at[6] = a6, at[7] = a7;
}

static int tree_leaves(const struct tree_ensemble *te, const struct tensor *x, int64_t c, int64_t r0, int64_t r1,
                       int64_t *leaves)
{
    int flat = te->flat && te->all_leq && x->type == TENSOR_FLOAT && c > 0;
    for (int64_t t = 0; t < te->n_trees; t++) {
        if (flat && te->depth[t] >= 0) {
            lockstep_leaves(te, x->data, c, r0, r1, t, leaves);
            continue;
        }
        for (int64_t r = r0; r < r1; r++) {
            int64_t leaf = tree_leaf(te, x, r * c, te->roots[t]);
            if (leaf < 0)
                return -1;
            leaves[(r - r0) * te->n_trees + t] = leaf;
        }
    }
    return 0;
}

static int cycle_error(const struct op_call *call)
{
    return ops_fail(call, "a tree's branches form a cycle");
}

/* Rows split over the thread pool: each task takes a contiguous range and
 * walks it TREE_ROW_CHUNK rows at a time with its own buffers. */
struct tree_job {
    const struct tree_ensemble *te;
    const struct tensor *x;
    int64_t n, c, per_task, width; /* width: the scores per row */
    int64_t *leaves;               /* TREE_ROW_CHUNK · n_trees per task */
    double *s;                     /* width per task */
    uint8_t *seen;                 /* width per task */
    atomic_int failed;             /* a cycle */
    void (*row)(const struct tree_job *job, int64_t r, const int64_t *leaves, double *s, uint8_t *seen);
    /* Scores summed as rows reach their leaves (tree_sums_chunk): a row's scores start from init, take
     * each tree's leaf weight in tree order, then finish turns them into outputs. NULL init: never. */
    void (*init)(const struct tree_job *job, double *s);
    void (*finish)(const struct tree_job *job, int64_t r, double *s);
    float *xt;   /* c · TREE_ROW_CHUNK per task: the chunk feature-major */
    double *sums; /* TREE_ROW_CHUNK · width per task */
    /* the operator's settings */
    const struct op_call *call;
    int agg;
    enum ml_post post;
    int64_t k_labels;
    const int64_t *labels;
    int binary, all_positive;
};

/* Fewer tree walks than this stay on the calling thread. */
#define TREE_PARALLEL_MIN_WALKS 4096
#define TREE_TASKS_PER_THREAD 4

/* Inputs this wide or scores this many keep the leaves path (the per-task buffers stay small). */
#define TREE_SUMS_MAX_FEATURES 256
#define TREE_SUMS_MAX_WIDTH 64

/* Whether tree_sums_chunk can take the job: one weight per leaf, every tree walked flat, float rows. */
static int sums_usable(const struct tree_job *job)
{
    const struct tree_ensemble *te = job->te;
    if (!job->init || !te->leaf_value || !te->flat || !te->all_leq || job->x->type != TENSOR_FLOAT || job->c < 1 ||
        job->c > TREE_SUMS_MAX_FEATURES || job->width > TREE_SUMS_MAX_WIDTH)
        return 0;
    for (int64_t t = 0; t < te->n_trees; t++)
        if (te->depth[t] < 0)
            return 0;
    return 1;
}

/* Rows [r0, r1) (at most TREE_ROW_CHUNK): copied feature-major, walked tree by tree eight at a time,
 * each leaf's weight added to its row's score as the row reaches it, in tree order as the leaves path
 * adds them (so the same sums). */
static void tree_sums_chunk(const struct tree_job *job, int index, int64_t r0, int64_t r1)
{
    const struct tree_ensemble *te = job->te;
    int64_t rows = r1 - r0, width = job->width, c = job->c;
    int64_t padded = (rows + FLAT_ROW_BLOCK - 1) / FLAT_ROW_BLOCK * FLAT_ROW_BLOCK;
    float *xt = job->xt + (int64_t)index * c * TREE_ROW_CHUNK;
    double *s = job->sums + (int64_t)index * TREE_ROW_CHUNK * width;
    const float *x = (const float *)job->x->data + r0 * c;
    for (int64_t f = 0; f < c; f++) {
        float *col = xt + f * TREE_ROW_CHUNK;
        int64_t r = 0;
        for (; r < rows; r++)
            col[r] = x[r * c + f];
        for (; r < padded; r++)
            col[r] = 0; /* rows past the chunk walk too, their leaves unused */
    }
    for (int64_t r = 0; r < rows; r++)
        job->init(job, s + r * width);
    const double *value = te->leaf_value;
    const int32_t *target = te->leaf_target;
    int32_t size = (int32_t)sizeof(struct flat_node);
    if (rows < FLAT_ROW_BLOCK) { /* a few rows: eight trees at a time, each row on its own */
        for (int64_t t = 0; t < te->n_trees; t += FLAT_ROW_BLOCK) {
            int n = te->n_trees - t < FLAT_ROW_BLOCK ? (int)(te->n_trees - t) : FLAT_ROW_BLOCK;
            int32_t root[FLAT_ROW_BLOCK], depth = 0;
            for (int k = 0; k < FLAT_ROW_BLOCK; k++) {
                int64_t tree = t + (k < n ? k : 0); /* chains past the last tree walk its first again */
                root[k] = (int32_t)te->roots[tree] * size;
                depth = te->depth[tree] > depth ? te->depth[tree] : depth;
            }
            for (int64_t r = 0; r < rows; r++) {
                int32_t at[FLAT_ROW_BLOCK];
                walk_block(te->flat, xt + r, root, depth, at, 0);
                double *sr = s + r * width;
                for (int k = 0; k < n; k++) /* in tree order, as the leaves path adds them */
                    sr[width == 1 ? 0 : target[at[k] / size]] += value[at[k] / size];
            }
        }
    } else
        for (int64_t t = 0; t < te->n_trees; t++) {
            int32_t root[FLAT_ROW_BLOCK], depth = te->depth[t];
            for (int k = 0; k < FLAT_ROW_BLOCK; k++)
                root[k] = (int32_t)te->roots[t] * size;
            for (int64_t b = 0; b < rows; b += FLAT_ROW_BLOCK) {
                int32_t at[FLAT_ROW_BLOCK];
                walk_block(te->flat, xt + b, root, depth, at, 4);
                int n = rows - b < FLAT_ROW_BLOCK ? (int)(rows - b) : FLAT_ROW_BLOCK;
                double *sb = s + b * width;
                if (width == 1)
                    for (int k = 0; k < n; k++)
                        sb[k] += value[at[k] / size];
                else
                    for (int k = 0; k < n; k++)
                        sb[k * width + target[at[k] / size]] += value[at[k] / size];
            }
        }
    for (int64_t r = 0; r < rows; r++)
        job->finish(job, r0 + r, s + r * width);
}

static void tree_task(void *ctx, int index)
{
    struct tree_job *job = ctx;
    int64_t n_trees = job->te->n_trees;
    if (job->sums) {
        int64_t r0 = index * job->per_task, r1 = r0 + job->per_task < job->n ? r0 + job->per_task : job->n;
        for (int64_t r = r0; r < r1; r += TREE_ROW_CHUNK)
            tree_sums_chunk(job, index, r, r + TREE_ROW_CHUNK < r1 ? r + TREE_ROW_CHUNK : r1);
        return;
    }
    int64_t *leaves = job->leaves + (int64_t)index * TREE_ROW_CHUNK * n_trees;
    double *s = job->s + (int64_t)index * job->width;
    uint8_t *seen = job->seen + (int64_t)index * job->width;
    int64_t r0 = index * job->per_task, r1 = r0 + job->per_task < job->n ? r0 + job->per_task : job->n;
    for (int64_t r = r0; r < r1 && !atomic_load(&job->failed); r += TREE_ROW_CHUNK) {
        int64_t end = r + TREE_ROW_CHUNK < r1 ? r + TREE_ROW_CHUNK : r1;
        if (tree_leaves(job->te, job->x, job->c, r, end, leaves)) {
            atomic_store(&job->failed, 1);
            return;
        }
        for (int64_t i = r; i < end; i++)
            job->row(job, i, leaves + (i - r) * n_trees, s, seen);
    }
}

/* Runs job->row for every row; ERR_LIMIT when the buffers do not fit, a cycle error. */
static int tree_run(const struct op_call *call, struct tree_job *job)
{
    /* a few tasks a thread, each whole blocks of rows: a thread that starts late leaves the others
     * its share instead of holding the call up by half of it */
    int64_t tasks = job->n * job->te->n_trees < TREE_PARALLEL_MIN_WALKS ? 1 : TREE_TASKS_PER_THREAD * pool_threads();
    int64_t blocks = (job->n + FLAT_ROW_BLOCK - 1) / FLAT_ROW_BLOCK;
    if (tasks > blocks)
        tasks = blocks > 0 ? blocks : 1;
    job->per_task = (blocks + tasks - 1) / tasks * FLAT_ROW_BLOCK;
    tasks = job->n > 0 ? (job->n + job->per_task - 1) / job->per_task : 1;
    atomic_init(&job->failed, 0);
    if (sums_usable(job)) {
        job->xt = alloc_array(call, tasks * job->c * TREE_ROW_CHUNK, sizeof *job->xt);
        job->sums = alloc_array(call, tasks * TREE_ROW_CHUNK * job->width, sizeof *job->sums);
        if (!job->xt || !job->sums)
            return err_set(ERR_LIMIT, "request memory limit reached");
        pool_run(tree_task, job, (int)tasks);
        return 0;
    }
    job->leaves = alloc_array(call, tasks * TREE_ROW_CHUNK * job->te->n_trees, sizeof *job->leaves);
    job->s = alloc_array(call, tasks * job->width, sizeof *job->s);
    job->seen = alloc_array(call, tasks * job->width, 1);
    if (!job->leaves || !job->s || !job->seen)
        return err_set(ERR_LIMIT, "request memory limit reached");
    pool_run(tree_task, job, (int)tasks);
    return atomic_load(&job->failed) ? cycle_error(call) : 0;
}

enum { AGG_SUM, AGG_AVERAGE, AGG_MIN, AGG_MAX };

/* Averaging, base values and post_transform on a row's aggregated scores, then its outputs. */
static void regressor_finish(const struct tree_job *job, int64_t r, double *s)
{
    const struct tree_ensemble *te = job->te;
    int64_t targets = job->width;
    for (int64_t tg = 0; tg < targets; tg++) {
        if (job->agg == AGG_AVERAGE)
            s[tg] /= (double)te->n_trees;
        s[tg] += te->n_base ? te->base[tg] : 0; /* base values come after the aggregation */
    }
    ml_apply_post(job->post, s, targets);
    for (int64_t tg = 0; tg < targets; tg++)
        ((float *)job->call->outputs[0].data)[r * targets + tg] = (float)s[tg];
}

static void regressor_init(const struct tree_job *job, double *s)
{
    memset(s, 0, (size_t)job->width * sizeof *s);
}

static void regressor_row(const struct tree_job *job, int64_t r, const int64_t *leaves, double *s, uint8_t *seen)
{
    const struct tree_ensemble *te = job->te;
    int64_t targets = job->width;
    int agg = job->agg;
    memset(s, 0, (size_t)targets * sizeof *s);
    memset(seen, 0, (size_t)targets);
    for (int64_t t = 0; t < te->n_trees; t++) {
        int64_t leaf = leaves[t];
        for (int64_t k = te->leaf_first[leaf]; k < te->leaf_first[leaf] + te->leaf_count[leaf]; k++) {
            int64_t tg = te->weight_target[k];
            double w = te->weight_value[k];
            if (agg == AGG_MIN)
                s[tg] = !seen[tg] || w < s[tg] ? w : s[tg];
            else if (agg == AGG_MAX)
                s[tg] = !seen[tg] || w > s[tg] ? w : s[tg];
            else
                s[tg] += w;
            seen[tg] = 1;
        }
    }
    regressor_finish(job, r, s);
}

int op_tree_ensemble_regressor(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    struct tree_ensemble local;
    const struct tree_ensemble *tp = NULL;
    int64_t n, c;
    enum ml_post post;
    int rc = ml_rows(call, x, &n, &c);
    if (!rc)
        rc = ml_post_transform(call, &post);
    if (!rc)
        rc = tree_get(call, &tp, &local, "target", c);
    if (rc)
        return rc;
    const struct tree_ensemble te = *tp;
    int64_t targets = ops_attr_int(call, "n_targets", 1);
    int agg;
    if (ml_attr_is(call, "aggregate_function", NULL) || ml_attr_is(call, "aggregate_function", "SUM"))
        agg = AGG_SUM;
    else if (ml_attr_is(call, "aggregate_function", "AVERAGE"))
        agg = AGG_AVERAGE;
    else if (ml_attr_is(call, "aggregate_function", "MIN"))
        agg = AGG_MIN;
    else if (ml_attr_is(call, "aggregate_function", "MAX"))
        agg = AGG_MAX;
    else
        return ops_fail(call, "aggregate_function '%s' is not one of SUM, AVERAGE, MIN, MAX",
                        ml_attr_string(call, "aggregate_function", "?"));
    if (targets < 1 || targets > (1 << 20))
        return ops_fail(call, "n_targets %lld is out of range", (long long)targets);
    if (te.n_base && te.n_base != targets)
        return ops_fail(call, "%lld base_values for %lld targets", (long long)te.n_base, (long long)targets);
    for (int64_t k = 0; te.max_target >= targets && k < te.n_weights; k++) /* the first id out of range */
        if (te.weight_target[k] >= targets)
            return ops_fail(call, "target id %lld is not below n_targets %lld", (long long)te.weight_target[k],
                            (long long)targets);
    int64_t dims[2] = {n, targets};
    if ((rc = ops_alloc_output(call, 0, TENSOR_FLOAT, 2, dims)))
        return rc;
    struct tree_job job = {.te = &te,
                           .x = x,
                           .n = n,
                           .c = c,
                           .width = targets,
                           .row = regressor_row,
                           .init = agg == AGG_SUM || agg == AGG_AVERAGE ? regressor_init : NULL,
                           .finish = regressor_finish,
                           .call = call,
                           .agg = agg,
                           .post = post};
    return tree_run(call, &job);
}

/* A row's scores before any tree: the base values. */
static void classifier_init(const struct tree_job *job, double *s)
{
    const struct tree_ensemble *te = job->te;
    int64_t k = job->width;
    for (int64_t j = 0; j < k; j++)
        s[j] = te->n_base == k ? te->base[j] : 0;
    if (job->binary && te->n_base && te->n_base != k)
        s[te->weight_target[0]] = te->base[0];
}

static void classifier_finish(const struct tree_job *job, int64_t r, double *s);

static void classifier_row(const struct tree_job *job, int64_t r, const int64_t *leaves, double *s, uint8_t *seen)
{
    (void)seen;
    const struct tree_ensemble *te = job->te;
    classifier_init(job, s);
    for (int64_t t = 0; t < te->n_trees; t++) {
        int64_t leaf = leaves[t];
        for (int64_t w = te->leaf_first[leaf]; w < te->leaf_first[leaf] + te->leaf_count[leaf]; w++)
            s[te->weight_target[w]] += te->weight_value[w];
    }
    classifier_finish(job, r, s);
}

/* The binary pair, post_transform, the label and the scores of a row. */
static void classifier_finish(const struct tree_job *job, int64_t r, double *s)
{
    const struct tree_ensemble *te = job->te;
    int64_t k = job->width;
    if (job->binary) {
        double score = s[te->weight_target[0]];
        s[1] = score;
        s[0] = (job->all_positive && job->post == ML_POST_NONE) || job->post == ML_POST_PROBIT ? 1 - score : -score;
    }
    ml_apply_post(job->post, s, k);
    int64_t best = ml_argmax(s, k);
    const struct op_call *call = job->call;
    ((int64_t *)call->outputs[0].data)[r] = best < job->k_labels ? job->labels[best] : best;
    for (int64_t j = 0; call->n_outputs > 1 && j < k; j++)
        ((float *)call->outputs[1].data)[r * k + j] = (float)s[j];
}

/* Scores per class: base_values plus the leaves' class weights. When every
 * weight names one class id (a binary model with one score s, as gradient
 * boosting exports), the two classes score [1 - s, s] for PROBIT, and for NONE
 * when the weights are all non-negative (probabilities), else [-s, s] (so
 * LOGISTIC gives [1 - σ(s), σ(s)]); post_transform then applies, and the label
 * is the class with the highest score. */
int op_tree_ensemble_classifier(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    struct tree_ensemble local;
    const struct tree_ensemble *tp = NULL;
    int64_t n, c, k_labels;
    const int64_t *labels;
    enum ml_post post;
    int rc = ml_rows(call, x, &n, &c);
    if (!rc)
        rc = ml_post_transform(call, &post);
    if (!rc)
        rc = ml_int64_labels(call, "classlabels_int64s", "classlabels_strings", &labels, &k_labels);
    if (!rc)
        rc = tree_get(call, &tp, &local, "class", c);
    if (rc)
        return rc;
    const struct tree_ensemble te = *tp;
    if (k_labels < 1)
        return ops_fail(call, "classlabels_int64s is missing");
    int64_t k = k_labels < 2 ? 2 : k_labels;
    for (int64_t w = 0; te.max_target >= k && w < te.n_weights; w++) /* the first id out of range */
        if (te.weight_target[w] >= k)
            return ops_fail(call, "class id %lld is not below the %lld classes", (long long)te.weight_target[w],
                            (long long)k_labels);
    int one_id = te.one_id, all_positive = te.all_positive;
    int binary = one_id && k == 2;
    if (te.n_base && te.n_base != k_labels && !(binary && te.n_base <= 2))
        return ops_fail(call, "%lld base_values for %lld classes", (long long)te.n_base, (long long)k_labels);
    int64_t dims[2] = {n, k};
    if ((rc = ops_alloc_output(call, 0, TENSOR_INT64, 1, dims)))
        return rc;
    if (call->n_outputs > 1 && (rc = ops_alloc_output(call, 1, TENSOR_FLOAT, 2, dims)))
        return rc;
    struct tree_job job = {.te = &te,
                           .x = x,
                           .n = n,
                           .c = c,
                           .width = k,
                           .row = classifier_row,
                           .init = classifier_init,
                           .finish = classifier_finish,
                           .call = call,
                           .post = post,
                           .k_labels = k_labels,
                           .labels = labels,
                           .binary = binary,
                           .all_positive = all_positive};
    return tree_run(call, &job);
}
