"""The contract every architecture family implements.

Generator: `G(z, y=None, training)` -> float32 images in [0, 1], NHWC.
Discriminator: `D(x, y=None, training)` -> dict with
  `logits` [B] (float32, real/fake), `features` [B, F] (input of the final linear layer),
  `rotation_logits` [B, 4] (linear head on `features`; spectral-normalized iff D is),
  `block1`..`blockN` [B, C_i] (each block's output, global-average pooled),
  `class_logits` [B, num_classes] with the S3GAN class head (`class_head=True`).
Heads live in the discriminator, as in compare_gan, so the D optimizer trains them and exports see
them. Subclasses implement `generate(z, y_onehot, training)` / `trunk(x, training)`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from ssgan_tf.layers.config import Configurable
from ssgan_tf.layers.minibatch import minibatch_features
from ssgan_tf.layers.normalization import BatchNorm, ReferenceBatchMixin
from ssgan_tf.layers.spectral_norm import Dense

NUM_ROTATIONS = 4


def _check_image_shape(image_shape, family: str, multiple: int, min_size: int = 0) -> tuple:
    shape = tuple(int(d) for d in image_shape)
    if len(shape) != 3 or shape[0] != shape[1]:
        raise ValueError(f"{family}: image_shape must be square [H, W, C], got {shape}.")
    if shape[0] % multiple or shape[0] < max(multiple, min_size):
        raise ValueError(f"{family}: resolution {shape[0]} is not supported; it must be a "
                         f"multiple of {multiple} and at least {max(multiple, min_size)}.")
    return shape


class Generator(Configurable, ReferenceBatchMixin, keras.Model):
    """Maps z (and optionally a class label) to images in [0, 1].

    With `virtual_batch_norm` layers, every call also runs the fixed reference batch
    (`set_reference_batch`, see layers/normalization.py).

    Keras-native: `get_config` holds the constructor arguments (gin's included) and the
    conditional-BN gain offset; `.keras` save / `keras.models.load_model` round-trip.
    """

    def __init__(self, image_shape, z_dim: int = 128, num_classes: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.z_dim = int(z_dim)
        self.num_classes = int(num_classes)

    def generate(self, z, y, training):
        raise NotImplementedError

    def _conditional_norms(self) -> list:
        return [layer for layer in self._flatten_layers(include_self=False)
                if isinstance(layer, BatchNorm) and layer.kind == "conditional_batch_norm"]

    def get_config(self) -> dict:
        config = super().get_config()
        offsets = {layer.cbn_gain_offset for layer in self._conditional_norms()}
        if len(offsets) == 1:  # gin's `conditional_batch_norm.gain_offset` when built
            config["cbn_gain_offset"] = offsets.pop()
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        offset = config.pop("cbn_gain_offset", None)
        generator = super().from_config(config)
        for layer in generator._conditional_norms() if offset is not None else ():
            layer.cbn_gain_offset = float(offset)
        return generator

    def get_build_config(self) -> dict | None:
        if not (self.built or self.weights):
            return None
        config = {"batch_size": 1}
        if getattr(self, "vbn_reference_z", None) is not None:
            config["vbn_reference_size"] = int(self.vbn_reference_z.shape[0])
        return config

    def build_from_config(self, config: dict) -> None:
        """Creates the variables with one inference call (no state changes)."""
        if "vbn_reference_size" in config:
            self._ensure_reference_batch(int(config["vbn_reference_size"]))
        n = int(config.get("batch_size", 1))
        y = tf.zeros([n], tf.int32) if self.num_classes else None
        self(tf.zeros([n, self.z_dim]), y, training=False)

    def call(self, z, y=None, training=False):
        y_onehot = None
        if self.num_classes:
            if y is None:
                raise ValueError("This generator is conditional: pass integer labels y.")
            y_onehot = tf.one_hot(y, self.num_classes, dtype=self.compute_dtype)
        z = tf.cast(z, self.compute_dtype)
        return tf.cast(self._generate_with_reference(z, y_onehot, training), tf.float32)


class Discriminator(Configurable, keras.Model):
    """Real/fake logits, final features, per-block features and a rotation head.

    Keras-native: `get_config` holds the constructor arguments (gin's included; the minibatch
    layer with its own config); `.keras` save / `keras.models.load_model` round-trip.
    """

    def __init__(self, image_shape, num_classes: int = 0, spectral_norm: bool = True,
                 project_y: bool = False, minibatch: str | None = None,
                 class_head: bool = False, soft_predictions: bool = False, **kwargs):
        """`class_head` (S3GAN's predictor, compare_gan `use_predictor`): a linear class head on
        `features`; examples whose label is -1 (unlabelled) are projected with its predicted
        label, one-hot of the argmax (or its softmax with `soft_predictions`), under
        stop_gradient. Needs a conditional D with `project_y`."""
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.num_classes = int(num_classes)
        self.spectral_norm = spectral_norm
        self.project_y = project_y and self.num_classes > 0
        if class_head and not self.project_y:
            raise ValueError(
                f"{type(self).__module__.split('.')[-1]}.Discriminator.class_head=True needs a "
                "class-projection discriminator: set train.conditional=True (a dataset with "
                f"labels; num_classes is {self.num_classes}) and "
                "<architecture>.Discriminator.project_y=True.")
        self.use_class_head = bool(class_head)
        self.soft_predictions = bool(soft_predictions)
        # Minibatch features (layers/minibatch.py) on `features`, before all heads.
        self.minibatch = minibatch_features(minibatch, dtype=self.dtype_policy)

    def get_config(self) -> dict:
        config = super().get_config()
        if self.minibatch is not None:  # its sizes come from gin: keep the layer's own config
            layer = keras.saving.serialize_keras_object(self.minibatch)
            layer.pop("build_config", None)  # built inside D's call, so its weights' paths are D's
            config["minibatch"] = layer
        return config

    def get_build_config(self) -> dict | None:
        return {"batch_size": 1} if self.built else None

    def build_from_config(self, config: dict) -> None:
        """Creates the variables with one inference call (no state changes)."""
        n = int(config.get("batch_size", 1))
        y = tf.zeros([n], tf.int32) if self.num_classes else None
        self(tf.zeros([n, *self.image_shape]), y, training=False)

    @property
    def batch_dependent(self) -> bool:
        """True when the output of one image depends on the batch (D BN, minibatch features)."""
        return (getattr(self, "_batch_dependent", False)
                or getattr(self, "minibatch", None) is not None)

    @batch_dependent.setter
    def batch_dependent(self, value: bool) -> None:
        self._batch_dependent = bool(value)

    def _make_heads(self, feature_dim: int, kernel_initializer=None) -> None:
        """Creates the real/fake, rotation and (optional) projection heads on `features`;
        `kernel_initializer` (default N(0, 0.02)) for the two linear heads."""
        sn = self.spectral_norm
        self.feature_dim = int(feature_dim) + (self.minibatch.extra_features
                                               if self.minibatch is not None else 0)
        self.final_fc = Dense(1, spectral_norm=sn, kernel_initializer=kernel_initializer,
                              name="final_fc", dtype=self.dtype_policy)
        self.rotation_head = Dense(NUM_ROTATIONS, spectral_norm=sn, name="rotation_head",
                                   kernel_initializer=kernel_initializer,
                                   dtype=self.dtype_policy)
        self.class_head = None
        if self.use_class_head:
            # compare_gan `discriminator_predictor/predictor_linear`: linear with bias, SN iff D.
            self.class_head = Dense(self.num_classes, spectral_norm=sn, name="class_head",
                                    kernel_initializer=kernel_initializer,
                                    dtype=self.dtype_policy)
        self.projection = None
        if self.project_y:
            # compare_gan: embedding [num_classes, F], glorot_normal, SN iff D uses SN.
            self.projection = Dense(self.feature_dim, use_bias=False, spectral_norm=sn,
                                    kernel_initializer=keras.initializers.GlorotNormal(),
                                    name="projection", dtype=self.dtype_policy)

    def trunk(self, x, training):
        """Returns (features [B, F], {"block1": [B, C1], ...})."""
        raise NotImplementedError

    def call(self, x, y=None, training=False):
        x = tf.cast(x, self.compute_dtype)
        features, blocks = self.trunk(x, training)
        if self.minibatch is not None:
            features = self.minibatch(features)
        logits = self.final_fc(features, training=training)
        class_logits = (self.class_head(features, training=training)
                        if self.class_head is not None else None)
        if self.project_y:
            if y is None:
                raise ValueError("This discriminator projects labels: pass integer labels y.")
            y_onehot = tf.one_hot(y, self.num_classes, dtype=features.dtype)  # -1 -> zeros
            if class_logits is not None:
                y_onehot = self._fill_missing_labels(y_onehot, class_logits)
            logits += tf.reduce_sum(features * self.projection(y_onehot, training=training),
                                    axis=1, keepdims=True)
        out = {"logits": tf.cast(logits[:, 0], tf.float32),
               "features": tf.cast(features, tf.float32),
               "rotation_logits": tf.cast(self.rotation_head(features, training=training),
                                          tf.float32)}
        if class_logits is not None:
            out["class_logits"] = tf.cast(class_logits, tf.float32)
        out.update({k: tf.cast(v, tf.float32) for k, v in blocks.items()})
        return out

    def encode(self, images, labels=None, training=False) -> dict:
        """D's outputs under their exported names (export/README.md): `gan_logits` [N], `final`
        [N, F] (input of the last linear layer), `rotation_logits` [N, 4], `block1`..`blockN`
        (pooled), and `class_logits` when D has a class head (S3GAN)."""
        out = self(images, labels, training=training)
        result = {"gan_logits": out["logits"], "final": out["features"],
                  "rotation_logits": out["rotation_logits"]}
        result.update({k: v for k, v in out.items() if k.startswith("block")})
        if "class_logits" in out:
            result["class_logits"] = out["class_logits"]
        elif self.class_head is not None:
            features = tf.cast(out["features"], self.compute_dtype)
            result["class_logits"] = tf.cast(self.class_head(features, training=training),
                                             tf.float32)
        return result

    def _fill_missing_labels(self, y_onehot, class_logits):
        """S3GAN: rows without a label (all-zero one-hot) take the class head's prediction,
        under stop_gradient (compare_gan `discriminator_with_additonal_heads`)."""
        if self.soft_predictions:
            predicted = tf.nn.softmax(class_logits)
        else:
            predicted = tf.one_hot(tf.argmax(class_logits, axis=-1), self.num_classes,
                                   dtype=y_onehot.dtype)
        available = tf.cast(tf.reduce_sum(y_onehot, axis=1, keepdims=True) > 0.5, y_onehot.dtype)
        return tf.stop_gradient(available * y_onehot
                                + (1.0 - available) * tf.cast(predicted, y_onehot.dtype))
