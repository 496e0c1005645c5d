"""Slow: FID/KID sanity on real data with the real weights, and extraction throughput (printed)."""

from __future__ import annotations

import time

import pytest

from ssgan_tf.evaluation.metrics import (
    InceptionExtractor,
    frechet_distance_from_activations,
    kernel_inception_distance,
)

N = 1000


@pytest.mark.slow
def test_fid_cifar_halves_small_and_cifar_vs_mnist_large(inception_npz, cifar_images, mnist_images):
    extractor = InceptionExtractor.from_path(inception_npz, batch_size=50)
    extractor(cifar_images[:50])  # warm-up (tracing, oneDNN kernels) outside the timing
    start = time.perf_counter()
    first = extractor(cifar_images[:N])["features"]
    elapsed = time.perf_counter() - start
    print(f"\nInception pool_3 extraction: {N / elapsed:.1f} img/s (fp32, CPU, batch 50, 32x32 inputs)")
    second = extractor(cifar_images[-N:])["features"]  # disjoint: the subset has 5,170 images
    digits = extractor(mnist_images[0][:N])["features"]

    fid_halves = frechet_distance_from_activations(first, second)
    fid_mnist = frechet_distance_from_activations(first, digits)
    kid_halves = kernel_inception_distance(second, first, num_subsets=50, subset_size=500, seed=0)
    kid_mnist = kernel_inception_distance(digits, first, num_subsets=50, subset_size=500, seed=0)
    print(f"FID CIFAR-10 {N} vs {N} disjoint: {fid_halves:.2f}; CIFAR-10 vs MNIST: {fid_mnist:.2f}")
    print(f"KID CIFAR-10 halves: {kid_halves[0]:.5f} +- {kid_halves[1]:.5f}; "
          f"CIFAR-10 vs MNIST: {kid_mnist[0]:.5f} +- {kid_mnist[1]:.5f}")
    assert 0 < fid_halves < 60  # small sets bias FID upward; same distribution stays low
    assert fid_mnist > 200 and fid_mnist > 5 * fid_halves
    assert abs(kid_halves[0]) < 0.01 and kid_mnist[0] > 0.1
