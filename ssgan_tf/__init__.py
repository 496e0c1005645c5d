"""ssgan_tf: self-supervised GANs (SSGAN, S3GAN) for TensorFlow 2 / Keras 3.

Layers flow one way: layers -> architectures -> gans -> runs -> training / evaluation / export
-> pipelines / experiments / perf -> the command-line tools at this package's root (docs/
architecture.md).
"""

import os

from ssgan_tf.common import aliases

# TensorFlow turns its oneDNN CPU kernels on only for CPUs with AVX-512 VNNI / BF16 or AMX; on
# AVX2 CPUs (e.g. AMD EPYC Zen 3) it falls back to Eigen, which ran the ResNet-CIFAR SSGAN step
# 1.5x slower in fp32 (15.3 vs 10.2 s/step, `python -m ssgan_tf.benchmark`). TF reads the switch
# when it is first imported, so it only takes effect when ssgan_tf is imported before tensorflow
# (always true for `python -m ssgan_tf.<cli>`); TF_ENABLE_ONEDNN_OPTS=0 keeps Eigen.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
aliases.install()

__version__ = "0.1.0"
