"""The graph a converter appends to: nodes, constants and the element type of
every value, so converters can insert casts only where types differ.

Converters compute in double wherever they use standard ONNX operators, as
scikit-learn does in float64; the ai.onnx.ml tree and SVM operators take
their inputs as scikit-learn feeds its own Cython code (float32 for trees)."""
import numpy as np

import onnx_writer as w

ML = "ai.onnx.ml"
FLOAT, INT64, BOOL, DOUBLE = w.FLOAT, w.INT64, w.BOOL, w.DOUBLE


class Unsupported(Exception):
    """An estimator, parameter or fitted state the converter cannot express."""


class Graph:
    def __init__(self, n_features):
        self.n_features = n_features
        self.nodes, self.inits = [], []
        self.types = {"data": DOUBLE}
        self.used = {"data"}
        self.opsets = {"": 13, ML: 3}

    def name(self, hint):
        base, i = hint, 0
        while hint in self.used:
            i += 1
            hint = f"{base}_{i}"
        self.used.add(hint)
        return hint

    def const(self, value, hint="c", dtype=np.float64):
        arr = np.asarray(value, dtype=dtype)
        name = self.name(hint)
        self.inits.append(w.tensor(name, arr))
        self.types[name] = {np.dtype(v): k for k, v in w.NUMPY_TYPES.items()}[arr.dtype]
        return name

    def op(self, op_type, inputs, out_types, domain="", hint=None, **attrs):
        """Appends a node; out_types: one element type or a list (one per output). Returns the output name(s)."""
        single = not isinstance(out_types, (list, tuple))
        types = [out_types] if single else list(out_types)
        outs = [self.name(f"{hint or op_type.lower()}") for _ in types]
        for o, t in zip(outs, types):
            self.types[o] = t
        self.nodes.append(w.node(op_type, list(inputs), outs, self.name(f"n_{op_type}"), domain, attrs))
        return outs[0] if single else outs

    def cast(self, x, to):
        return x if self.types[x] == to else self.op("Cast", [x], to, to=to)

    def double(self, x):
        return self.cast(x, DOUBLE)

    def ints(self, values, hint="i"):
        return self.const(values, hint, np.int64)

    # -- shared pieces -----------------------------------------------------------

    def columns(self, x, idx):
        """x[:, idx] for a list of column indices."""
        return self.op("Gather", [x, self.ints(list(idx), "cols")], self.types[x], axis=1)

    def dot(self, x, weights, hint="w"):
        """x @ weights.T in double for weights [K, F]: the engine's MatMul is float32 only, so this is a broadcast
        product [N, K, F] summed over F."""
        xi = self.op("Unsqueeze", [self.double(x), self.ints([1], "axis1")], DOUBLE)
        prod = self.op("Mul", [xi, self.const(np.asarray(weights, dtype=np.float64), hint)], DOUBLE)
        return self.op("ReduceSum", [prod, self.ints([2], "axis2")], DOUBLE, keepdims=0)

    def softmax(self, s):
        """scikit-learn's softmax in double (the engine's Softmax is float32 only): exp(s - max) / sum."""
        m = self.op("ReduceMax", [s], DOUBLE, axes=[1], keepdims=1)
        e = self.op("Exp", [self.op("Sub", [s, m], DOUBLE)], DOUBLE)
        return self.op("Div", [e, self.rows_sum(e)], DOUBLE)

    def rows_sum(self, x):
        return self.op("ReduceSum", [x, self.ints([1], "axis1")], self.types[x], keepdims=1)

    def labels(self, classes, index):
        """classes[index] as int64 labels; index: int64 [N]."""
        return self.op("Gather", [self.ints(label_ints(classes), "classes"), index], INT64, axis=0)

    def argmax_labels(self, classes, scores):
        """scikit-learn's classes_[argmax(scores, axis=1)] (first maximum on ties, as numpy)."""
        idx = self.op("ArgMax", [scores], INT64, axis=1, keepdims=0)
        return self.labels(classes, idx)

    def binary_proba(self, p1):
        """[1 - p, p] from p [N, 1]."""
        one = self.const([[1.0]], "one", dtype=_np(self.types[p1]))
        p0 = self.op("Sub", [one, p1], self.types[p1])
        return self.op("Concat", [p0, p1], self.types[p1], axis=1)

    def flatten(self, x):
        """[N, 1] -> [N], as scikit-learn's predict returns for one target."""
        return self.op("Reshape", [x, self.ints([-1], "flat")], self.types[x])

    def finish(self, outputs, producer, doc):
        """outputs: [(graph output name, value, rank)]; each is renamed through an Identity."""
        outs = []
        for name, value, rank in outputs:
            self.used.discard(name)  # reserved by nobody: final names are chosen by the caller
            renamed = self.op("Identity", [value], self.types[value], hint=name)
            if renamed != name:
                raise Unsupported(f"internal: output name '{name}' is taken")
            outs.append((name, self.types[value], ["N"] if rank == 1 else ["N", "K"]))
        return w.model(self.nodes, self.inits, [("data", DOUBLE, ["N", self.n_features])], outs, self.opsets,
                       producer, doc)


def _np(t):
    return w.NUMPY_TYPES[t]


def label_ints(classes):
    """Class labels as int64, or Unsupported: the engine has no string tensors."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "iub":
        return [int(c) for c in classes]
    if classes.dtype.kind == "f" and np.all(np.isfinite(classes)) and np.all(classes == np.round(classes)):
        return [int(c) for c in classes]
    shown = ", ".join(repr(c) for c in classes.tolist()[:4])
    raise Unsupported(f"the class labels are not integers ({shown}{', ...' if len(classes) > 4 else ''}): the "
                      "native engine has no string tensors; train on integer labels (e.g. LabelEncoder) and map "
                      "them back in the client, or score the model with an entry script on a Python base image")
