"""kernel_ceiling: every conv / matmul of a traced step is found with its shapes and FLOPs, and
timed in isolation."""

import pytest
import tensorflow as tf

from ssgan_tf.perf.kernel_ceiling import collect_kernels, kernel_ceiling


def _graph():
    w = tf.Variable(tf.random.normal([3, 3, 4, 8]))
    m = tf.Variable(tf.random.normal([8 * 6 * 6, 5]))

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            h = tf.nn.conv2d(x, w, strides=1, padding="VALID")  # [2, 6, 6, 8]
            out = tf.matmul(tf.reshape(h, [2, -1]), m)  # [2, 5]
            loss = tf.reduce_sum(out ** 2)
        return tape.gradient(loss, [w, m])

    return step.get_concrete_function(tf.TensorSpec([2, 8, 8, 4])).graph


def test_collects_the_live_forward_and_backward_kernels_with_their_flops():
    entries = {e["op"]: e for e in collect_kernels(_graph())}
    conv_flops = 2.0 * 2 * 6 * 6 * 3 * 3 * 4 * 8  # output positions x kernel volume
    assert entries["Conv2D"]["flops"] == conv_flops
    assert entries["Conv2D"]["shapes"] == [[2, 8, 8, 4], [3, 3, 4, 8], [2, 6, 6, 8]]
    assert entries["Conv2DBackpropFilter"]["flops"] == conv_flops
    # TF's Conv2D gradient also builds d loss / d x, but nothing consumes it: not a kernel.
    assert "Conv2DBackpropInput" not in entries
    matmuls = [e for e in collect_kernels(_graph()) if e["op"] == "MatMul"]
    # forward [2,288]x[288,5], grad w.r.t. m [288,2]x[2,5] and w.r.t. h [2,5]x[5,288]
    assert sorted(e["flops"] for e in matmuls) == [2.0 * 2 * 288 * 5] * 3
    assert all(e["count"] == 1 for e in matmuls)


def test_kernel_ceiling_times_every_kernel():
    result = kernel_ceiling(_graph(), step_s=1.0, repeats=1)
    assert result["kernel_count"] == 5
    assert result["kernel_s"] > 0
    assert result["kernel_share"] == pytest.approx(result["kernel_s"])
    expected = 2 * 2.0 * 2 * 6 * 6 * 3 * 3 * 4 * 8 + 3 * 2.0 * 2 * 288 * 5
    assert result["kernel_gflops_per_step"] == pytest.approx(expected / 1e9)
    assert sum(e["share_of_kernel_time"] for e in result["kernel_top"]) == pytest.approx(1.0,
                                                                                         abs=1e-3)
