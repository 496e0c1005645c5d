"""Throughput benchmark.

    python -m ssgan_tf.benchmark --gin_file=F --precision=float32|mixed_bfloat16 --steps=N
        --output=bench.json [--gin_param=...] [--mirrored_devices=2] [--compare_rotation]
        [--multi_worker_processes=2] [--inception=fid_inception_v3_2015_12_05_weights.npz]

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

import json
import os
import sys
import time

from absl import app, flags

flags.DEFINE_multi_string("gin_file", [], "Gin config(s) of the model to benchmark.")
flags.DEFINE_multi_string("gin_param", [], "Extra gin bindings.")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16", "mixed_float16"],
                  "Keras dtype policy.")
flags.DEFINE_integer("steps", 10, "Timed steps (after warm-up).")
flags.DEFINE_integer("warmup", 2, "Untimed steps after compilation.")
flags.DEFINE_integer("batch_size", None, "Overrides train.batch_size.")
flags.DEFINE_integer("mirrored_devices", 0,
                     "If > 1: also time MirroredStrategy on this many logical CPU devices.")
flags.DEFINE_bool("jit_compile", False, "Compile the step with XLA.")
flags.DEFINE_bool("compare_rotation", False,
                  "Also time the step with RotationTask.mode='none' (rotation_cost_ratio).")
flags.DEFINE_integer("multi_worker_processes", 0,
                     "If > 1: also time that many MultiWorkerMirroredStrategy processes.")
flags.DEFINE_bool("kernels", False, "Also time every conv/matmul of the step in isolation: "
                  "kernel_peak_fraction (the kernels' own efficiency on the step's shapes) and "
                  "kernel_share (their share of the step time).")
flags.DEFINE_string("inception", None, "FID Inception weights (.npz/.pb): time feature "
                    "extraction (eval_inception_img_per_s).")
flags.DEFINE_enum("strategy", "default", ["default", "multi_worker"],
                  "Internal: the strategy of this process (multi_worker children).")
flags.DEFINE_string("output", None, "JSON output path.")
FLAGS = flags.FLAGS


def _median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])


def measure_peak_gflops(precision: str, seconds: float = 1.0, rounds: int = 3) -> dict:
    """Best of a large matmul and a ResNet-like 3x3 convolution, in the compute dtype; each is
    timed in `rounds` interleaved windows of `seconds` and its best window kept (single 2 s
    windows varied by 20% between runs on a 2-core VM)."""
    import tensorflow as tf

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
    import tensorflow as tf

    spec = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), batch)
    return tf.function(model.train_step).get_concrete_function(spec).graph


def count_step_flops(model, batch, graph=None) -> float:
    """FLOPs of one train step, from the traced graph (forward + backward of both updates)."""
    from tensorflow.python.profiler import model_analyzer, option_builder

    graph = step_graph(model, batch) if graph is None else graph
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return float(model_analyzer.profile(graph, options=options).total_float_ops)


def time_steps(run_steps, iterator, steps: int, warmup: int) -> list[float]:
    import tensorflow as tf

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
    import keras
    import tensorflow as tf

    from ssgan_tf import distribute
    from ssgan_tf.data import get_dataset, train_dataset
    from ssgan_tf.train import build_model, make_train_loop, set_precision, train_setting

    # Multi-worker collectives must be configured before any other TF op runs.
    strategy = distribute.make_strategy(strategy_name)
    set_precision(precision)
    keras.utils.set_random_seed(0)
    dataset, batch_size, architecture, resolution = (
        train_setting(k) for k in ("dataset", "batch_size", "architecture", "resolution"))
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
            from ssgan_tf.kernel_ceiling import kernel_ceiling

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
    import numpy as np

    from ssgan_tf.metrics.inception import load_inception_extractor

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
    import socket
    import subprocess
    import tempfile

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
            raise RuntimeError("multi-worker benchmark failed:\n" + errors[0][-2000:])
        with open(os.path.join(tmp, "worker0.json")) as f:
            return json.load(f)


def _child_argv() -> list[str]:
    """This run's flags for the multi-worker children (no nested scaling runs, no outputs)."""
    args = [f"--gin_file={f}" for f in FLAGS.gin_file]
    args += [f"--gin_param={p}" for p in FLAGS.gin_param]
    args += [f"--precision={FLAGS.precision}", f"--steps={FLAGS.steps}",
             f"--warmup={FLAGS.warmup}", f"--jit_compile={FLAGS.jit_compile}"]
    if FLAGS.batch_size:
        args.append(f"--batch_size={FLAGS.batch_size}")
    return args


