"""MultiWorkerMirroredStrategy with two worker processes on loopback: both workers end with the
same weights, equal to a single-process run on the same global batch."""

import json
import os
import socket
import subprocess
import sys

import numpy as np

from tests.test_faults import CLI_TINY, REPO
from tests.test_train import checkpoint_values

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


def command(model_dir, strategy):
    return [sys.executable, "-m", "ssgan_tf.train", "--gin_file=gin/quickstart.gin", *CLI_TINY,
            *SYNC, f"--gin_param=train.strategy = '{strategy}'", "--seed=0",
            f"--model_dir={model_dir}"]


def test_two_workers_match_one_process(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    single = subprocess.run(command(tmp_path / "single", "default"), cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stdout + single.stderr
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            command(tmp_path / "multi", "multi_worker"), cwd=REPO,
            env=dict(env, TF_CONFIG=tf_config), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=400)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
    assert "2 replica(s) on 2 worker(s), global batch 8 (4 per replica)" in outputs[0]
    chief_summary = json.loads((tmp_path / "multi" / "summary.json").read_text())
    worker_fp = float(outputs[1].split("weights fingerprint ")[1].split()[0])
    np.testing.assert_allclose(worker_fp, chief_summary["weights_fingerprint"], rtol=1e-7)
    assert not (tmp_path / "multi" / ".workers" / "worker_1").exists()  # scratch removed
    single_summary = json.loads((tmp_path / "single" / "summary.json").read_text())
    np.testing.assert_allclose(chief_summary["weights_fingerprint"],
                               single_summary["weights_fingerprint"], rtol=1e-5)
    expected = checkpoint_values(tmp_path / "single")
    actual = checkpoint_values(tmp_path / "multi")
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-4, atol=1e-5,
                                   err_msg=name)
