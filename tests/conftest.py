"""Test set-up: two logical CPU devices (for MirroredStrategy tests) before TF initializes, a
clean gin config per test, and the location of the optional shared data."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import ssgan_tf  # noqa: E402,F401,I001  before TF: its TF settings (oneDNN) apply as for the CLIs
import gin  # noqa: E402
import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)


@pytest.fixture(autouse=True, scope="module")
def _collect_once_per_test_file():
    """Python's full garbage collections scan every live object, and a test process keeps many
    (TensorFlow's traced graphs, Keras' registries): late in a run one automatic collection took
    100 s. After each test file, collect its garbage once, then freeze what survives, so later
    collections (automatic or this one) scan only what later files allocate."""
    yield
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _clean_state():
    gin.clear_config()
    keras.mixed_precision.set_global_policy("float32")
    yield
    gin.clear_config()
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session(free_memory=False)  # gc.collect() cost ~0.5 s per test