def main(argv) -> None:
    del argv
    if FLAGS.mirrored_devices > 1:
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * FLAGS.mirrored_devices)
    import gin

    from ssgan_tf.train import parse_config

    try:
        params = list(FLAGS.gin_param)
        if FLAGS.batch_size:
            params.append(f"train.batch_size = {FLAGS.batch_size}")
        parse_config(FLAGS.gin_file, params)
        if FLAGS.strategy == "multi_worker":  # a child of --multi_worker_processes
            result = benchmark(FLAGS.precision, FLAGS.steps, FLAGS.warmup, FLAGS.jit_compile,
                               strategy_name="multi_worker")
            with open(FLAGS.output, "w") as f:
                json.dump(result, f)
            return
        result = benchmark(FLAGS.precision, FLAGS.steps, FLAGS.warmup, FLAGS.jit_compile,
                           kernels=FLAGS.kernels)
        peaks = measure_peak_gflops(FLAGS.precision)
        result.update({f"peak_{k}_gflops": v for k, v in peaks.items()})
        result["peak_gflops"] = max(peaks.values())
        result["peak_fraction"] = result["achieved_gflops"] / result["peak_gflops"]
        result["conv_peak_fraction"] = result["achieved_gflops"] / peaks["conv"]
        if "kernel_gflops" in result:
            result["kernel_peak_fraction"] = result["kernel_gflops"] / result["peak_gflops"]
        result["pipeline_vs_step"] = result["pipeline_img_per_s"] / result["img_per_s"]
        if FLAGS.compare_rotation:
            gin.clear_config()
            parse_config(FLAGS.gin_file, params + ["RotationTask.mode = 'none'"])
            plain = benchmark(FLAGS.precision, FLAGS.steps, FLAGS.warmup, FLAGS.jit_compile)
            gin.clear_config()
            parse_config(FLAGS.gin_file, params)  # back to the configured rotation task
            result["plain_gan_step_s"] = plain["step_s"]
            result["rotation_cost_ratio"] = result["step_s"] / plain["step_s"]
        if FLAGS.mirrored_devices > 1:
            mirrored = benchmark(FLAGS.precision, FLAGS.steps, FLAGS.warmup, FLAGS.jit_compile,
                                 strategy_name="mirrored")
            result["mirrored_img_per_s"] = mirrored["img_per_s"]
            result["mirrored_replicas"] = mirrored["replicas"]
            result["mirrored_speedup"] = mirrored["img_per_s"] / result["img_per_s"]
        if FLAGS.multi_worker_processes > 1:
            workers = run_multi_worker(FLAGS.multi_worker_processes, _child_argv())
            result["multi_worker_processes"] = FLAGS.multi_worker_processes
            result["multi_worker_img_per_s"] = workers["img_per_s"]
            result["multi_worker_speedup"] = workers["img_per_s"] / result["img_per_s"]
        if FLAGS.inception:
            result["eval_inception_img_per_s"] = measure_inception(FLAGS.inception)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        sys.exit(f"error: {e}")
    print(summary_line(result))
    if FLAGS.output:
        os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
        with open(FLAGS.output, "w") as f:
            json.dump(result, f, indent=2, sort_keys=True)


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


if __name__ == "__main__":
    app.run(main)
