"""The 2015-12-05 FID Inception-v3 as a Keras 3 model, and a batched feature extractor.

This is the network of TTUR, TF-GAN, pytorch-fid, clean-fid and StyleGAN's FID
(``classify_image_graph_def.pb``), NOT ``keras.applications.InceptionV3``:
its weights, its ``mixed_10`` max-pool branch and its preprocessing differ,
and FID values are only comparable across papers with this exact network.

Numerics: features are float32 end to end.  Each conv's inference batch-norm
``(conv(x) - mean) / sqrt(var + 0.001) * gamma + beta`` is folded into the
kernel and a bias (one float32 rounding of the weights): against a float64
numpy forward pass the pool_3 features agree to ~1e-5 absolute, the same as
the unfolded form, and it runs ~10% faster on CPU.  Avg pools use TF's SAME
padding, which excludes the padded cells from the divisor, exactly like the
2015 graph (and pytorch-fid's ``count_include_pad=False``).

Input convention (that of the 2015 graph, which TTUR feeds through
``ExpandDims:0``): RGB values in [0, 255], resized to 299x299 with TF1's
legacy bilinear resize (``align_corners=False``, ``half_pixel_centers=False``,
i.e. ``tf.compat.v1.image.resize_bilinear``; the resize node in the graph
itself), then ``(x - 128) / 128``.  TF2's ``tf.image.resize`` uses half-pixel
centres and would shift FID values; we call the legacy kernel explicitly.
"""

from __future__ import annotations

import os
from typing import Callable, Dict, Mapping, Union

import keras
import numpy as np
import tensorflow as tf

from ssgan_tf.evaluation.metrics import inception_spec as spec
from ssgan_tf.evaluation.metrics.inception_weights import (
    InceptionWeights,
    load_inception_weights,
    validate_tensors,
)

EXTRACTOR_NAME = "inception_v3_2015_12_05"
#: Every layer is pinned to float32 so a global mixed_bfloat16 policy (training) cannot change FID.
F32 = "float32"


