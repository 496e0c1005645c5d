"""The Keras FID Inception against an independent numpy forward pass, and its input handling."""

from __future__ import annotations

import np_inception_reference as reference
import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.evaluation.metrics import InceptionExtractor, InceptionWeights, build_inception_model
from ssgan_tf.evaluation.metrics import inception_spec as spec
from ssgan_tf.evaluation.metrics.inception import preprocess, to_nhwc3_float


def test_pool3_matches_numpy_forward_on_real_cifar(inception_npz, inception_extractor, cifar_images):
    images = cifar_images[[0, 1, 1234]]
    with np.load(inception_npz) as data:
        weights = {k: data[k] for k in data.files}
    expected = reference.forward_pool3(images, weights)
    got = inception_extractor(images)["features"]
    assert got.shape == (3, 2048) and got.dtype == np.float32
    assert expected.max() > 1.0 and (expected > 0).mean() > 0.5  # real, non-degenerate activations
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    # distinct images give distinct features (the comparison above is not vacuous)
    assert np.abs(got[0] - got[1]).max() > 0.1


def test_resize_is_tf1_legacy_bilinear(cifar_images):
    images = cifar_images[:2].astype(np.float32)
    ours = preprocess(tf.constant(images)).numpy()
    legacy = tf.compat.v1.image.resize_bilinear(images, [299, 299], align_corners=False).numpy()
    np.testing.assert_array_equal(ours, (legacy - 128.0) / 128.0)
    half_pixel = tf.image.resize(images, [299, 299], method="bilinear").numpy()
    assert np.abs(ours - (half_pixel - 128.0) / 128.0).max() > 0.05  # the TF2 default differs
    np.testing.assert_allclose(ours, reference.legacy_resize_bilinear(images, 299) / 128.0 - 1.0, atol=1e-5)


def test_input_conventions(inception_extractor, cifar_images):
    rgb = cifar_images[:2]
    as_uint8 = inception_extractor(rgb)["features"]
    np.testing.assert_array_equal(inception_extractor(rgb.astype(np.float32))["features"], as_uint8)
    gray = rgb[..., 0]
    tiled = inception_extractor(np.repeat(gray[..., None], 3, axis=-1))["features"]
    np.testing.assert_array_equal(inception_extractor(gray)["features"], tiled)
    np.testing.assert_array_equal(inception_extractor(gray[..., None])["features"], tiled)
    # batch composition does not change an image's features beyond float noise
    batched = inception_extractor(cifar_images[:10])["features"]  # batch_size 8: batches of 8 + 2
    np.testing.assert_allclose(batched[:2], as_uint8, atol=1e-5)
    assert inception_extractor(cifar_images[:0])["features"].shape == (0, 2048)


@pytest.mark.parametrize("bad", [np.zeros((2, 8, 8, 4)), np.zeros((8, 8)), np.full((1, 8, 8, 3), 300.0),
                                 np.full((1, 8, 8, 3), -1.0), np.array([[["a"]]])])
def test_bad_images_rejected(bad):
    with pytest.raises(ValueError):
        to_nhwc3_float(bad)


def test_logits_head_on_synthetic_weights(random_weights):
    weights = InceptionWeights(tensors=random_weights, source="synthetic", format="dict", sha256="0" * 64)
    images = np.random.default_rng(0).integers(0, 256, (2, 40, 50, 3)).astype(np.uint8)
    unbiased = InceptionExtractor(weights, batch_size=4)(images)
    biased = InceptionExtractor(weights, batch_size=4, is_logits="biased")(images)
    w, b = random_weights[spec.LOGITS_WEIGHT], random_weights[spec.LOGITS_BIAS]
    feats = unbiased["features"]
    assert unbiased["logits"].shape == (2, 1008) and np.abs(feats).max() > 0
    np.testing.assert_allclose(unbiased["logits"], feats @ w, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(biased["logits"], feats @ w + b, rtol=1e-4, atol=1e-4)


def test_gamma_is_applied(random_weights):
    """The synthetic gammas are not ones: folding them must match the numpy reference with gamma."""
    images = np.random.default_rng(1).integers(0, 256, (1, 299, 299, 3)).astype(np.uint8)
    model = build_inception_model(random_weights)
    x = preprocess(tf.constant(images.astype(np.float32)))
    got = model(x)["pool_3"].numpy()
    scaled = dict(random_weights)
    for conv in spec.CONV_SPECS:  # fold gamma into var/mean/beta-free form for the reference
        g = random_weights[f"{conv.name}.gamma"].astype(np.float64)
        scaled[f"{conv.name}.weight"] = random_weights[f"{conv.name}.weight"] * g[:, None, None, None]
        scaled[f"{conv.name}.mean"] = random_weights[f"{conv.name}.mean"] * g
    expected = reference.forward_pool3(images, scaled)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_features_stay_float32_under_global_mixed_precision(inception_npz, inception_extractor, cifar_images):
    import keras

    images = cifar_images[:2]
    expected = inception_extractor(images)["features"]
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        extractor = InceptionExtractor.from_path(inception_npz, batch_size=8)
        got = extractor(images)["features"]
        assert {layer.compute_dtype for layer in extractor.model.layers[1:]} == {"float32"}  # [0]: InputLayer
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5)
