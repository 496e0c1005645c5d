"""Normalization layers against numpy: batch norm (moving averages), conditional BN, sBN,
cross-replica BN, virtual BN (reference batch), layer norm; and the self-attention block."""

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.architectures import get_architecture
from ssgan_tf.common import distribute
from ssgan_tf.gans import GAN, RotationTask
from ssgan_tf.layers.attention import NonLocalBlock
from ssgan_tf.layers.normalization import LAYER_NORM_EPSILON, BatchNorm, virtual_batch_standardize
from ssgan_tf.runs.checkpoints import VariableMap

EPS = 1e-5


def _np_standardize(x, axes, eps=EPS):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def _x(shape, seed=0):
    return np.random.RandomState(seed).normal(1.0, 2.0, shape).astype(np.float32)


def test_batch_norm_train_and_moving_averages():
    x = _x([6, 4, 4, 3])
    bn = BatchNorm("batch_norm")
    out = bn(x, training=True).numpy()
    np.testing.assert_allclose(out, _np_standardize(x, (0, 1, 2)), atol=1e-4)
    # Reference decay 0.9, no zero-debias: moving = 0.9 * init + 0.1 * batch moment.
    moving_mean = bn.standardize.bn.moving_mean.numpy()
    moving_var = bn.standardize.bn.moving_variance.numpy()
    np.testing.assert_allclose(moving_mean, 0.1 * x.mean(axis=(0, 1, 2)), rtol=1e-4)
    # The batch variance is the biased one, as the reference's tf.nn.normalize_moments.
    np.testing.assert_allclose(moving_var, 0.9 + 0.1 * x.var(axis=(0, 1, 2)), rtol=1e-4)
    inference = bn(x, training=False).numpy()
    np.testing.assert_allclose(inference, (x - moving_mean) / np.sqrt(moving_var + EPS),
                               atol=1e-4)
    assert {w.name for w in bn.trainable_weights} == {"gamma", "beta"}


def _ops_of(fn, *args) -> set:
    return {op.type for op in tf.function(fn).get_concrete_function(*args).graph.get_operations()}


@pytest.mark.parametrize("kind,shape", [("batch_norm", [6, 4, 4, 3]), ("batch_norm", [10, 3]),
                                        ("conditional_batch_norm", [6, 4, 4, 3])])
def test_fused_training_path_equals_keras_path(kind, shape, monkeypatch):
    """Training-mode BN runs the fused kernel; it must equal Keras' moments path: outputs, every
    gradient and the moving averages (biased variance), over two updates."""
    x = tf.constant(_x(shape))
    y = tf.one_hot([0, 1, 2, 0, 1, 2][:shape[0]] + [0] * max(0, shape[0] - 6), 3)
    fused, plain = BatchNorm(kind), BatchNorm(kind)
    for layer in (fused, plain):
        layer(x, y=y, training=False)  # builds
    plain.set_weights(fused.get_weights())
    for layer in (fused, plain):  # non-trivial gamma/beta
        for w in layer.trainable_weights:
            w.assign(w + 0.3 * tf.random.stateless_normal(w.shape, [1, 2]))
    plain.set_weights(fused.get_weights())
    monkeypatch.setattr(plain.standardize, "_fusable", lambda x: False)
    assert "FusedBatchNormV3" in _ops_of(lambda t: fused(t, y=y, training=True), x)
    assert "FusedBatchNormV3" not in _ops_of(lambda t: plain(t, y=y, training=True), x)
    upstream = tf.constant(_x(shape, seed=3))
    for _ in range(2):
        results = []
        for layer in (fused, plain):
            with tf.GradientTape() as tape:
                tape.watch(x)
                out = layer(x, y=y, training=True)
                loss = tf.reduce_sum(out * upstream)
            grads = tape.gradient(loss, [x] + layer.trainable_weights)
            results.append([out] + grads)
        for a, b in zip(*results):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fused.standardize.bn.moving_mean.numpy(),
                               plain.standardize.bn.moving_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(fused.standardize.bn.moving_variance.numpy(),
                               plain.standardize.bn.moving_variance.numpy(), rtol=1e-5)
    axes = tuple(range(len(shape) - 1))
    expected_var = 0.81 + 0.19 * x.numpy().var(axis=axes)  # two updates, biased variance
    np.testing.assert_allclose(fused.standardize.bn.moving_variance.numpy(), expected_var,
                               rtol=1e-4)


def test_fused_batch_norm_in_bfloat16_is_close_to_float32():
    x = _x([8, 4, 4, 16])
    layer = BatchNorm("batch_norm", dtype="mixed_bfloat16")
    layer(tf.constant(x, tf.bfloat16), training=False)
    out = layer(tf.constant(x, tf.bfloat16), training=True)
    assert out.dtype == tf.bfloat16
    np.testing.assert_allclose(tf.cast(out, tf.float32).numpy(), _np_standardize(x, (0, 1, 2)),
                               atol=0.05)


