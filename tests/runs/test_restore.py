"""A trained model_dir rebuilds without its data: same weights, same outputs."""

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.runs.restore import load_gan, read_model_info
from tests.helpers.training import checkpoint_values, run


def test_load_gan_restores_the_trained_networks(tmp_path):
    run(tmp_path, 2)
    info = read_model_info(str(tmp_path))
    assert info["architecture"] == "sndcgan" and info["image_shape"] == [16, 16, 3]
    model, info = load_gan(str(tmp_path))
    assert info["step"] == 2
    saved = checkpoint_values(tmp_path)
    restored = {v.path.split("/", 1)[1]: v.numpy() for v in model.generator.weights}
    key = next(k for k in saved if "moving_mean" in k and k.startswith("generator/"))
    path = key.split("variables_by_path/")[1].split("/.ATTRIBUTES")[0].replace("..", "/")
    np.testing.assert_array_equal(restored[path], saved[key])
    images = model.generator(tf.zeros([2, 16]), training=False)
    assert images.shape == (2, 16, 16, 3)


def test_not_a_model_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an ssgan_tf model_dir"):
        load_gan(str(tmp_path))
