"""Throughput benchmark (`python -m ssgan_tf.benchmark` is its command line).

Times steady-state training steps (warm-up excluded, median of N single-step calls of the same
compiled loop the trainer uses), counts the FLOPs of one step from the traced graph (TensorFlow's
graph profiler: every Conv2D, its two backprops and every MatMul of the D and G updates, spectral
norm included), and measures the machine's peak for the same precision with its own matmul and
convolution micro-benchmarks, hence `peak_fraction`. Also measures the input pipeline alone and
generator sampling (and, with --inception, Inception feature extraction for FID/IS).
Scaling and costs, each measured in the same run:
- `--compare_rotation`: the same step without the rotation task -> `rotation_cost_ratio`
  (s/step with rotation / s/step without);
- `--mirrored_devices=2`: MirroredStrategy over 2 logical CPU devices on the same cores;
- `--multi_worker_processes=2`: the benchmark re-run as 2 MultiWorkerMirroredStrategy processes
  on loopback ports (same global batch) -> `multi_worker_img_per_s` and its ratio to one process.
Prints one human line and writes a flat JSON dict.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import gin
import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.profiler import model_analyzer, option_builder

from ssgan_tf.common import distribute
from ssgan_tf.common.configs import parse_gin
from ssgan_tf.common.errors import SsganError
from ssgan_tf.common.files import write_json
from ssgan_tf.data import get_dataset, train_dataset
from ssgan_tf.evaluation.metrics.inception import load_inception_extractor
from ssgan_tf.perf.kernel_ceiling import kernel_ceiling
from ssgan_tf.training.builders import build_model
from ssgan_tf.training.config import current_config
from ssgan_tf.training.loop import make_train_loop
from ssgan_tf.training.precision import set_precision

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


@dataclasses.dataclass
class BenchmarkOptions:
    """What to measure (the command-line flags)."""

    gin_file: list = dataclasses.field(default_factory=list)
    gin_param: list = dataclasses.field(default_factory=list)
    precision: str = "float32"
    steps: int = 10
    warmup: int = 2
    batch_size: int | None = None
    mirrored_devices: int = 0
    jit_compile: bool = False
    compare_rotation: bool = False
    multi_worker_processes: int = 0
    kernels: bool = False
    inception: str | None = None
    peak_seconds: float = 1.0
    strategy: str = "default"
    output: str | None = None


def _median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])


def measure_peak_gflops(precision: str, seconds: float = 1.0, rounds: int = 3) -> dict:
    """Best of a large matmul and a ResNet-like 3x3 convolution, in the compute dtype; each is
    timed in `rounds` interleaved windows of `seconds` and its best window kept (single 2 s
    windows varied by 20% between runs on a 2-core VM)."""
    dtype = {"float32": tf.float32, "mixed_bfloat16": tf.bfloat16,
             "mixed_float16": tf.float16}[precision]
    results = {}
    a = tf.cast(tf.random.normal([2048, 2048]), dtype)
    x = tf.cast(tf.random.normal([64, 32, 32, 128]), dtype)
    k = tf.cast(tf.random.normal([3, 3, 128, 128]), dtype)
    cases = {"matmul": (tf.function(lambda: tf.matmul(a, a)), 2 * 2048 ** 3),
             "conv": (tf.function(lambda: tf.nn.conv2d(x, k, 1, "SAME")),
                      2 * 64 * 32 * 32 * 3 * 3 * 128 * 128)}
    for fn, _ in cases.values():
        fn().numpy()
    for _ in range(rounds):
        for name, (fn, flops) in cases.items():
            runs, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                fn().numpy()
                runs += 1
            rate = flops * runs / (time.perf_counter() - start) / 1e9
            results[name] = max(results.get(name, 0.0), rate)
    return results


def step_graph(model, batch):
    """The traced graph of one per-replica train step on a batch like `batch`."""
    spec = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), batch)
    return tf.function(model.train_step).get_concrete_function(spec).graph


def count_step_flops(model, batch, graph=None) -> float:
    """FLOPs of one train step, from the traced graph (forward + backward of both updates)."""
    graph = step_graph(model, batch) if graph is None else graph
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return float(model_analyzer.profile(graph, options=options).total_float_ops)


def time_steps(run_steps, iterator, steps: int, warmup: int) -> list[float]:
    one = tf.constant(1, tf.int64)
    for _ in range(warmup + 1):  # the first call compiles
        run_steps(iterator, one)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        logs = run_steps(iterator, one)
        float(logs["g_loss"])  # wait for the step
        times.append(time.perf_counter() - start)
    return times


def benchmark(precision: str, steps: int, warmup: int, jit_compile: bool = False,
              strategy_name: str = "default", kernels: bool = False) -> dict:
    """Builds the gin-configured model and returns the measurements as a flat dict; `kernels`
    adds the isolated-kernel ceiling (kernel_ceiling.py)."""
    # Multi-worker collectives must be configured before any other TF op runs.
    strategy = distribute.make_strategy(strategy_name)
    set_precision(precision)
    keras.utils.set_random_seed(0)
    config = current_config()
    dataset, batch_size, architecture, resolution = (
        config.dataset, config.batch_size, config.architecture, config.resolution)
    try:
        spec = get_dataset(dataset, resolution=resolution)
        spec("train")
    except (ValueError, FileNotFoundError):  # tfds data absent: same shapes, synthetic pixels
        shape = get_dataset("synthetic").image_shape
        spec = get_dataset("synthetic", resolution=resolution or shape[0])
        dataset = f"synthetic (stand-in for {dataset})"
    with strategy.scope():
        model, _ = build_model(spec, architecture, 128, False, 0, precision)
        model.rotation.images_per_replica(batch_size, strategy.num_replicas_in_sync)
        model.build_all()
    images_per_step = batch_size * model.disc_iters

    def dataset_fn(ctx):
        return train_dataset(spec, batch_size, model.disc_iters, input_context=ctx)

    iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
    run_steps = make_train_loop(model, strategy, jit_compile=jit_compile)
    step_s = _median(time_steps(run_steps, iterator, steps, warmup))
    result = {"architecture": architecture, "dataset": dataset, "precision": precision,
              "strategy": strategy_name, "replicas": strategy.num_replicas_in_sync,
              "batch_size": batch_size, "disc_iters": model.disc_iters,
              "rotation": model.rotation.mode, "jit_compile": jit_compile,
              "step_s": step_s, "img_per_s": images_per_step / step_s}
    if strategy_name == "default":
        local = next(iter(train_dataset(spec, batch_size, model.disc_iters)))
        graph = step_graph(model, local)
        flops = count_step_flops(model, local, graph)
        result.update(gflops_per_step=flops / 1e9, achieved_gflops=flops / 1e9 / step_s)
        if kernels:
            result.update(kernel_ceiling(graph, step_s))
        # Input pipeline alone.
        ds_iter = iter(train_dataset(spec, batch_size, model.disc_iters))
        next(ds_iter)
        start, n = time.perf_counter(), 50
        for _ in range(n):
            next(ds_iter)
        result["pipeline_img_per_s"] = n * images_per_step / (time.perf_counter() - start)
        # Generator sampling (inference), batch 64.
        sample = tf.function(lambda z: model.generator(z, training=False))
        z = tf.random.uniform([64, model.z_dim], -1, 1)
        sample(z).numpy()
        start, n = time.perf_counter(), 5
        for _ in range(n):
            sample(z).numpy()
        result["sample_img_per_s"] = n * 64 / (time.perf_counter() - start)
    return result


def measure_inception(path: str, batch: int = 64, repeats: int = 3) -> float:
    """img/s of FID Inception feature extraction (32x32 inputs resized to 299, as evaluation)."""
    extractor = load_inception_extractor(path, batch_size=batch)
    images = np.random.RandomState(0).randint(0, 256, [batch, 32, 32, 3]).astype(np.uint8)
    extractor(images)
    start = time.perf_counter()
    for _ in range(repeats):
        extractor(images)
    return repeats * batch / (time.perf_counter() - start)


def run_multi_worker(processes: int, argv: list[str], timeout: float = 1800) -> dict:
    """Re-runs this benchmark as `processes` MultiWorkerMirroredStrategy workers on loopback;
    returns the chief's JSON (same gin config and global batch)."""
    socks = [socket.socket() for _ in range(processes)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    cluster = {"worker": [f"127.0.0.1:{sock.getsockname()[1]}" for sock in socks]}
    for sock in socks:
        sock.close()
    with tempfile.TemporaryDirectory() as tmp:
        procs = []
        for index in range(processes):
            tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker",
                                                                 "index": index}})
            out = os.path.join(tmp, f"worker{index}.json")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "ssgan_tf.benchmark", *argv, "--strategy=multi_worker",
                 f"--output={out}"], env=dict(os.environ, TF_CONFIG=tf_config),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        errors = [p.communicate(timeout=timeout)[1] for p in procs]
        if any(p.returncode for p in procs):
            raise SsganError("multi-worker benchmark failed:\n" + errors[0][-2000:])
        with open(os.path.join(tmp, "worker0.json")) as f:
            return json.load(f)


