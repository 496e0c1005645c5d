"""How fast the step's FLOP kernels run on their own: the ceiling a training step can reach with
TensorFlow's kernels (oneDNN on CPU) for its layer shapes.

`peak_fraction` (benchmark.py) mixes two things: how efficient the convolution / matmul kernels are
on the step's shapes (a 3-channel first layer or a 4x4 feature map never reaches a micro-benchmark's
peak) and how much of the step is spent outside them (batch norm, activations, casts, optimizer,
layout reorders). This module separates them. It walks the traced step graph, collects every
Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter and MatMul with its static shapes (except dead
ones, e.g. the gradient w.r.t. an input image that nobody uses), times each
distinct one in isolation (same dtype, same attributes, all threads, median of a few runs) and sums
them over the step:

    peak_fraction = kernel_peak_fraction x kernel_share
    kernel_peak_fraction = step FLOPs / kernel time / peak   (the kernels' own efficiency)
    kernel_share         = kernel time / step time           (1.0: nothing else costs anything)

Kernels that the step runs concurrently (a block's shortcut and main path) are timed one after the
other here, so `kernel_share` may exceed 1 on a step with inter-op parallelism.
"""

from __future__ import annotations

import time

import tensorflow as tf

KERNEL_OPS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "MatMul")


def _static(shape) -> list[int] | None:
    dims = shape.as_list() if shape.rank is not None else None
    return None if dims is None or any(d is None for d in dims) else dims


def _attrs(op, names) -> dict:
    out = {}
    for name in names:
        try:
            value = op.get_attr(name)
        except ValueError:
            continue
        out[name] = value.decode() if isinstance(value, bytes) else value
    return out


def _conv_flops(kind: str, x: list[int], w: list[int], y: list[int], fmt: str) -> float:
    """2 x output positions x kernel volume, for the forward conv and both its backprops."""
    kh, kw, ci, co = w
    if fmt == "NHWC":
        n, ho, wo = y[0], y[1], y[2]
    else:
        n, ho, wo = y[0], y[2], y[3]
    return 2.0 * n * ho * wo * kh * kw * ci * co


def collect_kernels(graph) -> list[dict]:
    """Every conv / matmul of `graph` (and of the functions it calls) with static shapes, one
    entry per distinct (op, shapes, dtype, attributes) with its `count`."""
    found: dict[tuple, dict] = {}
    seen_functions = set()

    def visit(g):
        for op in g.get_operations():
            for attr in ("f", "then_branch", "else_branch", "body", "cond"):
                try:
                    fn = op.get_attr(attr)
                except ValueError:
                    continue
                name = getattr(fn, "name", None)
                if name and name not in seen_functions:
                    seen_functions.add(name)
                    inner = g._get_function(name)  # noqa: SLF001 (the traced FuncGraph)
                    if inner is not None and hasattr(inner, "graph"):
                        visit(inner.graph)
            if op.type not in KERNEL_OPS or not op.outputs[0].consumers():
                continue  # not a kernel, or dead (a gradient nobody asked for; pruned at run time)
            entry = _describe(op)
            if entry is None:
                continue
            key = (entry["op"], str(entry["shapes"]), entry["dtype"], str(entry["attrs"]))
            if key in found:
                found[key]["count"] += 1
            else:
                found[key] = {**entry, "count": 1}

    visit(graph)
    return list(found.values())


def _describe(op) -> dict | None:
    dtype = op.outputs[0].dtype.name
    out = _static(op.outputs[0].shape)
    if out is None:
        return None
    if op.type == "MatMul":
        a, b = (_static(t.shape) for t in op.inputs)
        if a is None or b is None:
            return None
        attrs = _attrs(op, ("transpose_a", "transpose_b"))
        k = a[0] if attrs.get("transpose_a") else a[1]
        return {"op": op.type, "shapes": [a, b], "dtype": dtype, "attrs": attrs,
                "flops": 2.0 * out[0] * out[1] * k}
    attrs = _attrs(op, ("strides", "padding", "data_format", "dilations", "explicit_paddings"))
    fmt = attrs.get("data_format", "NHWC")
    if op.type == "Conv2D":
        x, w = (_static(t.shape) for t in op.inputs)
        y = out
    elif op.type == "Conv2DBackpropInput":
        w, y = (_static(t.shape) for t in op.inputs[1:])
        x = out
    else:  # Conv2DBackpropFilter
        x, y = _static(op.inputs[0].shape), _static(op.inputs[2].shape)
        w = out
    if x is None or w is None or y is None:
        return None
    return {"op": op.type, "shapes": [x, w, y], "dtype": dtype, "attrs": attrs,
            "flops": _conv_flops(op.type, x, w, y, fmt)}


def _kernel_fn(entry: dict):
    dtype = tf.as_dtype(entry["dtype"])
    rand = lambda shape: tf.cast(tf.random.normal(shape), dtype)  # noqa: E731
    attrs = dict(entry["attrs"])
    if entry["op"] == "MatMul":
        a, b = (rand(s) for s in entry["shapes"])
        return tf.function(lambda: tf.linalg.matmul(a, b, **attrs))
    x, w, y = entry["shapes"]
    if entry["op"] == "Conv2D":
        xs, ws = rand(x), rand(w)
        return tf.function(lambda: tf.raw_ops.Conv2D(input=xs, filter=ws, **attrs))
    if entry["op"] == "Conv2DBackpropInput":
        ws, ys = rand(w), rand(y)
        return tf.function(lambda: tf.raw_ops.Conv2DBackpropInput(
            input_sizes=tf.constant(x, tf.int32), filter=ws, out_backprop=ys, **attrs))
    xs, ys = rand(x), rand(y)
    return tf.function(lambda: tf.raw_ops.Conv2DBackpropFilter(
        input=xs, filter_sizes=tf.constant(w, tf.int32), out_backprop=ys, **attrs))


def time_kernel(entry: dict, repeats: int = 3) -> float:
    """Median seconds of one isolated run of the kernel (after a warm-up call)."""
    fn = _kernel_fn(entry)
    fn().numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn().numpy()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def kernel_ceiling(graph, step_s: float, repeats: int = 3, top: int = 8) -> dict:
    """The step's kernels timed in isolation (see the module docstring), as benchmark fields;
    the caller adds `kernel_peak_fraction` = kernel_gflops / its measured peak."""
    entries = collect_kernels(graph)
    total_s = total_flops = 0.0
    for entry in entries:
        entry["s"] = time_kernel(entry, repeats)
        total_s += entry["s"] * entry["count"]
        total_flops += entry["flops"] * entry["count"]
    entries.sort(key=lambda e: -e["s"] * e["count"])
    kernel_gflops = total_flops / total_s / 1e9 if total_s else 0.0
    return {
        "kernel_s": total_s,
        "kernel_gflops_per_step": total_flops / 1e9,
        "kernel_gflops": kernel_gflops,
        "kernel_share": total_s / step_s,
        "kernel_count": sum(e["count"] for e in entries),
        "kernel_top": [{"op": e["op"], "shapes": e["shapes"], "count": e["count"],
                        "ms_each": round(1e3 * e["s"], 3),
                        "share_of_kernel_time": round(e["s"] * e["count"] / total_s, 4),
                        "gflops": round(e["flops"] / e["s"] / 1e9, 1)}
                       for e in entries[:top]],
    }
