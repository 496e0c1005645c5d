"""MultiWorkerMirroredStrategy with two worker processes on loopback: both workers end with the
same weights, equal to a single-process run on the same global batch; a SIGTERM to one worker
stops both at the same step with a common checkpoint, and re-running resumes that run."""

import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from ssgan_tf.architectures import sndcgan
from tests.helpers.training import CLI_TINY, REPO, checkpoint_values

SYNC = ["--gin_param=sndcgan.Generator.cross_replica_bn = True",
        "--gin_param=RotationTask.rotated_batch_size = 32",  # every image rotated
        "--gin_param=train.num_steps = 4"]


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def command(model_dir, strategy, extra=()):
    return [sys.executable, "-m", "ssgan_tf.train", "--gin_file=gin/quickstart.gin", *CLI_TINY,
            *SYNC, f"--gin_param=train.strategy = '{strategy}'", "--seed=0",
            f"--model_dir={model_dir}", *extra]


ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def run_single(model_dir, extra=()):
    single = subprocess.run(command(model_dir, "default", extra), cwd=REPO, env=ENV,
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stdout + single.stderr
    return single


def run_two_workers(model_dir, extra=(), worker_env=({}, {})):
    """Both workers of a 2-worker TF_CONFIG cluster on loopback; (return codes, outputs)."""
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            command(model_dir, "multi_worker", extra), cwd=REPO,
            env=dict(ENV, TF_CONFIG=tf_config, **worker_env[index]), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    try:
        outputs = [p.communicate(timeout=400)[0] for p in procs]
    finally:
        for p in procs:  # a hung worker must not outlive the test
            if p.poll() is None:
                p.kill()
    return [p.returncode for p in procs], outputs


def bias_feeding_batch_norm_keys():
    """Checkpoint keys of G's weights whose exact gradient is zero: SNDCGAN's G follows every
    layer but the output conv with batch norm, which subtracts the batch mean, so those layers'
    biases only ever receive float noise. Adam scales that noise to ~lr-sized moves that depend
    on the replica layout and the CPU's reduction order (CI saw 1e-4 at step 8), so their values
    carry no signal; every other weight and every optimizer slot is still compared."""
    generator = sndcgan.Generator(ch=4, image_shape=(16, 16, 3))
    generator(tf.zeros([2, 8]))
    paths = [v.path for v in generator.trainable_variables]
    output_bias = max(i for i, path in enumerate(paths) if path.endswith("/bias"))
    return {f"g_optimizer/_trainable_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE"
            for i, path in enumerate(paths) if path.endswith("/bias") and i != output_bias}


def assert_same_weights(actual, expected, atol):
    assert expected.keys() == actual.keys()
    noise_only = bias_feeding_batch_norm_keys()
    assert noise_only <= expected.keys(), sorted(expected)  # the mapping above still holds
    for name in sorted(expected.keys() - noise_only):
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-4, atol=atol,
                                   err_msg=name)


def worker_fingerprint(output):
    return float(output.split("weights fingerprint ")[1].split()[0])


@pytest.mark.slow  # three training processes: 25-60 s on 2 cores
def test_two_workers_match_one_process(tmp_path):
    run_single(tmp_path / "single")
    codes, outputs = run_two_workers(tmp_path / "multi")
    for code, out in zip(codes, outputs):
        assert code == 0, out[-3000:]
    assert "2 replica(s) on 2 worker(s), global batch 8 (4 per replica)" in outputs[0]
    chief_summary = json.loads((tmp_path / "multi" / "summary.json").read_text())
    np.testing.assert_allclose(worker_fingerprint(outputs[1]),
                               chief_summary["weights_fingerprint"], rtol=1e-7)
    assert not (tmp_path / "multi" / ".workers" / "worker_1").exists()  # scratch removed
    single_summary = json.loads((tmp_path / "single" / "summary.json").read_text())
    np.testing.assert_allclose(chief_summary["weights_fingerprint"],
                               single_summary["weights_fingerprint"], rtol=1e-5)
    assert_same_weights(checkpoint_values(tmp_path / "multi"),
                        checkpoint_values(tmp_path / "single"), atol=1e-5)


@pytest.mark.slow  # three multi-process runs: ~2-3 min on 2 shared cores
def test_sigterm_to_one_worker_stops_both_at_one_step_and_resume_matches(tmp_path):
    steps = ["--gin_param=train.num_steps = 8"]  # periodic checkpoints at 2, 4, 6, 8
    run_single(tmp_path / "single", steps)
    # Worker 1 sends itself SIGTERM once step 4 is done. TF's PreemptionCheckpointHandler agrees
    # on "save after the next chunk": both workers save ckpt-5 (no periodic save is due there)
    # and stop; worker 0 never got a signal.
    codes, outputs = run_two_workers(tmp_path / "multi", steps,
                                     worker_env=({}, {"SSGAN_TF_FAULT": "sigterm_at:4"}))
    assert codes == [128 + signal.SIGTERM] * 2, [out[-3000:] for out in outputs]
    assert "stopped by signal 15 at step 5;" in outputs[0]
    assert "worker done: step 5," in outputs[1]
    for out in outputs:
        assert "step 5/8" in out and "step 6/8" not in out
    state = (tmp_path / "multi" / "checkpoints" / "checkpoint").read_text().splitlines()[0]
    assert state.endswith('"ckpt-5"'), state
    assert json.loads((tmp_path / "multi" / "summary.json").read_text())["stopped_by_signal"] == 15
    np.testing.assert_allclose(worker_fingerprint(outputs[1]), json.loads(
        (tmp_path / "multi" / "summary.json").read_text())["weights_fingerprint"], rtol=1e-7)

    codes, outputs = run_two_workers(tmp_path / "multi", steps)  # the same commands again
    for code, out in zip(codes, outputs):
        assert code == 0, out[-3000:]
    assert "Resumed from" in outputs[0] and "at step 5." in outputs[0]
    chief_summary = json.loads((tmp_path / "multi" / "summary.json").read_text())
    assert chief_summary["step"] == 8 and chief_summary["steps_this_run"] == 3
    np.testing.assert_allclose(worker_fingerprint(outputs[1]),
                               chief_summary["weights_fingerprint"], rtol=1e-7)
    single_summary = json.loads((tmp_path / "single" / "summary.json").read_text())
    np.testing.assert_allclose(chief_summary["weights_fingerprint"],
                               single_summary["weights_fingerprint"], rtol=1e-5)
    # atol 5e-5: by step 8 the reduction-order noise reaches ~1e-5 in a few weights. A lost or
    # repeated step moves every weight by ~lr = 2e-4 and still fails.
    assert_same_weights(checkpoint_values(tmp_path / "multi"),
                        checkpoint_values(tmp_path / "single"), atol=5e-5)
