"""The `tf.Module`s that become the exported generator and discriminator-encoder SavedModels.

Both follow the TF-Hub "reusable SavedModel" convention: `__call__(inputs, training=False)` is a
`tf.function` traced for `training` False and True, and the saved object carries `variables`,
`trainable_variables` and `regularization_losses` (empty) as attributes, so `hub.load`,
`hub.KerasLayer` (tf_keras) and fine-tuning work. Explicit `signatures` (`serving_default`, and
`sample` for the generator) make Keras 3's `keras.layers.TFSMLayer` work too (simclr#219 had none).

Inputs are traced with unknown shapes and checked inside the graph, so a wrong shape or range
gives a readable `InvalidArgumentError` ("discriminator module expects float32 images [N, 32, 32,
1] in [0, 1]; got shape ...") instead of a shape error deep in the network. `__call__` is also
traced for the common wrong dtypes (uint8, float64, int64 labels, ...) only to fail with such a
message: otherwise TF answers "Could not find matching concrete function". A signature's dtype is
fixed, and TF converts NumPy arrays to it silently (uint8 pixels become floats in [0, 255], which
the range check then rejects); a wrong-dtype *tensor* passed to a signature gets TF's own "input #0
... was expected to be a float tensor but is a uint8 tensor".
"""

from __future__ import annotations

import tensorflow as tf

# Inputs outside [-RANGE_SLACK, 1 + RANGE_SLACK] are rejected: this catches [0, 255] and [-1, 1]
# images while tolerating resampling round-off and light noise augmentation.
RANGE_SLACK = 0.05
# __call__ is traced for these wrong dtypes only to raise a readable error.
WRONG_FLOAT_DTYPES = (tf.uint8, tf.uint16, tf.int32, tf.int64, tf.float16, tf.bfloat16,
                      tf.float64)
WRONG_LABEL_DTYPES = (tf.int64, tf.uint8)


def tf_variables(weights) -> list:
    """The tf.Variables behind Keras 3 variables (what traced functions capture)."""
    out = []
    for w in weights:
        v = w.value if not isinstance(w, tf.Variable) else w
        if not isinstance(v, tf.Variable):
            raise TypeError(f"Cannot export weight {w.path if hasattr(w, 'path') else w}: "
                            f"not backed by a tf.Variable ({type(v).__name__}).")
        out.append(v)
    return out


def _shape_str(shape) -> str:
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def check_shape(x: tf.Tensor, expected: list, message: str) -> tf.Tensor:
    """Asserts x's rank and known dims at run time (message + actual shape); returns x with the
    static shape `expected` (None = any) for the code that follows.

    The check is a `tf.cond` whose failing branch asserts: unlike `tf.ensure_shape`, it hides the
    caller's static shape from the network, so a loaded function called with a wrong shape fails
    with this message at run time rather than with a shape-inference error inside the network
    (restored functions are re-inferred with the caller's shapes)."""
    shape = tf.shape(x)
    rank = len(expected)
    padded = tf.concat([shape, tf.zeros([rank], tf.int32)], 0)[:rank]
    conditions = [tf.equal(tf.size(shape), rank)]
    conditions += [tf.equal(padded[i], d) for i, d in enumerate(expected) if d is not None]
    ok = tf.reduce_all(tf.stack(conditions))

    def fail():
        failed = tf.debugging.Assert(ok, [message + "; got shape", shape], summarize=8)
        with tf.control_dependencies([failed]):
            return tf.zeros([0 if d is None else d for d in expected], x.dtype)

    x = tf.cond(ok, lambda: tf.identity(x), fail)
    x.set_shape(expected)
    return x


def check_range(x: tf.Tensor, low: float, high: float, message: str) -> tf.Tensor:
    lo, hi = tf.reduce_min(x), tf.reduce_max(x)
    ok = tf.logical_and(lo >= low, hi <= high)
    with tf.control_dependencies([tf.debugging.Assert(ok, [message + "; got values in", lo,
                                                           hi])]):
        return tf.identity(x)


def failing_outputs(message: str, specs):
    """Outputs of the structure `specs` (TensorSpecs, batch 0) that fail with message when
    evaluated: the body traced for a wrong input dtype, without building the network."""
    fail = tf.debugging.Assert(tf.constant(False), [message])
    with tf.control_dependencies([fail]):
        return tf.nest.map_structure(
            lambda s: tf.zeros([0] + [d or 0 for d in s.shape[1:]], s.dtype), specs)


def check_labels(labels: tf.Tensor, n: tf.Tensor, num_classes: int, message: str,
                 lowest: int = 0) -> tf.Tensor:
    labels = check_shape(labels, [None], message)
    ok = tf.reduce_all(tf.stack([tf.reduce_all(labels >= lowest),
                                 tf.reduce_all(labels < num_classes),
                                 tf.equal(tf.size(labels), n)]))
    with tf.control_dependencies([tf.debugging.Assert(
            ok, [message + ", one per example; got", labels, "for a batch of", n], summarize=8)]):
        return tf.identity(labels)


