"""Optional domain feature extractor: a small CNN classifier trained on the dataset itself.

Why: ImageNet Inception features say little about 28x28 digits, and FID on
MNIST-like data is dominated by the resize to 299.  A classifier trained on
the labelled real data gives features (its penultimate layer) in which class
structure and stroke quality matter.  Scores from it feed the same Fréchet /
KID / IS code but are NOT FID: they are reported as ``domain_fd``,
``domain_kid_mean``/``_std`` and ``domain_is_mean``/``_std`` and are only
comparable between runs that use the same saved extractor (its sha256 is
recorded next to every score).

The saved ``.keras`` file is self-contained (rescaling to [0,1] is the
model's first layer); images of another size are resized bilinearly to the
training size and RGB/gray are converted to the training channel count.
"""

from __future__ import annotations

import hashlib
import os
from typing import Dict, Optional, Tuple

import keras
import numpy as np
import tensorflow as tf

from ssgan_tf.evaluation.metrics.hashing import file_sha256

FEATURE_LAYER = "features"
LOGITS_LAYER = "logits"


def build_domain_classifier(input_shape: Tuple[int, int, int], num_classes: int,
                            feature_dim: int = 128) -> keras.Model:
    """Conv(32,32) -> pool -> Conv(64,64) -> pool -> flatten -> Dense(features, relu) -> logits."""
    f32 = "float32"  # pinned: a global mixed-precision policy must not change the scores
    inputs = keras.Input(shape=input_shape, name="images", dtype=f32)
    x = keras.layers.Rescaling(1.0 / 255.0, dtype=f32)(inputs)
    for filters, pool in ((32, False), (32, True), (64, False), (64, True)):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", dtype=f32)(x)
        if pool:
            x = keras.layers.MaxPooling2D(2, dtype=f32)(x)
    x = keras.layers.Flatten(dtype=f32)(x)
    features = keras.layers.Dense(feature_dim, activation="relu", name=FEATURE_LAYER, dtype=f32)(x)
    logits = keras.layers.Dense(num_classes, name=LOGITS_LAYER, dtype=f32)(features)
    return keras.Model(inputs, logits, name="domain_cnn")


class DomainFeatureExtractor:
    """``extractor(images) -> {'features': penultimate activations, 'logits': class logits}``."""

    key_prefix = "domain_"  # metric names: domain_fd, domain_kid_mean, domain_is_mean ...
    has_logits = True

    def __init__(self, classifier: keras.Model, sha256: Optional[str] = None, source: str = "<memory>",
                 batch_size: int = 256) -> None:
        self.classifier = classifier
        self.batch_size = int(batch_size)
        self.source = source
        self.name = f"domain_cnn:{os.path.basename(source)}" if source != "<memory>" else "domain_cnn"
        self.input_shape = tuple(int(d) for d in classifier.input_shape[1:])
        self.feature_dim = int(classifier.get_layer(FEATURE_LAYER).output.shape[-1])
        self.sha256 = sha256 or self._weights_sha256()
        both = keras.Model(classifier.inputs,
                           [classifier.get_layer(FEATURE_LAYER).output, classifier.output])

        @tf.function(reduce_retracing=True, jit_compile=False)
        def forward(x):
            return both(x, training=False)

        self._forward = forward

    def _weights_sha256(self) -> str:
        digest = hashlib.sha256()
        for w in self.classifier.get_weights():
            digest.update(np.ascontiguousarray(w, np.float32).tobytes())
        return digest.hexdigest()

    # ------------------------------------------------------------------ training / io
    @classmethod
    def train(cls, images: np.ndarray, labels: np.ndarray, num_classes: Optional[int] = None, epochs: int = 3,
              batch_size: int = 128, feature_dim: int = 128, learning_rate: float = 1e-3, seed: int = 0,
              verbose: int = 0) -> "DomainFeatureExtractor":
        """Train on uint8 [N,H,W(,C)] images in [0,255] and integer labels. Seeds Keras globally."""
        x = _as_nhwc(images)
        y = np.asarray(labels).astype(np.int64).reshape(-1)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"{x.shape[0]} images but {y.shape[0]} labels")
        num_classes = int(num_classes or (y.max() + 1))
        keras.utils.set_random_seed(seed)
        model = build_domain_classifier(x.shape[1:], num_classes, feature_dim)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=verbose)
        return cls(model)

    def save(self, path: "str | os.PathLike[str]") -> None:
        """Save as a ``.keras`` file (the suffix is required by Keras)."""
        path = os.fspath(path)
        if not path.endswith(".keras"):
            raise ValueError(f"domain extractor path must end with '.keras', got '{path}'")
        self.classifier.save(path)

    @classmethod
    def load(cls, path: "str | os.PathLike[str]", batch_size: int = 256) -> "DomainFeatureExtractor":
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"domain extractor file not found: '{path}' (a .keras file written by "
                                    "DomainFeatureExtractor.save)")
        try:
            model = keras.models.load_model(path, compile=False)
            model.get_layer(FEATURE_LAYER)
        except Exception as exc:  # keras raises a variety of types for foreign files
            raise ValueError(f"'{path}' is not a domain extractor saved by DomainFeatureExtractor.save "
                             f"({exc.__class__.__name__}: {str(exc)[:200]})") from None
        return cls(model, sha256=file_sha256(path), source=path, batch_size=batch_size)

    def settings(self) -> Dict[str, str]:
        return {"domain_extractor": self.name, "domain_extractor_sha256": self.sha256}

    # ------------------------------------------------------------------ inference
    def _adapt(self, images: np.ndarray) -> np.ndarray:
        x = _as_nhwc(images).astype(np.float32)
        h, w, c = self.input_shape
        if x.shape[-1] != c:
            x = x.mean(axis=-1, keepdims=True) if c == 1 else np.repeat(x, c, axis=-1)
        if x.shape[1:3] != (h, w):
            x = tf.image.resize(x, (h, w), method="bilinear").numpy()
        return x

    def __call__(self, images: np.ndarray) -> Dict[str, np.ndarray]:
        x = _as_nhwc(images)
        feats, logits = [], []
        for start in range(0, x.shape[0], self.batch_size):  # adapt per batch: no copy of all
            f, lg = self._forward(tf.constant(self._adapt(x[start:start + self.batch_size])))
            feats.append(f.numpy())
            logits.append(lg.numpy())
        if not feats:
            n_cls = int(self.classifier.output.shape[-1])
            return {"features": np.zeros((0, self.feature_dim), np.float32),
                    "logits": np.zeros((0, n_cls), np.float32)}
        return {"features": np.concatenate(feats), "logits": np.concatenate(logits)}

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        logits = self(images)["logits"]
        return float((logits.argmax(axis=1) == np.asarray(labels).reshape(-1)).mean())


def _as_nhwc(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"expected images [N,H,W], [N,H,W,1] or [N,H,W,3]; got shape {x.shape}")
    return x