def child_argv(options: BenchmarkOptions) -> list[str]:
    """This run's flags for the multi-worker children (no nested scaling runs, no outputs)."""
    args = [f"--gin_file={f}" for f in options.gin_file]
    args += [f"--gin_param={p}" for p in options.gin_param]
    args += [f"--precision={options.precision}", f"--steps={options.steps}",
             f"--warmup={options.warmup}", f"--jit_compile={options.jit_compile}"]
    if options.batch_size:
        args.append(f"--batch_size={options.batch_size}")
    return args


def _peak_fractions(result: dict, precision: str, seconds: float) -> None:
    peaks = measure_peak_gflops(precision, seconds)
    result.update({f"peak_{k}_gflops": v for k, v in peaks.items()})
    result["peak_gflops"] = max(peaks.values())
    result["peak_fraction"] = result["achieved_gflops"] / result["peak_gflops"]
    result["conv_peak_fraction"] = result["achieved_gflops"] / peaks["conv"]
    if "kernel_gflops" in result:
        result["kernel_peak_fraction"] = result["kernel_gflops"] / result["peak_gflops"]
    result["pipeline_vs_step"] = result["pipeline_img_per_s"] / result["img_per_s"]


def _without_rotation(options: BenchmarkOptions, params: list[str]) -> dict:
    gin.clear_config()
    parse_gin(options.gin_file, params + ["RotationTask.mode = 'none'"])
    try:
        return benchmark(options.precision, options.steps, options.warmup, options.jit_compile)
    finally:
        gin.clear_config()
        parse_gin(options.gin_file, params)  # back to the configured rotation task