def test_conditional_batch_norm_against_numpy():
    x, y = _x([5, 3, 3, 4]), np.eye(3, dtype=np.float32)[[0, 1, 2, 1, 0]]
    bn = BatchNorm("conditional_batch_norm")
    out = bn(x, y=y, training=True).numpy()
    wg, wb = bn.gamma_fc.kernel.numpy(), bn.beta_fc.kernel.numpy()
    assert bn.gamma_fc.bias is None and wg.shape == (3, 4)  # no bias, no "1+"
    expected = _np_standardize(x, (0, 1, 2)) * (y @ wg)[:, None, None] + (y @ wb)[:, None, None]
    np.testing.assert_allclose(out, expected, atol=1e-5)
    with pytest.raises(ValueError, match="conditional_batch_norm needs class labels"):
        BatchNorm("conditional_batch_norm")(x, training=True)


def test_conditional_batch_norm_gain_offset_from_gin():
    """`conditional_batch_norm.gain_offset = 1`: gains start at 1 (BigGAN-style), not at 0."""
    import gin

    x, y = _x([5, 3, 3, 4]), np.eye(3, dtype=np.float32)[[0, 1, 2, 1, 0]]
    with gin.unlock_config():
        gin.bind_parameter("conditional_batch_norm.gain_offset", 1.0)
    bn = BatchNorm("conditional_batch_norm")
    out = bn(x, y=y, training=True).numpy()
    wg, wb = bn.gamma_fc.kernel.numpy(), bn.beta_fc.kernel.numpy()
    expected = (_np_standardize(x, (0, 1, 2)) * (1.0 + y @ wg)[:, None, None]
                + (y @ wb)[:, None, None])
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_self_modulated_batch_norm_against_numpy():
    x, z = _x([4, 2, 2, 5]), _x([4, 7], seed=1)
    bn = BatchNorm("self_modulated_batch_norm", sbn_hidden=32)
    out = bn(x, z=z, training=True).numpy()
    h = np.maximum(z @ bn.hidden_fc.kernel.numpy() + bn.hidden_fc.bias.numpy(), 0)
    assert h.shape == (4, 32)
    gamma = 1.0 + h @ bn.gamma_fc.kernel.numpy() + bn.gamma_fc.bias.numpy()
    beta = h @ bn.beta_fc.kernel.numpy() + bn.beta_fc.bias.numpy()
    expected = _np_standardize(x, (0, 1, 2)) * gamma[:, None, None] + beta[:, None, None]
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_cross_replica_batch_norm_uses_global_moments():
    strategy = distribute.make_strategy("mirrored")  # 2 logical CPUs (conftest)
    x = _x([8, 2, 2, 3])
    with strategy.scope():
        bn = BatchNorm("batch_norm", cross_replica=True)
        bn.build(x.shape)
    dist = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(x).batch(8))

    @tf.function
    def run(batch):
        return strategy.run(lambda b: bn(b, training=True), args=(batch,))

    out = run(next(iter(dist)))
    parts = [t.numpy() for t in strategy.experimental_local_results(out)]
    assert [p.shape[0] for p in parts] == [4, 4]
    np.testing.assert_allclose(np.concatenate(parts), _np_standardize(x, (0, 1, 2)), atol=1e-4)


def _np_virtual_bn(x, n, eps=EPS):
    """Example i >= n: moments of concat(reference, [x_i]) over batch and space, the example
    weighing as one image; reference rows: the reference moments."""
    ref = x[:n]
    out = np.empty_like(x)
    out[:n] = _np_standardize(ref, tuple(range(ref.ndim - 1)), eps)
    for i in range(n, len(x)):
        virtual = np.concatenate([ref, x[i:i + 1]])
        mean = virtual.mean(axis=tuple(range(x.ndim - 1)))
        var = virtual.var(axis=tuple(range(x.ndim - 1)))
        out[i] = (x[i] - mean) / np.sqrt(var + eps)
    return out


@pytest.mark.parametrize("shape", [[7, 3, 3, 4], [7, 5]])
def test_virtual_batch_norm_against_numpy(shape):
    x = _x(shape)
    out = virtual_batch_standardize(tf.constant(x), 4, EPS).numpy()
    np.testing.assert_allclose(out, _np_virtual_bn(x, 4), atol=1e-4)
    # Each example is normalized independently of the other (non-reference) examples.
    shuffled = np.concatenate([x[:4], x[4:][::-1]])
    out2 = virtual_batch_standardize(tf.constant(shuffled), 4, EPS).numpy()
    np.testing.assert_allclose(out2[4:], out[4:][::-1], atol=1e-5)


def test_virtual_batch_norm_layer_needs_a_reference():
    bn = BatchNorm("virtual_batch_norm")
    with pytest.raises(ValueError, match="reference batch"):
        bn(_x([4, 2, 2, 3]), training=True)
    bn.reference_size = 2
    out = bn(_x([4, 2, 2, 3]), training=True).numpy()
    np.testing.assert_allclose(out, _np_virtual_bn(_x([4, 2, 2, 3]), 2), atol=1e-4)


