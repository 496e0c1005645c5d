"""The paper-scale families (dcgan, resnet_stl, resnet5, resnet_biggan, resnet_biggan_deep):
parameter counts against the reference, layer order quirks, conditioning, initialization.

Parameter counts are computed by hand below from the layer tables of the reference (compare_gan
`architectures/*.py`); the formulas are first checked against the counts compare_gan publishes
(BigGAN 128/256/512, BigGAN-deep 128), then every model is checked against its formula. The
rotation head (4F + 4) is ours (SSGAN's head lives in D); the reference's D counts exclude it.
"""

from pathlib import Path

import gin
import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.architectures import ARCHITECTURES, get_architecture, resnet_biggan
from ssgan_tf.common.configs import parse_gin
from ssgan_tf.gans import GAN, RotationTask
from ssgan_tf.gans.losses import hinge
from ssgan_tf.training import trainer  # noqa: F401  registers the `train.*` gin bindings

GIN_DIR = Path(__file__).resolve().parents[2] / "gin"

NEW_FAMILIES = ("dcgan", "resnet_stl", "resnet5", "resnet_biggan", "resnet_biggan_deep")


# ------------------------------------------------------------------------ counting by hand
def conv(k, cin, cout, bias=True):
    return k * k * cin * cout + (cout if bias else 0)


def dense(cin, cout, bias=True):
    return cin * cout + (cout if bias else 0)


