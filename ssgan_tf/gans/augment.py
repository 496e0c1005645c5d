"""DiffAugment (Zhao et al., NeurIPS 2020, "Differentiable Augmentation for Data-Efficient GAN
Training") with ADA's adaptive probability (Karras et al., NeurIPS 2020, "Training Generative
Adversarial Networks with Limited Data").

A small dataset lets D memorize the reals. DiffAugment applies the same random, differentiable
transformations T to every image D sees (reals and fakes, in D and G steps), so D learns
D(T(x)) and G's gradient flows back through T. docs/augment.md says where it goes relative to the
SSGAN rotation (augment first, then rotate) and why.

Policies ("color,translation,cutout", any subset, always applied in that order), on images in
[0, 1] NHWC (the project's pixel convention; the reference works on [-1, 1]):
- color: brightness x + b, b ~ U[-0.25, 0.25) (the reference adds U[-0.5, 0.5) to [-1, 1] data:
  half of it on [0, 1], the same change of the image); saturation m_c + s (x - m_c),
  s ~ U[0, 2), m_c the pixel's channel mean; contrast m + c (x - m), c ~ U[0.5, 1.5), m the
  image's mean. Saturation and contrast have the form mean + k (x - mean), which commutes with
  the affine map between [-1, 1] and [0, 1], so they are the reference's formulas unchanged.
  Color is not clipped (a clip would stop the gradient): it can leave [0, 1].
- translation: each image shifted by integers (dy, dx) ~ U{-H/8..H/8} x U{-W/8..W/8}; the pixels
  shifted in are `fill` (0, as the reference pads with zeros).
- cutout: a square of H/2 x W/2 set to `fill` (0), its centre uniform over the image as the
  reference draws it, so near the border part of it falls outside the image.
Note on `fill`: the reference's 0 is mid-grey on its [-1, 1] data; 0 here is black. Both sides of
D see the same fill, so either works; `fill=0.5` reproduces the reference's grey exactly.

Randomness: one stateless Philox draw keyed by `key` (as the rest of the step) gives 12 uniforms
per image of the *global* batch in a fixed column layout (one column per random quantity, whatever
the policy); each replica uses its own rows, as `GAN._replica_rows` does for z. So a resumed run
draws the same augmentations, replicas augment their images differently, the result does not
depend on the number of replicas for the same global batch, and (the uniforms are made from
Philox's raw bits) a jit_compile step draws what a plain step draws.

Probability: each of the five elementary operations (brightness, saturation, contrast,
translation, cutout) is applied to each image independently with probability p, as ADA's
pipeline; a skipped operation is the exact identity. p = 1 is the paper's DiffAugment.
`AdaptiveProbability` adjusts p from D's real logits (ADA's r_t heuristic).
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import gin
import keras
import tensorflow as tf

from ssgan_tf.common.errors import ConfigError, SsganError

OPERATIONS = ("color", "translation", "cutout")
# Stateless draws use Philox explicitly, as the step's z (gans/gan.py). Its raw bits are the same
# with and without XLA, but XLA turns them into floats differently from the TF kernel (for a key
# known only at run time), so the uniforms are made here from the bits (`_uniform`): a
# jit_compile (TPU) run draws the augmentations of a plain one.
RNG_ALG = "philox"
TRANSLATION_RATIO = 1 / 8   # the reference's rand_translation ratio [1, 8]
CUTOUT_RATIO = 1 / 2        # the reference's rand_cutout ratio [1, 2]
BRIGHTNESS_RANGE = 0.5      # width of the brightness shift on [0, 1] data (1.0 on [-1, 1])
# Salts of the step's augmentation keys (GAN._key(salt, substep)), one per augmented batch, so
# reals, D's fakes and G's fakes are augmented independently (as DiffAugment does).
REAL_SALT = 181081
FAKE_SALT = 199999
GENERATOR_SALT = 224737

# Columns of the per-image uniform draw. Fixed, so turning one operation on or off does not change
# the draws of the others.
_APPLY_BRIGHTNESS, _APPLY_SATURATION, _APPLY_CONTRAST, _APPLY_TRANSLATION, _APPLY_CUTOUT = range(5)
_BRIGHTNESS, _SATURATION, _CONTRAST, _SHIFT_Y, _SHIFT_X, _CUTOUT_Y, _CUTOUT_X = range(5, 12)
_NUM_COLUMNS = 12


def parse_policy(policy: str) -> tuple[str, ...]:
    """The operations of a comma-separated policy, in the order they are applied."""
    if not isinstance(policy, str):
        raise ConfigError(f"augment policy={policy!r} must be a string such as "
                          f"'color,translation,cutout' (GAN.augment / Augment.policy).")
    names = [name.strip() for name in policy.split(",")] if policy.strip() else []
    unknown = [name for name in names if name not in OPERATIONS]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if unknown or duplicated:
        problem = (f"unknown {unknown}" if unknown else f"repeated {duplicated}")
        raise ConfigError(
            f"augment policy={policy!r}: {problem}; expected a comma-separated subset of "
            f"{', '.join(OPERATIONS)} (e.g. 'color,translation,cutout'), or '' for none "
            f"(GAN.augment / Augment.policy).")
    return tuple(name for name in OPERATIONS if name in names)


# ------------------------------------------------------------------------------- parameters
class AugmentParameters(NamedTuple):
    """Per-image parameters ([n] each); a skipped operation has its neutral value."""

    brightness: tf.Tensor   # float32 shift (0 = identity)
    saturation: tf.Tensor   # float32 factor (1 = identity)
    contrast: tf.Tensor     # float32 factor (1 = identity)
    shift_y: tf.Tensor      # int32: output row i shows input row i + shift_y (0 = identity)
    shift_x: tf.Tensor      # int32: output column j shows input column j + shift_x
    cutout: tf.Tensor       # bool: cut this image
    cutout_y: tf.Tensor     # int32: first row of the cut square (may be < 0)
    cutout_x: tf.Tensor     # int32: first column of the cut square (may be < 0)


def _distribution(replica_id, num_replicas):
    """(replica id, replicas) from the arguments or the current tf.distribute context; in a
    cross-replica context (or none) the images are the global batch: (0, 1)."""
    if num_replicas is None:
        ctx = tf.distribute.get_replica_context()
        if ctx is None:
            return 0, 1
        num_replicas = ctx.num_replicas_in_sync
        if replica_id is None:
            replica_id = ctx.replica_id_in_sync_group
    return (0 if replica_id is None else replica_id), int(num_replicas)


def _uniform(shape, key) -> tf.Tensor:
    """U[0, 1) float32 from the top 24 bits of Philox uint32 draws: k * 2^-24, exact, and the
    same with and without XLA."""
    bits = tf.random.stateless_uniform(shape, key, minval=None, maxval=None, dtype=tf.uint32,
                                       alg=RNG_ALG)
    return tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) * (1.0 / (1 << 24))


def _uniform_integers(u: tf.Tensor, low, count) -> tf.Tensor:
    """low + floor(u * count) as int32, u in [0, 1): uniform over {low, ..., low + count - 1}."""
    count = tf.cast(count, tf.int32)
    k = tf.cast(tf.floor(u * tf.cast(count, tf.float32)), tf.int32)
    return low + tf.minimum(k, count - 1)  # guards float round-up at u -> 1


def draw_parameters(key, batch, height: int, width: int, probability=1.0, replica_id=None,
                    num_replicas=None) -> AugmentParameters:
    """This replica's rows of the global batch's parameters (see the module docstring)."""
    replica_id, num_replicas = _distribution(replica_id, num_replicas)
    u = _uniform([batch * num_replicas, _NUM_COLUMNS], key)
    if num_replicas > 1:
        start = tf.cast(replica_id, tf.int32) * batch
        u = u[start:start + batch]
    if isinstance(probability, (int, float)) and probability >= 1:
        apply = tf.ones([tf.shape(u)[0], 5], tf.bool)
    else:
        apply = u[:, :5] < tf.cast(probability, tf.float32)
    reach_y, reach_x = int(height * TRANSLATION_RATIO), int(width * TRANSLATION_RATIO)
    size_y, size_x = int(height * CUTOUT_RATIO), int(width * CUTOUT_RATIO)
    # The reference's cutout centre: uniform over H + 1 positions for an even size (H for odd),
    # which makes the square's distribution symmetric under flips and 90-degree rotations.
    centre_y = _uniform_integers(u[:, _CUTOUT_Y], 0, height + 1 - size_y % 2)
    centre_x = _uniform_integers(u[:, _CUTOUT_X], 0, width + 1 - size_x % 2)
    zero = tf.zeros_like(centre_y)
    return AugmentParameters(
        brightness=tf.where(apply[:, _APPLY_BRIGHTNESS],
                            (u[:, _BRIGHTNESS] - 0.5) * BRIGHTNESS_RANGE, 0.0),
        saturation=tf.where(apply[:, _APPLY_SATURATION], u[:, _SATURATION] * 2.0, 1.0),
        contrast=tf.where(apply[:, _APPLY_CONTRAST], u[:, _CONTRAST] + 0.5, 1.0),
        shift_y=tf.where(apply[:, _APPLY_TRANSLATION],
                         _uniform_integers(u[:, _SHIFT_Y], -reach_y, 2 * reach_y + 1), zero),
        shift_x=tf.where(apply[:, _APPLY_TRANSLATION],
                         _uniform_integers(u[:, _SHIFT_X], -reach_x, 2 * reach_x + 1), zero),
        cutout=apply[:, _APPLY_CUTOUT] & (size_y > 0) & (size_x > 0),
        cutout_y=centre_y - size_y // 2,
        cutout_x=centre_x - size_x // 2)


# ------------------------------------------------------------------------------- operations
def _per_image(values: tf.Tensor, dtype) -> tf.Tensor:
    return tf.cast(values, dtype)[:, None, None, None]


def apply_color(x: tf.Tensor, params: AugmentParameters) -> tf.Tensor:
    """Brightness, then saturation, then contrast (the reference's order). k (x - m) + m is
    written x + (k - 1)(x - m), which is exactly x when an operation is skipped (k = 1)."""
    x = x + _per_image(params.brightness, x.dtype)
    channel_mean = tf.reduce_mean(x, axis=3, keepdims=True)
    x = x + _per_image(params.saturation - 1.0, x.dtype) * (x - channel_mean)
    image_mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    return x + _per_image(params.contrast - 1.0, x.dtype) * (x - image_mean)


def _fill(x: tf.Tensor, keep: tf.Tensor, fill: float) -> tf.Tensor:
    """x where keep (bool [B, H, W, 1]), `fill` elsewhere; x * 1 + 0 keeps x exactly."""
    keep = tf.cast(keep, x.dtype)
    return x * keep if fill == 0 else x * keep + tf.cast(fill, x.dtype) * (1.0 - keep)


def apply_translation(x: tf.Tensor, params: AugmentParameters, fill: float = 0.0) -> tf.Tensor:
    """out[b, i, j] = x[b, i + dy_b, j + dx_b] inside the image, `fill` outside (a gather, so
    d out / d x is the same selection)."""
    height, width = x.shape[1], x.shape[2]
    rows = tf.range(height)[None, :] + params.shift_y[:, None]      # [B, H] source rows
    cols = tf.range(width)[None, :] + params.shift_x[:, None]       # [B, W] source columns
    x = tf.gather(x, tf.clip_by_value(rows, 0, height - 1), axis=1, batch_dims=1)
    x = tf.gather(x, tf.clip_by_value(cols, 0, width - 1), axis=2, batch_dims=1)
    inside_rows = (rows >= 0) & (rows < height)
    inside_cols = (cols >= 0) & (cols < width)
    return _fill(x, inside_rows[:, :, None, None] & inside_cols[:, None, :, None], fill)


def cutout_mask(params: AugmentParameters, height: int, width: int) -> tf.Tensor:
    """bool [B, H, W]: True where cutout removes the pixel."""
    size_y, size_x = int(height * CUTOUT_RATIO), int(width * CUTOUT_RATIO)
    rows = tf.range(height)[None, :] - params.cutout_y[:, None]
    cols = tf.range(width)[None, :] - params.cutout_x[:, None]
    in_rows = (rows >= 0) & (rows < size_y)
    in_cols = (cols >= 0) & (cols < size_x)
    return in_rows[:, :, None] & in_cols[:, None, :] & params.cutout[:, None, None]


def apply_cutout(x: tf.Tensor, params: AugmentParameters, fill: float = 0.0) -> tf.Tensor:
    removed = cutout_mask(params, x.shape[1], x.shape[2])
    return _fill(x, tf.logical_not(removed)[..., None], fill)


def _check_images(images: tf.Tensor) -> None:
    if images.shape.rank != 4 or images.shape[1] is None or images.shape[2] is None:
        raise SsganError(f"diff_augment needs images [N, H, W, C] with a static H and W; got "
                         f"shape {images.shape}.")
    if not images.dtype.is_floating:
        raise SsganError(f"diff_augment needs float images in [0, 1]; got {images.dtype.name} "
                         f"(convert uint8 pixels with x / 255 first).")


def diff_augment(images, policy: str, key, probability=1.0, *, replica_id=None,
                 num_replicas=None, fill: float = 0.0):
    """DiffAugment `images` (float [N, H, W, C] in [0, 1]) with `policy`; differentiable w.r.t.
    `images`. `key`: a stateless RNG key (int [2]), the same on every replica; `replica_id` /
    `num_replicas` default to the current tf.distribute context. Half-precision images are
    augmented in float32 and cast back. An empty policy returns `images` itself (no op)."""
    operations = parse_policy(policy)
    if not operations:
        return images
    if isinstance(probability, (int, float)) and not 0.0 <= probability <= 1.0:
        raise ConfigError(f"augment probability={probability} must be in [0, 1] "
                          f"(Augment.probability).")
    images = tf.convert_to_tensor(images)
    _check_images(images)
    dtype = images.dtype
    x = tf.cast(images, tf.float32) if dtype in (tf.bfloat16, tf.float16) else images
    params = draw_parameters(key, tf.shape(x)[0], x.shape[1], x.shape[2], probability,
                             replica_id, num_replicas)
    if "color" in operations:
        x = apply_color(x, params)
    if "translation" in operations:
        x = apply_translation(x, params, fill)
    if "cutout" in operations:
        x = apply_cutout(x, params, fill)
    return tf.cast(x, dtype)


# --------------------------------------------------------------------------- adaptive p (ADA)
def _check_adaptive(target: float, interval: int, ada_kimg: float) -> None:
    if not -1.0 < target < 1.0:
        raise ConfigError(f"Augment.target={target} must be in (-1, 1): r_t = E[sign(D)].")
    if interval < 1:
        raise ConfigError(f"Augment.interval={interval} must be >= 1 (D steps).")
    if ada_kimg <= 0:
        raise ConfigError(f"Augment.ada_kimg={ada_kimg} must be > 0 (thousands of images for "
                          f"p to go from 0 to 1).")


def _variable(value, dtype: str, name: str) -> keras.Variable:
    return keras.Variable(tf.constant(value, dtype), dtype=dtype, trainable=False,
                          autocast=False, name=name)


class AdaptiveProbability:
    """ADA's adaptive augmentation probability p (Karras et al. 2020, §3).

    `accumulate(real_logits)` is called once per D step with D's GAN logits on the (augmented,
    upright) reals; `update()` after it (`observe` does both) or later: once `interval` calls are
    accumulated it computes r_t = E[sign(D(x_real))] over the reals of those calls (all replicas)
    and moves p by sign(r_t - target) x images / (ada_kimg x 1000), clipped to [0, maximum]:
    r_t > target means D is too sure of the reals (overfitting), so augment more. With ADA's
    ada_kimg = 500, p can go from 0 to 1 in 500k real images. (`GAN` accumulates after each D
    update and updates after the G update, so one train step augments with one p:
    gans/tricks/ada.py.)

    State (`variables()`, checkpoint it): p, the running sign sum, image and call counts of the
    current interval, and the last r_t. Replicas update it with the same all-reduced values (a
    local write on each copy of a mirrored variable, as the step's other trick state).
    """

    def __init__(self, target: float = 0.6, interval: int = 4, ada_kimg: float = 500.0,
                 initial: float = 0.0, maximum: float = 1.0, name: str = "augment"):
        _check_adaptive(target, interval, ada_kimg)
        if not 0.0 <= initial <= maximum <= 1.0:
            raise ConfigError(f"adaptive augment: need 0 <= initial p ({initial}) <= maximum "
                              f"({maximum}, Augment.probability) <= 1.")
        self.target = float(target)
        self.interval = int(interval)
        self.ada_kimg = float(ada_kimg)
        self.maximum = float(maximum)
        self.probability = _variable(initial, "float32", f"{name}_probability")
        self.sign_sum = _variable(0.0, "float32", f"{name}_sign_sum")
        self.num_images = _variable(0.0, "float32", f"{name}_num_images")
        self.num_calls = _variable(0, "int64", f"{name}_num_calls")
        self.rt = _variable(0.0, "float32", f"{name}_rt")

    def variables(self) -> dict:
        return {"probability": self.probability, "sign_sum": self.sign_sum,
                "num_images": self.num_images, "num_calls": self.num_calls, "rt": self.rt}

    def value(self) -> tf.Tensor:
        """p as a float32 tensor (pass it to `diff_augment(..., probability=)`)."""
        return tf.convert_to_tensor(self.probability)

    def accumulate(self, real_logits) -> None:
        """Adds sign(real_logits) (this replica's share; summed over replicas) and the number of
        images to the interval's sums and counts one call."""
        logits = tf.reshape(tf.cast(real_logits, tf.float32), [-1])
        stats = tf.stack([tf.reduce_sum(tf.sign(logits)), tf.cast(tf.size(logits), tf.float32)])
        ctx = tf.distribute.get_replica_context()
        if ctx is not None and ctx.num_replicas_in_sync > 1:
            stats = ctx.all_reduce(tf.distribute.ReduceOp.SUM, stats)
        self.sign_sum.assign(tf.convert_to_tensor(self.sign_sum) + stats[0])
        self.num_images.assign(tf.convert_to_tensor(self.num_images) + stats[1])
        self.num_calls.assign(tf.convert_to_tensor(self.num_calls) + 1)

    def update(self) -> dict:
        """Once `interval` calls are accumulated: r_t of the interval, p moved (see the class
        docstring), the sums restarted; else nothing. Returns {"augment_p", "augment_rt"}."""
        sign_sum = tf.convert_to_tensor(self.sign_sum)
        num_images = tf.convert_to_tensor(self.num_images)
        num_calls = tf.convert_to_tensor(self.num_calls)
        due = num_calls >= self.interval
        rt = sign_sum / tf.maximum(num_images, 1.0)
        adjust = tf.sign(rt - self.target) * num_images / (self.ada_kimg * 1000.0)
        p = tf.clip_by_value(self.value() + adjust, 0.0, self.maximum)
        self.probability.assign(tf.where(due, p, self.value()))
        self.rt.assign(tf.where(due, rt, tf.convert_to_tensor(self.rt)))
        self.sign_sum.assign(tf.where(due, 0.0, sign_sum))
        self.num_images.assign(tf.where(due, 0.0, num_images))
        self.num_calls.assign(tf.where(due, tf.zeros_like(num_calls), num_calls))
        return {"augment_p": self.value(), "augment_rt": tf.convert_to_tensor(self.rt)}

    def observe(self, real_logits) -> dict:
        """`accumulate` then `update`: one call per D step."""
        self.accumulate(real_logits)
        return self.update()


# ----------------------------------------------------------------------------- configuration
@gin.configurable(module="ssgan_tf.gans")
@dataclasses.dataclass(frozen=True)
class Augment:
    """DiffAugment settings (`GAN.augment`). `policy` "" (default) turns augmentation off.
    `probability`: per-operation, per-image probability when not adaptive; with `adaptive`, p
    starts at 0 (as ADA) and moves within [0, probability] (ADA's r_t heuristic with `target`,
    `interval` D steps, `ada_kimg`). `fill`: the value translation and cutout write (0; 0.5 is
    the reference's grey, see the module docstring)."""

    policy: str = ""
    probability: float = 1.0
    adaptive: bool = False
    target: float = 0.6
    interval: int = 4
    ada_kimg: float = 500.0
    fill: float = 0.0

    def __post_init__(self):
        parse_policy(self.policy)
        if not 0.0 <= self.probability <= 1.0:
            raise ConfigError(f"Augment.probability={self.probability} must be in [0, 1].")
        _check_adaptive(self.target, self.interval, self.ada_kimg)

    @property
    def enabled(self) -> bool:
        return bool(parse_policy(self.policy))

    @property
    def operations(self) -> tuple[str, ...]:
        return parse_policy(self.policy)

    def adaptive_probability(self, name: str = "augment") -> AdaptiveProbability | None:
        """The ADA state (create it inside the strategy scope, with the model), or None."""
        if not (self.enabled and self.adaptive):
            return None
        return AdaptiveProbability(self.target, self.interval, self.ada_kimg, initial=0.0,
                                   maximum=self.probability, name=name)

    def __call__(self, images, key, probability=None, *, replica_id=None, num_replicas=None):
        """`diff_augment` with these settings; `probability` overrides the fixed one (pass the
        adaptive p). Off: returns `images` itself."""
        if not self.enabled:
            return images
        p = self.probability if probability is None else probability
        return diff_augment(images, self.policy, key, p, replica_id=replica_id,
                            num_replicas=num_replicas, fill=self.fill)


def as_augment(value) -> Augment:
    """`GAN.augment`'s value as an `Augment`: None / "" (off), a policy string such as
    "color,translation,cutout" (the other fields from the `Augment.*` bindings), or an
    `@Augment()` instance."""
    if value is None:
        return Augment()
    if isinstance(value, Augment):
        return value
    if isinstance(value, str):
        return Augment(policy=value)
    raise ConfigError(f"GAN.augment={value!r}: expected a policy string such as "
                      f"'color,translation,cutout', '' (off) or @Augment().")
