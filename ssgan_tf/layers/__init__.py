"""Layers with the reference's semantics: spectral norm and generator normalizations."""

from ssgan_tf.layers.normalization import NORMALIZATIONS, BatchNorm
from ssgan_tf.layers.spectral_norm import Conv2D, Conv2DTranspose, Dense, spectral_normalize

__all__ = ["NORMALIZATIONS", "BatchNorm", "Conv2D", "Conv2DTranspose", "Dense",
           "spectral_normalize"]