class ReusableModule(tf.Module):
    """A tf.Module whose `variables`, `trainable_variables` and `regularization_losses` are saved
    attributes (tf.Module computes the first two as properties, which SavedModel does not keep;
    `hub.KerasLayer` reads them from the loaded object), plus metadata variables and assets."""

    variables = None            # shadow tf.Module's properties with saved attributes
    trainable_variables = None

    def __init__(self, weights, metadata: dict, assets: dict, name: str):
        super().__init__(name=name)
        variables = tf_variables(weights)
        self.variables = variables
        self.trainable_variables = [v for v in variables if v.trainable]
        self.regularization_losses = []  # list of concrete functions; the networks have none
        for key, value in metadata.items():
            dtype = tf.string if isinstance(value, str) else (
                tf.int64 if key == "step" else tf.int32)
            setattr(self, key, tf.Variable(value, dtype=dtype, trainable=False, name=key))
        for key, path in assets.items():
            setattr(self, key, tf.saved_model.Asset(path))


def _make_call(module, compute, good_spec, wrong_specs, message_of):
    """Sets `module.__call__(inputs, training=False)`: `compute(inputs, training)` for inputs of
    `good_spec`; for each of `wrong_specs`, a stub that fails with `message_of(inputs)`."""
    output_specs = {}

    def is_good(inputs):
        return all(a.dtype == b.dtype for a, b in zip(tf.nest.flatten(inputs),
                                                       tf.nest.flatten(good_spec)))

    @tf.function(autograph=False)
    def call(inputs, training=False):
        if is_good(inputs):
            return compute(inputs, training)
        return failing_outputs(message_of(inputs), output_specs[training])

    module.__call__ = call
    for training in (False, True):
        output_specs[training] = call.get_concrete_function(
            good_spec, training=training).structured_outputs
    for spec in wrong_specs:
        for training in (False, True):
            call.get_concrete_function(spec, training=training)


def _wrong_specs(good: dict, key_first: str, key_second: str | None):
    """Input specs with one wrongly typed entry (the common mistakes)."""
    specs = [{**good, key_first: tf.TensorSpec(None, d, name=key_first)}
             for d in WRONG_FLOAT_DTYPES]
    if key_second:
        specs += [{**good, key_second: tf.TensorSpec(None, d, name=key_second)}
                  for d in WRONG_LABEL_DTYPES]
    return specs


def _draw_z(seed, n, z_dim: int, z_distribution: str):
    """The `sample` signature's z: the training distribution, from `[seed, 0]`."""
    key = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    if z_distribution == "normal":
        return tf.random.stateless_normal(tf.stack([n, z_dim]), key)
    return tf.random.stateless_uniform(tf.stack([n, z_dim]), key, -1.0, 1.0)


def _generator_call(module, generator, z_msg: str, y_msg: str) -> None:
    """`module.__call__(z | {"z", "labels"}, training=False)` -> images, checked inputs."""
    z_dim, num_classes = generator.z_dim, generator.num_classes

    def generate(z, labels, training):
        z = check_shape(z, [None, z_dim], z_msg)
        if num_classes:
            labels = check_labels(labels, tf.shape(z)[0], num_classes, y_msg)
        return generator(z, labels if num_classes else None, training=training)

    z_spec = tf.TensorSpec(None, tf.float32, name="z")
    if num_classes:
        good = {"z": z_spec, "labels": tf.TensorSpec(None, tf.int32, name="labels")}
        both_msg = f"{z_msg} and int32 labels [N] in [0, {num_classes})"
        _make_call(module, lambda x, t: generate(x["z"], x["labels"], t), good,
                   _wrong_specs(good, "z", "labels"),
                   lambda x: f"{both_msg}; got z {x['z'].dtype.name}, labels "
                             f"{x['labels'].dtype.name}")
    else:
        _make_call(module, lambda z, t: generate(z, None, t), z_spec,
                   [s["z"] for s in _wrong_specs({"z": z_spec}, "z", None)],
                   lambda z: f"{z_msg}; got {z.dtype.name}")


