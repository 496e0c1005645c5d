"""2x resampling as the reference does it (compare_gan `resnet_ops`): zero-insertion `unpool`,
2x2 `avg_pool`, and the fused forms a convolution uses (`conv_of_unpooled`, `pooled_conv`)."""

from __future__ import annotations

import tensorflow as tf


def unpool(x: tf.Tensor) -> tf.Tensor:
    """2x zero-insertion upsampling: each value at the top-left of its 2x2 cell (the reference's
    `unpool`, not nearest-neighbour)."""
    b, h, w, c = tf.unstack(tf.shape(x))
    x = tf.stack([x, tf.zeros_like(x)], axis=3)               # [b, h, w, 2, c]
    x = tf.reshape(x, tf.stack([b, h, 1, w * 2, c]))
    x = tf.concat([x, tf.zeros_like(x)], axis=2)              # [b, h, 2, 2w, c]
    return tf.reshape(x, tf.stack([b, h * 2, w * 2, c]))


def avg_pool(x: tf.Tensor) -> tf.Tensor:
    return tf.nn.avg_pool2d(x, 2, 2, "SAME")


def pooled_conv(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """avg_pool2d(conv2d(x, kernel, SAME), 2, 2, SAME) (no bias) for a 1x1 or 3x3 kernel.

    Averaging 2x2 outputs of a 3x3 convolution is one stride-2 convolution with the 4x4 kernel
    v[a, b] = mean of w[a - i, b - j] over i, j in {0, 1} (SAME padding adds the same row and
    column before): a quarter of the output positions, 16 taps instead of 4 x 9. A 1x1 conv
    commutes with the pooling. Maps of odd size (where SAME pooling pads) take the plain path."""
    if kernel.shape[0] == 1:
        return tf.nn.conv2d(avg_pool(x), kernel, 1, "SAME")
    if x.shape[1] is None or x.shape[2] is None or x.shape[1] % 2 or x.shape[2] % 2:
        return avg_pool(tf.nn.conv2d(x, kernel, 1, "SAME"))
    pad = lambda before_h, before_w: tf.pad(  # noqa: E731
        kernel, [[before_h, 1 - before_h], [before_w, 1 - before_w], [0, 0], [0, 0]])
    box = 0.25 * (pad(0, 0) + pad(1, 0) + pad(0, 1) + pad(1, 1))
    return tf.nn.conv2d(x, tf.cast(box, x.dtype), 2, "SAME")


def conv_of_unpooled(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """conv2d(unpool(x), kernel, SAME) (no bias) for a 1x1 or 3x3 kernel, skipping the zeros.

    unpool puts x[i, j] at (2i, 2j) of a zero map twice the size. A SAME 3x3 convolution of it is
    a stride-2 transposed convolution of x with the spatially flipped kernel, zero-padded to 4x4
    (output o reads x[i] through tap o - 2i + 1): 4 taps per output instead of 9, and no
    zero-filled map, in the forward and both backward passes. A 1x1 conv of the zero map is the
    zero map of the 1x1 conv. Equal up to float rounding; a test checks values and gradients."""
    if kernel.shape[0] == 1:
        return unpool(tf.nn.conv2d(x, kernel, 1, "SAME"))
    flipped = tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])  # [kh, kw, out, in]
    filters = tf.pad(flipped, [[0, 1], [0, 1], [0, 0], [0, 0]])
    n, h, w = x.shape[0], x.shape[1], x.shape[2]
    if None in (n, h, w):
        shape = tf.shape(x)
        n, h, w = shape[0], shape[1], shape[2]
    output_shape = tf.stack([n, 2 * h, 2 * w, kernel.shape[-1]])
    return tf.nn.conv2d_transpose(x, tf.cast(filters, x.dtype), output_shape, 2, padding="SAME")
