"""One variable-key scheme: checkpoints (VariableMap), the trick state (EMA, snapshot,
historical averages) and the export copy all key a weight by `common.variables.variable_key`,
which is the key checkpoints have always stored ("generator/block1/conv1/kernel" ->
"block1.conv1.kernel")."""

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.common.variables import variable_key, variables_by_key
from ssgan_tf.export.api import _copy_weights
from ssgan_tf.runs.checkpoints import VariableMap
from tests.helpers import tiny_gan


def test_key_is_the_path_inside_the_model_with_dots():
    model = tiny_gan(batch=2)
    for v in model.generator.weights:
        assert variable_key(v) == v.path.split("/", 1)[1].replace("/", ".")
    assert variable_key(model.generator.fc.kernel) == "fc.kernel"


def test_checkpoint_trick_and_export_keys_agree():
    model = tiny_gan(batch=2, g_ema_decay=0.5, swap_every=2, historical_weight_g=1.0)
    keys = set(VariableMap(model.generator).variables_by_path)
    trainable = {variable_key(v) for v in model.generator.trainable_variables}
    extras = model.checkpoint_extras()
    assert set(extras["ema_generator"].variables_by_path) == trainable
    assert set(extras["swap_generator"].variables_by_path) == keys
    assert set(extras["g_history"].variables_by_path) == trainable
    # The export copy maps the EMA generator's weights onto a fresh G by the same keys.
    copy = tiny_gan(batch=2).generator
    _copy_weights(copy, model.ema_generator)
    z = tf.random.stateless_uniform([2, 16], [1, 1], -1.0, 1.0)
    np.testing.assert_allclose(copy(z, training=False).numpy(),
                               model.ema_generator(z).numpy(), rtol=1e-6, atol=1e-6)


def test_duplicate_keys_are_refused():
    model = tiny_gan(batch=2)
    kernel = model.generator.fc.kernel
    with pytest.raises(ValueError, match="not unique"):
        variables_by_key([kernel, kernel], "generator")