def test_layer_norm_against_numpy():
    x = _x([3, 4, 4, 5])
    bn = BatchNorm("layer_norm")
    bn.build(x.shape)
    bn.gamma.assign(np.arange(1, 6, dtype=np.float32))
    bn.beta.assign(np.full(5, 0.5, np.float32))
    out = bn(x, training=True).numpy()
    expected = _np_standardize(x, (1, 2, 3), LAYER_NORM_EPSILON) * np.arange(1, 6) + 0.5
    np.testing.assert_allclose(out, expected, atol=1e-4)
    np.testing.assert_allclose(bn(x[:1], training=False).numpy(), out[:1], atol=1e-5)


def test_unknown_normalization():
    with pytest.raises(ValueError, match="Unknown normalization 'group_norm'"):
        BatchNorm("group_norm")


def _vbn_generator(reference_size=6):
    generator_cls, _ = get_architecture("sndcgan")
    g = generator_cls((16, 16, 3), z_dim=8, ch=4, norm="virtual_batch_norm")
    g.vbn_reference_size = reference_size
    return g


def test_generator_with_virtual_batch_norm_is_batch_independent():
    g = _vbn_generator()
    z = tf.random.stateless_uniform([5, 8], [1, 2], -1, 1)
    out = g(z, training=True).numpy()
    assert out.shape == (5, 16, 16, 3)
    # An example's image depends on the fixed reference batch and itself only...
    np.testing.assert_allclose(g(z[:2], training=True).numpy(), out[:2], atol=1e-5)
    np.testing.assert_allclose(g(z[::-1], training=True).numpy(), out[::-1], atol=1e-5)
    # ... and training and inference compute the same function (no moving averages).
    np.testing.assert_allclose(g(z, training=False).numpy(), out, atol=1e-5)
    ref = g.vbn_reference_z
    assert tuple(ref.shape) == (6, 8) and not ref.trainable
    assert "vbn_reference_z" in " ".join(VariableMap(g).variables_by_path)  # checkpointed
    # The reference batch is explicit: replacing it changes the outputs.
    g.set_reference_batch(tf.random.stateless_normal([6, 8], [3, 4]))
    assert not np.allclose(g(z, training=True).numpy(), out, atol=1e-3)
    with pytest.raises(ValueError, match="reference batch has shape"):
        g.set_reference_batch(tf.zeros([3, 8]))


def test_virtual_batch_norm_reference_is_set_before_the_first_call():
    g = _vbn_generator()
    z_ref = tf.random.stateless_normal([4, 8], [5, 6])
    g.set_reference_batch(z_ref)  # before building: fixes N = 4
    z = tf.random.stateless_uniform([3, 8], [7, 8], -1, 1)
    out = g(z, training=True)
    np.testing.assert_allclose(g.vbn_reference_z.numpy(), z_ref.numpy())
    # Same as running the reference batch in front of z by hand.
    for layer in g.virtual_batch_norm_layers():
        assert layer.reference_size == 4
    manual = g.generate(tf.concat([z_ref, z], 0), None, True)[4:]
    np.testing.assert_allclose(out.numpy(), manual.numpy(), atol=1e-5)


def test_gan_trains_with_virtual_batch_norm_generator():
    _, discriminator_cls = get_architecture("sndcgan")
    g = _vbn_generator(reference_size=4)
    d = discriminator_cls((16, 16, 3), ch=4)
    model = GAN(g, d, self_supervision=RotationTask(rotated_batch_size=8))
    model.build_all(8)
    ref_before = g.vbn_reference_z.numpy().copy()
    step = tf.function(model.train_step)
    logs = step({"images": tf.random.stateless_uniform([8, 16, 16, 3], [0, 1])})
    assert all(np.isfinite(float(v)) for v in logs.values())
    np.testing.assert_array_equal(g.vbn_reference_z.numpy(), ref_before)  # never trained
    assert all(v is not g.vbn_reference_z for v in g.trainable_variables)


def test_non_local_block():
    x = _x([2, 4, 4, 16])
    block = NonLocalBlock(name="attention")
    np.testing.assert_allclose(block(x).numpy(), x)  # sigma starts at 0: identity
    c = 16
    assert sum(int(np.prod(w.shape)) for w in block.trainable_weights) == (
        2 * c * (c // 8) + 2 * c * (c // 2) + 1)
    assert all("bias" not in w.name for w in block.weights)
    block.sigma.assign(0.7)
    out = block(x).numpy()
    k = {name: getattr(block, name).kernel.numpy()[0, 0]
         for name in ("theta", "phi", "g", "attn_out")}

    def pool(t):  # 2x2 max pool, VALID
        return t.reshape(2, 2, 2, 2, 2, -1).max(axis=(2, 4)).reshape(2, 4, -1)

    theta = (x @ k["theta"]).reshape(2, 16, -1)
    phi, g = pool(x @ k["phi"]), pool(x @ k["g"])
    logits = theta @ phi.transpose(0, 2, 1)
    attn = np.exp(logits - logits.max(-1, keepdims=True))
    attn /= attn.sum(-1, keepdims=True)
    expected = x + 0.7 * ((attn @ g) @ k["attn_out"]).reshape(x.shape)
    np.testing.assert_allclose(out, expected, atol=1e-4)