class FoldedConvBNReLU(keras.layers.Layer):
    """Conv (no bias) + inference batch-norm folded into kernel/bias + ReLU; frozen."""

    def __init__(self, kernel_hwio: np.ndarray, bias: np.ndarray, stride: int, padding: str, **kwargs) -> None:
        kwargs.setdefault("dtype", "float32")  # never follow a global mixed-precision policy
        super().__init__(trainable=False, **kwargs)
        self._kernel_value = np.asarray(kernel_hwio, np.float32)
        self._bias_value = np.asarray(bias, np.float32)
        self.stride = int(stride)
        self.padding = padding.lower()

    def build(self, input_shape) -> None:
        kernel, bias = self._kernel_value, self._bias_value
        self.kernel = self.add_weight(name="kernel", shape=kernel.shape, trainable=False,
                                      initializer=lambda shape, dtype=None: kernel)
        self.bias = self.add_weight(name="bias", shape=bias.shape, trainable=False,
                                    initializer=lambda shape, dtype=None: bias)

    def call(self, x):
        # tf ops on purpose: Conv2D -> BiasAdd -> Relu is fused by grappler on CPU (~1.6x faster).
        y = tf.nn.conv2d(x, self.kernel, strides=self.stride, padding=self.padding.upper())
        return tf.nn.relu(tf.nn.bias_add(y, self.bias))

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        kh, kw = self._kernel_value.shape[:2]

        def out(size, k):
            if size is None:
                return None
            return -(-size // self.stride) if self.padding == "same" else (size - k) // self.stride + 1

        return (n, out(h, kh), out(w, kw), self._kernel_value.shape[-1])


class InceptionLogits(keras.layers.Layer):
    """Final 2048 -> 1008 layer; returns (logits with bias, logits without bias)."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, **kwargs) -> None:
        kwargs.setdefault("dtype", "float32")  # never follow a global mixed-precision policy
        super().__init__(trainable=False, **kwargs)
        self._w, self._b = np.asarray(weight, np.float32), np.asarray(bias, np.float32)

    def build(self, input_shape) -> None:
        w, b = self._w, self._b
        self.w = self.add_weight(name="weights", shape=w.shape, trainable=False,
                                 initializer=lambda shape, dtype=None: w)
        self.b = self.add_weight(name="biases", shape=b.shape, trainable=False,
                                 initializer=lambda shape, dtype=None: b)

    def call(self, x):
        unbiased = keras.ops.matmul(x, self.w)
        return unbiased + self.b, unbiased

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0], self._w.shape[1])
        return shape, shape


def fold_batch_norm(tensors: Mapping[str, np.ndarray], name: str):
    """Return (HWIO kernel, bias) with the inference batch-norm folded in (float32)."""
    var = tensors[f"{name}.var"].astype(np.float32)
    scale = (np.float32(1.0) / np.sqrt(var + np.float32(spec.BN_EPSILON))).astype(np.float32)
    gamma = tensors.get(f"{name}.gamma")
    if gamma is not None:
        scale = (scale * gamma.astype(np.float32)).astype(np.float32)
    kernel = np.transpose(tensors[f"{name}.weight"], (2, 3, 1, 0)) * scale  # OIHW -> HWIO, per-O scale
    bias = tensors[f"{name}.beta"] - tensors[f"{name}.mean"] * scale
    return kernel.astype(np.float32), bias.astype(np.float32)


def build_inception_model(weights: Union[InceptionWeights, Mapping[str, np.ndarray]]) -> keras.Model:
    """Functional Keras model: [N,299,299,3] in [-1,1] -> {'pool_3', ['logits', 'logits_unbiased']}.

    The wiring is hard-coded (it is fixed); the weights decide only whether the
    logits head exists.
    """
    tensors = weights.tensors if isinstance(weights, InceptionWeights) else validate_tensors(weights)

    def conv(x, name: str):
        s = spec.CONV_BY_NAME[name]
        kernel, bias = fold_batch_norm(tensors, name)
        return FoldedConvBNReLU(kernel, bias, s.stride, s.padding, name=name.replace(".", "__"))(x)

    def avg_pool(x):
        return keras.layers.AveragePooling2D(3, strides=1, padding="same", dtype=F32)(x)

    def max_pool(x, stride: int = 2, padding: str = "valid"):
        return keras.layers.MaxPooling2D(3, strides=stride, padding=padding, dtype=F32)(x)

    def concat(parts, name: str):
        return keras.layers.Concatenate(axis=-1, name=f"{name}__join", dtype=F32)(parts)

    def chain(x, block: str, tower: str, convs):
        for c in convs:
            x = conv(x, f"{block}.{tower}.{c}")
        return x

    inputs = keras.Input(shape=(spec.INPUT_SIZE, spec.INPUT_SIZE, 3), name="preprocessed_images", dtype=F32)
    x = conv(inputs, "conv")
    x = conv(x, "conv_1")
    x = conv(x, "conv_2")
    x = max_pool(x)
    x = conv(x, "conv_3")
    x = conv(x, "conv_4")
    x = max_pool(x)
    for b in ("mixed", "mixed_1", "mixed_2"):  # InceptionA, 35x35
        x = concat([conv(x, f"{b}.conv"),
                    chain(x, b, "tower", ("conv", "conv_1")),
                    chain(x, b, "tower_1", ("conv", "conv_1", "conv_2")),
                    conv(avg_pool(x), f"{b}.tower_2.conv")], b)
    b = "mixed_3"  # InceptionB, 35 -> 17
    x = concat([conv(x, f"{b}.conv"), chain(x, b, "tower", ("conv", "conv_1", "conv_2")), max_pool(x)], b)
    for b in ("mixed_4", "mixed_5", "mixed_6", "mixed_7"):  # InceptionC, 17x17
        x = concat([conv(x, f"{b}.conv"),
                    chain(x, b, "tower", ("conv", "conv_1", "conv_2")),
                    chain(x, b, "tower_1", ("conv", "conv_1", "conv_2", "conv_3", "conv_4")),
                    conv(avg_pool(x), f"{b}.tower_2.conv")], b)
    b = "mixed_8"  # InceptionD, 17 -> 8
    x = concat([chain(x, b, "tower", ("conv", "conv_1")),
                chain(x, b, "tower_1", ("conv", "conv_1", "conv_2", "conv_3")),
                max_pool(x)], b)
    for b, pool in (("mixed_9", "avg"), ("mixed_10", "max")):  # InceptionE, 8x8
        a = conv(x, f"{b}.tower_conv")
        d = conv(conv(x, f"{b}.tower_1_conv"), f"{b}.tower_1_conv_1")
        p = avg_pool(x) if pool == "avg" else max_pool(x, 1, "same")  # the 2015 graph's max pool
        x = concat([conv(x, f"{b}.conv"),
                    conv(a, f"{b}.tower_mixed_conv"), conv(a, f"{b}.tower_mixed_conv_1"),
                    conv(d, f"{b}.tower_1_mixed_conv"), conv(d, f"{b}.tower_1_mixed_conv_1"),
                    conv(p, f"{b}.tower_2_conv")], b)
    pool3 = keras.layers.GlobalAveragePooling2D(name="pool_3", dtype=F32)(x)
    outputs = {"pool_3": pool3}
    if spec.LOGITS_WEIGHT in tensors:
        logits, unbiased = InceptionLogits(tensors[spec.LOGITS_WEIGHT], tensors[spec.LOGITS_BIAS],
                                           name="softmax")(pool3)
        outputs.update(logits=logits, logits_unbiased=unbiased)
    return keras.Model(inputs, outputs, name=EXTRACTOR_NAME)


def to_nhwc3_float(images: np.ndarray) -> np.ndarray:
    """Validate a batch of [0,255] images and return float32 [N,H,W,3] (gray tiled to RGB)."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"expected images [N,H,W], [N,H,W,1] or [N,H,W,3]; got shape {x.shape}")
    if x.dtype == np.bool_ or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"expected uint8 or float images in [0, 255]; got dtype {x.dtype}")
    x = x.astype(np.float32, copy=False)
    if x.size and (not np.isfinite(x).all() or x.min() < 0.0 or x.max() > 255.0):
        raise ValueError(f"image values must lie in [0, 255]; got range [{x.min()}, {x.max()}]")
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return x