def run(options: BenchmarkOptions) -> dict:
    """Measures everything `options` asks for; returns the flat result dict (and writes it to
    `options.output` when given)."""
    if options.mirrored_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * options.mirrored_devices)
    params = list(options.gin_param)
    if options.batch_size:
        params.append(f"train.batch_size = {options.batch_size}")
    parse_gin(options.gin_file, params)
    if options.strategy == "multi_worker":  # a child of --multi_worker_processes
        result = benchmark(options.precision, options.steps, options.warmup,
                           options.jit_compile, strategy_name="multi_worker")
        write_json(options.output, result)
        return result
    result = benchmark(options.precision, options.steps, options.warmup, options.jit_compile,
                       kernels=options.kernels)
    _peak_fractions(result, options.precision, options.peak_seconds)
    if options.compare_rotation:
        plain = _without_rotation(options, params)
        result["plain_gan_step_s"] = plain["step_s"]
        result["rotation_cost_ratio"] = result["step_s"] / plain["step_s"]
    if options.mirrored_devices > 1:
        mirrored = benchmark(options.precision, options.steps, options.warmup,
                             options.jit_compile, strategy_name="mirrored")
        result["mirrored_img_per_s"] = mirrored["img_per_s"]
        result["mirrored_replicas"] = mirrored["replicas"]
        result["mirrored_speedup"] = mirrored["img_per_s"] / result["img_per_s"]
    if options.multi_worker_processes > 1:
        workers = run_multi_worker(options.multi_worker_processes, child_argv(options))
        result["multi_worker_processes"] = options.multi_worker_processes
        result["multi_worker_img_per_s"] = workers["img_per_s"]
        result["multi_worker_speedup"] = workers["img_per_s"] / result["img_per_s"]
    if options.inception:
        result["eval_inception_img_per_s"] = measure_inception(options.inception)
    if options.output:
        os.makedirs(os.path.dirname(os.path.abspath(options.output)), exist_ok=True)
        write_json(options.output, result)
    return result


def summary_line(result: dict) -> str:
    """The one-line human summary of a benchmark result."""
    line = (f"{result['architecture']} {result['precision']} batch {result['batch_size']}: "
            f"{result['img_per_s']:.1f} img/s, {result['step_s']:.3f} s/step, "
            f"{result['achieved_gflops']:.0f} GFLOP/s = {100 * result['peak_fraction']:.0f}% of "
            f"measured peak {result['peak_gflops']:.0f} ({100 * result['conv_peak_fraction']:.0f}%"
            f" of the conv peak); pipeline {result['pipeline_img_per_s']:.0f} img/s "
            f"({result['pipeline_vs_step']:.0f}x the step); sampling "
            f"{result['sample_img_per_s']:.0f} img/s")
    if "kernel_share" in result:
        line += (f"; its conv/matmul kernels alone reach {100 * result['kernel_peak_fraction']:.0f}%"
                 f" of peak and take {100 * result['kernel_share']:.0f}% of the step")
    if "rotation_cost_ratio" in result:
        line += f"; rotation costs {result['rotation_cost_ratio']:.2f}x the plain GAN step"
    if "mirrored_speedup" in result:
        line += f"; mirrored x{result['mirrored_replicas']}: {result['mirrored_speedup']:.2f}x"
    if "multi_worker_speedup" in result:
        line += (f"; {result['multi_worker_processes']} workers: "
                 f"{result['multi_worker_speedup']:.2f}x")
    if "eval_inception_img_per_s" in result:
        line += f"; Inception features {result['eval_inception_img_per_s']:.0f} img/s"
    return line
