"""ssgan_tf: self-supervised GANs (SSGAN, S3GAN) for TensorFlow 2 / Keras 3."""

__version__ = "0.1.0"
