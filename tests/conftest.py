"""Test set-up: two logical CPU devices (for MirroredStrategy tests) before TF initializes, a
clean gin config per test, and the location of the optional shared data."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import gin  # noqa: E402
import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import ssgan_tf  # noqa: E402,F401  first, so its TF settings (oneDNN) apply as for the CLIs

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

@pytest.fixture(autouse=True)
def _clean_state():
    gin.clear_config()
    keras.mixed_precision.set_global_policy("float32")
    yield
    gin.clear_config()
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session(free_memory=False)  # gc.collect() cost ~0.5 s per test
