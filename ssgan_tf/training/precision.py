"""The Keras dtype policy of a run (`train.precision`): float32, mixed bf16 / fp16, or `auto`,
which picks bf16 only where the hardware runs it natively."""

from __future__ import annotations

import keras
import tensorflow as tf
from absl import logging

from ssgan_tf.common.errors import ConfigError

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")


def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 matmul/conv (AVX-512 BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags_line = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return "avx512_bf16" in flags_line or "amx_bf16" in flags_line


def resolve_precision(precision: str) -> str:
    """`auto` -> bf16 on GPUs and bf16-capable CPUs, else float32; other names as given."""
    if precision not in PRECISIONS:
        raise ConfigError(f"train.precision={precision!r}: expected one of "
                          + ", ".join(repr(p) for p in PRECISIONS) + ".")
    native_bf16 = bool(tf.config.list_physical_devices("GPU")) or cpu_supports_bf16()
    if precision == "auto":
        return "mixed_bfloat16" if native_bf16 else "float32"
    if precision == "mixed_bfloat16" and not native_bf16:
        logging.warning(
            "train.precision='mixed_bfloat16' on a CPU without AVX-512 BF16 / AMX: oneDNN has no "
            "bf16 kernels there and TensorFlow falls back to Eigen's, which ran the ResNet-CIFAR "
            "step >15x slower than float32. Use train.precision='auto' or 'float32'.")
    return precision


def set_precision(precision: str) -> str:
    """Sets the Keras global dtype policy (see `resolve_precision`); returns the policy name."""
    precision = resolve_precision(precision)
    keras.mixed_precision.set_global_policy(precision)
    return precision