def _generator_signatures(call, z_dim: int, num_classes: int, z_distribution: str,
                          y_msg: str) -> dict:
    """`serving_default` and `sample`, both calling the traced `__call__` (the network is
    traced only for __call__)."""
    z_spec = tf.TensorSpec(None, tf.float32, name="z")
    y_spec = tf.TensorSpec(None, tf.int32, name="labels")
    seed_spec = tf.TensorSpec([], tf.int64, name="seed")
    if num_classes:
        @tf.function(autograph=False, input_signature=[z_spec, y_spec])
        def serve(z, labels):
            return {"images": call({"z": z, "labels": labels})}

        @tf.function(autograph=False, input_signature=[seed_spec, y_spec])
        def sample(seed, labels):
            labels = check_shape(labels, [None], y_msg)
            z = _draw_z(seed, tf.shape(labels)[0], z_dim, z_distribution)
            return {"images": call({"z": z, "labels": labels}), "z": z, "labels": labels}
    else:
        @tf.function(autograph=False, input_signature=[z_spec])
        def serve(z):
            return {"images": call(z)}

        @tf.function(autograph=False, input_signature=[
            seed_spec, tf.TensorSpec([], tf.int32, name="num_images")])
        def sample(seed, num_images):
            with tf.control_dependencies([tf.debugging.Assert(
                    num_images >= 0, ["num_images must be >= 0; got", num_images])]):
                z = _draw_z(seed, num_images, z_dim, z_distribution)
            return {"images": call(z), "z": z}

    return {"serving_default": serve, "sample": sample}


def generator_module(generator, z_distribution: str, metadata: dict, assets: dict):
    """G: `__call__(z | {"z", "labels"}, training=False)` -> images; signatures `serving_default`
    ({"z"[, "labels"]} -> {"images"}) and `sample` ({"seed", "num_images" | "labels"} ->
    {"images", "z"[, "labels"]})."""
    z_dim, num_classes = generator.z_dim, generator.num_classes
    module = ReusableModule(generator.weights, metadata, assets, name="generator")
    z_msg = f"generator module expects float32 z [N, {z_dim}]"
    y_msg = f"generator module expects int32 labels [N] in [0, {num_classes})"
    _generator_call(module, generator, z_msg, y_msg)
    signatures = _generator_signatures(module.__call__, z_dim, num_classes, z_distribution,
                                       y_msg)
    module.sample = signatures["sample"]
    return module, signatures


def discriminator_module(discriminator, metadata: dict, assets: dict):
    """D encoder: `__call__(images | {"images", "labels"}, training=False)` -> dict of outputs
    (`Discriminator.encode`); signature `serving_default` ({"images"[, "labels"]} -> the same dict).
    Labels are inputs only when D projects them (`project_y`); with an S3GAN class head, label
    -1 means "unlabelled" and the head's predicted class is projected instead."""
    shape = list(discriminator.image_shape)
    num_classes = discriminator.num_classes
    project = bool(getattr(discriminator, "project_y", False))
    lowest = -1 if getattr(discriminator, "class_head", None) is not None else 0
    module = ReusableModule(discriminator.weights, metadata, assets, name="discriminator")
    x_msg = f"discriminator module expects float32 images {_shape_str([None, *shape])} in [0, 1]"
    y_range = f"[{lowest}, {num_classes})" + (" (-1 = unlabelled)" if lowest else "")
    y_msg = f"discriminator module expects int32 labels [N] in {y_range}"
    both_msg = f"{x_msg} and int32 labels [N] in {y_range}"

    # Static output shapes (a flatten inside D can hide them; Keras layers after us need them).
    dummy_y = tf.zeros([1], tf.int32) if project else None
    dims = {k: v.shape[1:] for k, v in
            discriminator.encode(tf.zeros([1, *shape]), dummy_y).items()}

    def encode(images, labels, training):
        images = check_shape(images, [None, *shape], x_msg)
        images = check_range(images, -RANGE_SLACK, 1.0 + RANGE_SLACK, x_msg)
        if project:
            labels = check_labels(labels, tf.shape(images)[0], num_classes, y_msg, lowest)
        out = discriminator.encode(images, labels if project else None, training)
        return {k: tf.ensure_shape(v, [None, *dims[k]]) for k, v in out.items()}

    x_spec = tf.TensorSpec(None, tf.float32, name="images")
    y_spec = tf.TensorSpec(None, tf.int32, name="labels")
    if project:
        good = {"images": x_spec, "labels": y_spec}
        _make_call(module, lambda x, t: encode(x["images"], x["labels"], t), good,
                   _wrong_specs(good, "images", "labels"),
                   lambda x: f"{both_msg}; got images {x['images'].dtype.name}, "
                             f"labels {x['labels'].dtype.name}")

        @tf.function(autograph=False, input_signature=[x_spec, y_spec])
        def serve(images, labels):
            return module.__call__({"images": images, "labels": labels})
    else:
        _make_call(module, lambda x, t: encode(x, None, t), x_spec,
                   [s["images"] for s in _wrong_specs({"images": x_spec}, "images", None)],
                   lambda x: f"{x_msg}; got {x.dtype.name}")

        @tf.function(autograph=False, input_signature=[x_spec])
        def serve(images):
            return module.__call__(images)

    return module, {"serving_default": serve}