def preprocess(images: tf.Tensor) -> tf.Tensor:
    """[N,H,W,3] float32 in [0,255] -> [N,299,299,3] in [-1,1], as the 2015 graph does."""
    x = tf.raw_ops.ResizeBilinear(images=images, size=[spec.INPUT_SIZE, spec.INPUT_SIZE],
                                  align_corners=False, half_pixel_centers=False)
    return (x - 128.0) * 0.0078125  # the graph's Sub(128) then Mul(1/128): exact in float32


class InceptionExtractor:
    """Batched FID Inception features: ``extractor(images) -> {'features', ['logits']}``.

    ``features`` are the 2048-d pool_3 activations (FID, KID).  ``logits``
    (only when the weights include the softmax layer) feed the Inception Score;
    by default they are the *unbiased* logits ``pool_3 @ W`` used by the
    original IS code (Salimans et al. 2016) and torch-fidelity; ``is_logits=
    "biased"`` adds the bias, as graphs' ``softmax/logits`` does.
    """

    key_prefix = ""  # metric names: fid, kid_mean, is_mean ...
    feature_dim = spec.POOL3_DIM

    def __init__(self, weights: InceptionWeights, batch_size: int = 64, is_logits: str = "unbiased") -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if is_logits not in ("unbiased", "biased"):
            raise ValueError(f"is_logits must be 'unbiased' or 'biased', got {is_logits!r}")
        self.source, self.format = weights.source, weights.format
        self.has_logits = weights.has_logits
        self.batch_size = int(batch_size)
        self.is_logits = is_logits
        self.name = EXTRACTOR_NAME
        self.sha256 = weights.sha256
        self.model = build_inception_model(weights)
        model = self.model
        logits_key = "logits_unbiased" if is_logits == "unbiased" else "logits"

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
                     reduce_retracing=True, jit_compile=False)
        def forward(images):
            out = model(preprocess(images), training=False)
            result = {"features": out["pool_3"]}
            if logits_key in out:
                result["logits"] = out[logits_key]
            return result

        self._forward: Callable = forward

    @classmethod
    def from_path(cls, path: "str | os.PathLike[str]", batch_size: int = 64,
                  is_logits: str = "unbiased") -> "InceptionExtractor":
        """Load weights from a local .npz / .pb / .tgz / .pth (see ``load_inception_weights``)."""
        return cls(load_inception_weights(path), batch_size=batch_size, is_logits=is_logits)

    def settings(self) -> Dict[str, Union[str, int]]:
        """Provenance recorded next to every score."""
        return {"extractor": self.name, "extractor_sha256": self.sha256,
                "extractor_format": self.format}

    def __call__(self, images: np.ndarray) -> Dict[str, np.ndarray]:
        x = np.asarray(images)
        to_nhwc3_float(x[:0])  # validate shape/dtype up front; values are checked per batch
        chunks: Dict[str, list] = {}
        for start in range(0, x.shape[0], self.batch_size):  # convert per batch: no float copy of all
            out = self._forward(tf.constant(to_nhwc3_float(x[start:start + self.batch_size])))
            for key, value in out.items():
                chunks.setdefault(key, []).append(value.numpy())
        if not chunks:
            empty = {"features": np.zeros((0, spec.POOL3_DIM), np.float32)}
            if self.has_logits:
                empty["logits"] = np.zeros((0, spec.NUM_LOGITS), np.float32)
            return empty
        return {key: np.concatenate(values, axis=0) for key, values in chunks.items()}


def load_inception_extractor(path: "str | os.PathLike[str]", batch_size: int = 64,
                             is_logits: str = "unbiased") -> InceptionExtractor:
    """Convenience alias of ``InceptionExtractor.from_path``."""
    return InceptionExtractor.from_path(path, batch_size=batch_size, is_logits=is_logits)


__all__ = ["EXTRACTOR_NAME", "FoldedConvBNReLU", "InceptionExtractor", "build_inception_model",
           "fold_batch_norm", "load_inception_extractor", "preprocess", "to_nhwc3_float"]