def attention(c):
    return 2 * c * (c // 8) + 2 * c * (c // 2) + 1


def norm(c, kind, cond=0, z=0):
    """Trainable parameters of one normalization of c channels."""
    if kind in ("batch_norm", "virtual_batch_norm", "layer_norm"):
        return 2 * c
    if kind == "conditional_batch_norm":
        return 2 * cond * c                       # two linear maps, no bias
    if kind == "self_modulated_batch_norm":
        return dense(z, 32) + 2 * dense(32, c)    # 32-unit hidden layer, biases
    return 0


def heads(features, classes=0, project=False, rotation=True):
    return dense(features, 1) + (dense(features, 4) if rotation else 0) + (
        classes * features if project else 0)


def resblock(cin, cout, kind="none", z=0, classes=0):
    """The shared pre-activation block (3x3 conv shortcut); G norms see z / one-hot y."""
    return (norm(cin, kind, classes, z) + conv(3, cin, cout) + norm(cout, kind, classes, z)
            + conv(3, cout, cout) + conv(3, cin, cout))


def sndcgan_g(s, z, ch, c=3):
    return (dense(z, (s // 8) ** 2 * 8 * ch) + norm(8 * ch, "batch_norm")
            + sum(conv(4, 2 * m * ch, m * ch) + norm(m * ch, "batch_norm") for m in (2, 1))
            + conv(4, 8 * ch, 4 * ch) + norm(4 * ch, "batch_norm") + conv(3, ch, c))


def sndcgan_d(s, ch, c=3):
    layers = [(3, c, ch), (4, ch, 2 * ch), (3, 2 * ch, 2 * ch), (4, 2 * ch, 4 * ch),
              (3, 4 * ch, 4 * ch), (4, 4 * ch, 8 * ch), (3, 8 * ch, 8 * ch)]
    return sum(conv(*layer) for layer in layers) + heads((s // 8) ** 2 * 8 * ch)


def resnet_cifar_g(s, z, ch, c=3):
    blocks = int(np.log2(s // 4))
    return (dense(z, 16 * ch) + blocks * resblock(ch, ch, "batch_norm")
            + norm(ch, "batch_norm") + conv(3, ch, c))


def resnet_cifar_d(ch, c=3):
    return resblock(c, ch) + 3 * resblock(ch, ch) + heads(ch)


def dcgan_g(s, z, ch, c=3):
    p = dense(z, (s // 16) ** 2 * 8 * ch) + norm(8 * ch, "batch_norm")
    for cin, cout in ((8, 4), (4, 2), (2, 1)):
        p += conv(5, cin * ch, cout * ch) + norm(cout * ch, "batch_norm")
    return p + conv(5, ch, c)


def dcgan_d(s, ch, c=3, kind="none"):
    return (conv(5, c, ch) + sum(conv(5, m * ch, 2 * m * ch) + norm(2 * m * ch, kind)
                                 for m in (1, 2, 4)) + heads((s // 16) ** 2 * 8 * ch))


def resnet_stl_g(s, z, ch, c=3):
    return (dense(z, (s // 8) ** 2 * 8 * ch) + resblock(8 * ch, 4 * ch, "batch_norm")
            + resblock(4 * ch, 2 * ch, "batch_norm") + resblock(2 * ch, ch, "batch_norm")
            + norm(ch, "batch_norm") + conv(3, ch, c))


def resnet_stl_d(ch, c=3):
    widths = [c, ch, 2 * ch, 4 * ch, 8 * ch, 16 * ch]
    return sum(resblock(a, b) for a, b in zip(widths, widths[1:])) + heads(16 * ch)


def resnet5_g(z, ch, c=3, kind="batch_norm"):
    widths = [ch * m for m in (8, 8, 4, 4, 2, 1)]
    return (dense(z, 16 * 8 * ch) + sum(resblock(a, b, kind, z) for a, b in
                                        zip(widths, widths[1:]))
            + norm(ch, kind, z=z) + conv(3, ch, c))


def resnet5_d(ch, c=3):
    widths = [c] + [ch * m for m in (1, 2, 4, 4, 8, 8)]
    return sum(resblock(a, b) for a, b in zip(widths, widths[1:])) + heads(8 * ch)


def biggan_g(s, z, ch, classes=0, kind=None, c=3, attention_at=None):
    mult = resnet_biggan.G_MULTIPLIERS[s]
    ins, outs = [ch * m for m in mult[:-1]], [ch * m for m in mult[1:]]
    kind = kind or ("conditional_batch_norm" if classes else "self_modulated_batch_norm")
    chunk = z // (len(outs) + 1)
    assert chunk * (len(outs) + 1) == z, "use a z_dim that the blocks split evenly"
    cond = chunk + (128 if classes else 0)
    p = (dense(classes, 128, bias=False) if classes else 0) + dense(chunk, 16 * ins[0])
    for i, (a, b) in enumerate(zip(ins, outs)):
        p += (norm(a, kind, cond, chunk) + conv(3, a, b) + norm(b, kind, cond, chunk)
              + conv(3, b, b) + conv(1, a, b))
        if i + 1 == attention_at:
            p += attention(b)
    return p + norm(outs[-1], "batch_norm") + conv(3, outs[-1], c)


def biggan_d(s, ch, classes=0, c=3, attention_at=None, rotation=True):
    outs = [ch * m for m in resnet_biggan.D_MULTIPLIERS[s]]
    ins = [c] + outs[:-1]
    p = 0
    for i, (a, b) in enumerate(zip(ins, outs)):
        p += conv(3, a, b) + conv(3, b, b) + (conv(1, a, b) if a != b else 0)  # the quirk
        if i + 1 == attention_at:
            p += attention(b)
    return p + heads(outs[-1], classes, project=classes > 0, rotation=rotation)


def deep_g(s, z, ch, classes=0, kind=None, c=3):
    from ssgan_tf.architectures.resnet_biggan_deep import G_MULTIPLIERS
    mult = G_MULTIPLIERS[s]
    kind = kind or ("conditional_batch_norm" if classes else "self_modulated_batch_norm")
    cond = z + (128 if classes else 0)
    p = (dense(classes, 128, bias=False) if classes else 0) + dense(cond, 16 * ch * mult[0])
    res = 4
    for i, (a, b) in enumerate(zip(mult[:-1], mult[1:])):
        a, b = a * ch, b * ch
        n = max(a, b) // 4
        p += (norm(a, kind, cond, cond) + conv(1, a, n) + 2 * (norm(n, kind, cond, cond)
              + conv(3, n, n)) + norm(n, kind, cond, cond) + conv(1, n, b))
        if i % 2:
            res *= 2
            p += attention(b) if res == 64 else 0
    return p + norm(ch * mult[-1], "batch_norm") + conv(3, ch * mult[-1], c)


def deep_d(s, ch, classes=0, c=3, rotation=True):
    from ssgan_tf.architectures.resnet_biggan_deep import D_MULTIPLIERS
    mult = D_MULTIPLIERS[s]
    p = conv(3, c, ch * mult[0])
    res = s
    for i, (a, b) in enumerate(zip(mult[:-1], mult[1:])):
        a, b = a * ch, b * ch
        n = max(a, b) // 4
        p += conv(1, a, n) + 2 * conv(3, n, n) + conv(1, n, b) + (conv(1, a, b - a) if b > a
                                                                  else 0)
        if i % 2 == 0:
            res //= 2
        elif res == 64:
            p += attention(b)
    return p + heads(ch * mult[-1], classes, project=classes > 0, rotation=rotation)


# The reference's own numbers (compare_gan resnet_biggan.py docstring / *_test.py): the formulas
# above reproduce them exactly, so they encode the reference's layer tables.
@pytest.mark.parametrize("res,z,g_attn,d_attn,g_ref,d_ref", [
    (128, 120, 4, 1, 70_433_988, 87_982_370),
    (256, 140, 5, 2, 82_097_604, 98_635_298),
    (512, 160, 4, 3, 82_468_068, 98_801_378)])
def test_biggan_formula_reproduces_the_reference_counts(res, z, g_attn, d_attn, g_ref, d_ref):
    assert biggan_g(res, z, 96, 1000, attention_at=g_attn) == g_ref
    assert biggan_d(res, 96, 1000, attention_at=d_attn, rotation=False) == d_ref


def test_biggan_deep_formula_reproduces_the_reference_counts():
    assert deep_g(128, 128, 128, 1000) == 50_244_484
    assert deep_d(128, 128, 1000, rotation=False) == 34_590_210


# ------------------------------------------------------------------------ models vs formulas
def count(model) -> int:
    return int(sum(np.prod(v.shape) for v in model.trainable_weights))


def build(family, res, z_dim=16, classes=0, channels=3, g_kwargs=None, d_kwargs=None,
          batch=1):
    generator_cls, discriminator_cls = get_architecture(family)
    g = generator_cls((res, res, channels), z_dim=z_dim, num_classes=classes,
                      **(g_kwargs or {}))
    d = discriminator_cls((res, res, channels), num_classes=classes, **(d_kwargs or {}))
    y = tf.zeros([batch], tf.int32) if classes else None
    images = g(tf.random.stateless_uniform([batch, z_dim], [0, 1], -1, 1), y, training=True)
    out = d(images, y, training=True)
    return g, d, images, out


SMALL = [  # family, res, z, ch, classes, G formula, D formula, D blocks
    ("sndcgan", 32, 16, 8, 0, lambda: sndcgan_g(32, 16, 8), lambda: sndcgan_d(32, 8), 4),
    ("resnet_cifar", 32, 16, 8, 0, lambda: resnet_cifar_g(32, 16, 8), lambda: resnet_cifar_d(8),
     4),
    ("dcgan", 64, 16, 8, 0, lambda: dcgan_g(64, 16, 8), lambda: dcgan_d(64, 8), 4),
    ("resnet_stl", 48, 16, 8, 0, lambda: resnet_stl_g(48, 16, 8), lambda: resnet_stl_d(8), 5),
    ("resnet5", 128, 16, 4, 0, lambda: resnet5_g(16, 4), lambda: resnet5_d(4), 6),
    ("resnet_biggan", 128, 24, 8, 10, lambda: biggan_g(128, 24, 8, 10, attention_at=4),
     lambda: biggan_d(128, 8, 10, attention_at=1), 6),
    ("resnet_biggan", 32, 16, 8, 0, lambda: biggan_g(32, 16, 8),
     lambda: biggan_d(32, 8, 0, 3, attention_at=1), 4),
    ("resnet_biggan_deep", 32, 16, 8, 10, lambda: deep_g(32, 16, 8, 10),
     lambda: deep_d(32, 8, 10), 7),
]


def count_ids(entries):
    return [f"{s[0]}-{s[1]}px-{'cond' if s[4] else 'uncond'}" for s in entries]


@pytest.mark.parametrize("family,res,z,ch,classes,g_formula,d_formula,num_blocks", SMALL,
                         ids=count_ids(SMALL))
def test_parameter_count_matches_the_layer_table(family, res, z, ch, classes, g_formula,
                                                 d_formula, num_blocks):
    """Also the architecture contract: shapes, [0, 1] images, per-block features, names."""
    kwargs = {"ch": ch}
    if family.startswith("resnet_biggan"):
        kwargs["initializer"] = "normal"  # the count does not depend on it; orthogonal is slow
    g, d, images, out = build(family, res, z, classes, g_kwargs=kwargs, d_kwargs=kwargs,
                              batch=2)
    assert count(g) == g_formula()
    assert count(d) == d_formula()
    assert images.shape == (2, res, res, 3) and images.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(images)) <= float(tf.reduce_max(images)) <= 1.0
    assert out["logits"].shape == (2,) and out["rotation_logits"].shape == (2, 4)
    assert out["features"].shape == (2, d.feature_dim)
    assert sorted(k for k in out if k.startswith("block")) == [
        f"block{i + 1}" for i in range(num_blocks)]
    paths = [v.path for v in g.weights + d.weights]
    assert len(set(paths)) == len(paths)  # explicit, unique names (checkpoints key by path)


# Reference widths. Each builds a model with a forward pass at batch 1.
PAPER = [
    ("sndcgan", 128, lambda: sndcgan_g(128, 128, 64), lambda: sndcgan_d(128, 64)),
    ("resnet_cifar", 32, lambda: resnet_cifar_g(32, 128, 256), lambda: resnet_cifar_d(128)),
    ("dcgan", 64, lambda: dcgan_g(64, 128, 64), lambda: dcgan_d(64, 64)),
    ("resnet_stl", 48, lambda: resnet_stl_g(48, 128, 64), lambda: resnet_stl_d(64)),
    ("resnet5", 128, lambda: resnet5_g(128, 64), lambda: resnet5_d(64)),
]


@pytest.mark.slow
@pytest.mark.parametrize("family,res,g_formula,d_formula", PAPER, ids=[p[0] for p in PAPER])
def test_parameter_count_at_the_reference_width(family, res, g_formula, d_formula):
    g, d, _, _ = build(family, res, z_dim=128)
    assert count(g) == g_formula()
    assert count(d) == d_formula()


@pytest.mark.parametrize("family,z,g_ref,d_ref", [
    ("resnet_biggan", 120, 70_433_988, 87_982_370),
    ("resnet_biggan_deep", 128, 50_244_484, 34_590_210)])
def test_biggan_parameter_count_equals_the_reference(family, z, g_ref, d_ref):
    """128x128, 1000 classes, conditional BN, projection: compare_gan's published counts.
    (~2 GB of weights; about 5 s and 10 s on 2 cores, N(0, 0.02) init as orthogonal init of the
    large kernels alone takes over a minute.)"""
    kwargs = {"initializer": "normal"}
    g, d, _, out = build(family, 128, z, 1000, g_kwargs=kwargs, d_kwargs=kwargs)
    assert out["features"].shape == (1, 1536 if family == "resnet_biggan" else 2048)
    assert count(g) == g_ref
    assert count(d) - (4 * d.feature_dim + 4) == d_ref  # minus our rotation head


# ------------------------------------------------------------------------ contract
def test_families_are_registered():
    assert set(NEW_FAMILIES) <= set(ARCHITECTURES)


@pytest.mark.parametrize("family,size", [("dcgan", 40), ("resnet5", 48), ("resnet_biggan", 96),
                                         ("resnet_biggan_deep", 24), ("resnet_stl", 12)])
def test_unsupported_resolution(family, size):
    generator_cls, _ = get_architecture(family)
    with pytest.raises(ValueError, match=f"{family}: resolution {size}"):
        generator_cls((size, size, 3))


# ------------------------------------------------------------------------ BigGAN details
def test_biggan_hierarchical_z_and_conditional_bn_inputs():
    g, _, _, _ = build("resnet_biggan", 32, z_dim=20, classes=10,
                       g_kwargs={"ch": 8, "initializer": "normal"},
                       d_kwargs={"ch": 8, "initializer": "normal"})
    assert g.z_sizes == [5] * 4  # seed + 3 blocks (at 128 px: 120 -> 6 x 20)
    assert g.fc_noise.kernel.shape == (5, 4 * 4 * 4 * 8)
    bn = g.blocks[0].bn1
    assert bn.kind == "conditional_batch_norm"
    assert bn.gamma_fc.kernel.shape == (133, 4 * 8)  # 5 (z chunk) + 128 (embed_y)
    assert g.embed_y.kernel.shape == (10, 128) and g.embed_y.bias is None
    assert not hasattr(g.embed_y, "sn_u")   # embed_y: no spectral norm ...
    assert hasattr(g.fc_noise, "sn_u")      # ... the rest of G has it (the reference config)
    assert g.final_bn.kind == "batch_norm"  # unconditional tail
    # A z that the blocks do not split evenly: as equal as possible (the reference would raise).
    generator_cls, _ = get_architecture("resnet_biggan")
    assert generator_cls((32, 32, 3), z_dim=17, ch=8).z_sizes == [5, 4, 4, 4]


def test_biggan_unconditional_uses_sbn_from_the_z_chunks():
    generator_cls, _ = get_architecture("resnet_biggan")
    g = generator_cls((32, 32, 3), z_dim=16, ch=8, initializer="normal")
    g(tf.zeros([2, 16]), training=True)
    assert g.norm == "self_modulated_batch_norm" and g.embed_y is None
    assert g.blocks[0].bn1.hidden_fc.kernel.shape == (4, 32)  # its 4-dim chunk of z
    # Block i only sees chunk i + 1: changing the last chunk leaves the fc seed unchanged but
    # changes the image.
    z = tf.random.stateless_uniform([2, 16], [1, 1], -1, 1)
    z2 = tf.concat([z[:, :12], -z[:, 12:]], axis=1)
    np.testing.assert_allclose(g.fc_noise(z[:, :4]).numpy(), g.fc_noise(z2[:, :4]).numpy())
    assert not np.allclose(g(z, training=False).numpy(), g(z2, training=False).numpy())
    with pytest.raises(ValueError, match="needs a conditional model"):
        generator_cls((32, 32, 3), z_dim=16, ch=8, norm="conditional_batch_norm")


def test_biggan_attention_placement():
    generator_cls, discriminator_cls = get_architecture("resnet_biggan")
    for res, g_name, d_name in [(128, "attention_b4", "attention_b1"),
                                (256, "attention_b5", "attention_b2"),
                                (512, "attention_b4", "attention_b3")]:
        g = generator_cls((res, res, 3), ch=8)
        d = discriminator_cls((res, res, 3), ch=8)
        assert [a.name for a in g.attention] == [g_name]
        assert [a.name for a in d.attention] == [d_name]
    g = generator_cls((128, 128, 3), ch=8, blocks_with_attention="B2,B5")
    assert [a.name for a in g.attention] == ["attention_b2", "attention_b5"]
    assert generator_cls((128, 128, 3), ch=8, blocks_with_attention="").attention == []
    with pytest.raises(ValueError, match="names \\['B7'\\]"):
        generator_cls((128, 128, 3), ch=8, blocks_with_attention="B7")


def test_biggan_discriminator_quirks_sum_pool_and_no_residual_when_channels_match():
    _, discriminator_cls = get_architecture("resnet_biggan")
    x = tf.random.stateless_uniform([2, 32, 32, 3], [2, 2])
    d = discriminator_cls((32, 32, 3), ch=8, initializer="normal")
    out = d(x, training=True)
    last = d.blocks[-1]
    assert last.shortcut is None and not last.downsample  # 16 -> 16 channels: no shortcut
    assert d.blocks[0].shortcut is not None
    # Features are the sum (not mean) over positions of ReLU(last block + attention).
    h = x
    for i, block in enumerate(d.blocks):
        h = block(h, training=False)
        if i in d.attention_at:
            h = d.attention[0](h)
    np.testing.assert_allclose(d(x, training=False)["features"].numpy(),
                               tf.reduce_sum(tf.nn.relu(h), axis=[1, 2]).numpy(), rtol=1e-5)
    assert out["features"].shape == (2, 16)
    # The option: identity skip when channels match (no extra parameters).
    d2 = discriminator_cls((32, 32, 3), ch=8, initializer="normal",
                           skip_when_same_channels=True)
    d2(x)
    assert count(d2) == count(d)
    for a, b in zip(d2.weights, d.weights):
        a.assign(b)
    h_last_in = x
    for block in d.blocks[:-1]:
        h_last_in = block(h_last_in, training=False)
    np.testing.assert_allclose(
        d2.blocks[-1](h_last_in, training=False).numpy(),
        (d.blocks[-1](h_last_in, training=False) + h_last_in).numpy(), rtol=1e-5, atol=1e-5)


def test_biggan_orthogonal_init_and_attention_gain():
    generator_cls, discriminator_cls = get_architecture("resnet_biggan")
    g = generator_cls((32, 32, 3), z_dim=16, ch=8, num_classes=5)  # default: orthogonal
    g(tf.zeros([1, 16]), tf.zeros([1], tf.int32))
    w = g.blocks[0].conv1.kernel.numpy().reshape(-1, 32)            # [3*3*32, 32]
    np.testing.assert_allclose(w.T @ w, np.eye(32), atol=1e-4)
    d = discriminator_cls((32, 32, 3), ch=8, num_classes=5)
    d(tf.zeros([1, 32, 32, 3]), tf.zeros([1], tf.int32))
    assert float(d.attention[0].sigma.numpy()) == 0.0
    proj = d.projection.kernel.numpy()            # glorot normal, not orthogonal
    assert proj.shape == (5, 16) and not np.allclose(proj @ proj.T, np.eye(5), atol=0.1)
    w = d.final_fc.kernel.numpy()
    np.testing.assert_allclose(np.linalg.norm(w), 1.0, rtol=1e-5)  # an orthogonal column


def test_biggan_projection_uses_the_labels():
    _, discriminator_cls = get_architecture("resnet_biggan")
    d = discriminator_cls((32, 32, 3), num_classes=4, ch=8, initializer="normal")
    x = tf.random.stateless_uniform([2, 32, 32, 3], [3, 3])
    a = d(x, tf.constant([0, 1]))["logits"].numpy()
    b = d(x, tf.constant([2, 3]))["logits"].numpy()
    assert not np.allclose(a, b)
    unconditional = discriminator_cls((32, 32, 3), num_classes=4, ch=8, project_y=False)
    assert unconditional.projection is None


def test_biggan_deep_blocks_and_attention():
    generator_cls, discriminator_cls = get_architecture("resnet_biggan_deep")
    g = generator_cls((128, 128, 3), ch=8)
    d = discriminator_cls((128, 128, 3), ch=8)
    assert len(g.blocks) == 10 and [b.resample for b in g.blocks[:4]] == ["none", "up"] * 2
    assert len(d.blocks) == 10 and [b.resample for b in d.blocks[:4]] == ["down", "none"] * 2
    assert [a.name for a in g.attention_layers] == ["attention_b8"]   # output 64x64
    assert [a.name for a in d.attention_layers] == ["attention_b2"]
    assert d.blocks[0].add_channels is not None and d.blocks[1].add_channels is None


def test_discriminator_layer_norm_and_batch_norm_options():
    for family in ("dcgan", "resnet_biggan", "resnet5"):
        _, discriminator_cls = get_architecture(family)
        d = discriminator_cls((32, 32, 3), ch=8, norm="layer_norm")
        assert not d.batch_dependent
        x = tf.random.stateless_uniform([3, 32, 32, 3], [4, 4])
        np.testing.assert_allclose(d(x[:1], training=False)["logits"].numpy(),
                                   d(x, training=False)["logits"].numpy()[:1], rtol=1e-4,
                                   atol=1e-5)
        assert discriminator_cls((32, 32, 3), ch=8, norm="batch_norm").batch_dependent
    with pytest.raises(ValueError, match="unknown normalization 'self_modulated_batch_norm'"):
        get_architecture("dcgan")[1]((32, 32, 3), norm="self_modulated_batch_norm")


def test_conditional_biggan_trains_with_hinge_loss_and_projection():
    generator_cls, discriminator_cls = get_architecture("resnet_biggan")
    g = generator_cls((16, 16, 3), z_dim=12, num_classes=3, ch=8)
    d = discriminator_cls((16, 16, 3), num_classes=3, ch=8)
    model = GAN(g, d, loss_fn=hinge, self_supervision=RotationTask(rotated_batch_size=8),
                disc_iters=1, g_lr=1e-4, d_lr=5e-4, beta1=0.0, z_distribution="normal")
    model.build_all(8)
    step = tf.function(model.train_step)
    before = [v.numpy().copy() for v in g.trainable_variables]
    data = {"images": tf.random.stateless_uniform([8, 16, 16, 3], [5, 5]),
            "labels": tf.constant([0, 1, 2, 0, 1, 2, 0, 1])}
    for _ in range(2):
        logs = step(data)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert any(not np.allclose(b, a.numpy()) for b, a in zip(before, g.trainable_variables))
    assert int(model.step) == 2


# ------------------------------------------------------------------------ gin files
GIN_FILES = {"imagenet_ssgan.gin": "resnet_biggan", "lsun_bedroom128_ssgan.gin": "resnet5",
             "celeba_hq128_ssgan.gin": "sndcgan", "stl10_ssgan.gin": "resnet_stl",
             "celeba64_ssgan.gin": "dcgan"}
# What tests/test_gin_configs.py's SHRINK needs for these files (ch of the new families).
SHRINK_ADDITIONS = [f"{family}.{net}.ch = 8" for family in NEW_FAMILIES
                    for net in ("Generator", "Discriminator")]


@pytest.mark.parametrize("name", sorted(GIN_FILES))
def test_paper_gin_file_binds_its_family_and_the_baseline_switch(name):
    path = GIN_DIR / name
    text = path.read_text()
    assert "--gin_param='RotationTask.mode=\"none\"'" in text  # one-line baseline switch
    parse_gin([str(path)], ["RotationTask.mode = 'none'"] + SHRINK_ADDITIONS)
    assert gin.query_parameter("train.architecture") == GIN_FILES[name]
    assert gin.query_parameter("RotationTask.mode") == "none"
    generator_cls, discriminator_cls = get_architecture(GIN_FILES[name])
    g = generator_cls((32, 32, 3), z_dim=16)   # gin supplies the family's bindings
    d = discriminator_cls((32, 32, 3))
    assert g.z_dim == 16 and d.feature_dim > 0


def test_imagenet_gin_is_the_papers_large_scale_setting():
    parse_gin([str(GIN_DIR / "imagenet_ssgan.gin")], [])
    q = gin.query_parameter
    assert q("train.batch_size") == 2048 and q("train.z_dim") == 120
    assert q("train.conditional") is False and q("train.dataset") == "imagenet2012"
    assert q("resnet_biggan.Generator.norm") == "self_modulated_batch_norm"
    assert q("RotationTask.rotated_batch_size") % (4 * 128) == 0  # divides over a v3-128
    assert q("GAN.disc_iters") == 2 and q("GAN.z_distribution") == "normal"
    assert (q("GAN.g_lr"), q("GAN.d_lr"), q("GAN.beta1"), q("GAN.beta2")) == (
        1e-4, 5e-4, 0.0, 0.999)
