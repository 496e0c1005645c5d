"""Fixtures of the GAN tests: a MirroredStrategy over the two logical CPU devices that
tests/conftest.py configures."""

import pytest
import tensorflow as tf

from ssgan_tf.common import distribute


@pytest.fixture(scope="module")
def strategy():
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    if len(devices) < 2:
        pytest.skip("needs 2 logical CPU devices (configured in conftest)")
    return distribute.make_strategy("mirrored")  # one per process (collective keys)
