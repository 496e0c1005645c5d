r"""The results study (issue 11): GAN vs SSGAN vs SSGAN + sBN, several seeds, end to end.

    python -m ssgan_tf.experiments.study --output_dir=runs/study \
        --inception=../shared/data/inception/fid_inception_v3_2015_12_05_weights.npz \
        --datasets=digits,cifar10subset --variants=gan,ssgan,ssgan_sbn --seeds=0,1,2
    python -m ssgan_tf.experiments.study --preset=small_data --inception=PATH   # a named study
                                                                  # (experiments/presets.py)

For every (dataset, variant, seed) it trains `gin/results_<dataset>_<variant>.gin` with
`train.seed = seed` and two evaluation hooks (`probe_hook.LinearProbeHook`,
`metrics_hook.MetricsHook`) as a separate `python -m ssgan_tf.train` process (its exact command
is stored in the run's `run.json` and printed), in `OUTPUT_DIR/<dataset>/<variant>/seed<k>`.
Then it probes a randomly initialized D per seed (the step-0 baseline), optionally runs a full
linear evaluation of the final discriminators (`--linear_eval_datasets`), and aggregates:
`OUTPUT_DIR/results.json` (mean and std over seeds of every final number and of every curve
point), `OUTPUT_DIR/results.md` (tables) and `OUTPUT_DIR/plots/*.png`.

Resumable: a run whose `summary.json` reached `train.num_steps` is not trained again; an
interrupted one resumes from its latest checkpoint (`train()` does that). Stages that wrote their
JSON are skipped. Re-running after everything finished only re-aggregates.

`--parallel=N` trains N runs at once, each pinned to its own 1/N of the cores with as many
TensorFlow / OpenMP threads (whether that beats one run on all cores depends on the model and
the machine: measure a run of each); the precision is each gin file's (`auto`: bf16 where the
CPU has it, float32 elsewhere, a GPU's own choice on a GPU), so the same command runs anywhere.

Why subprocesses: each run gets a fresh TF/Keras/gin state and its command is exactly what a user
types to reproduce one number. `--config=FILE.json` may hold any of the flags as keys.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import os
import queue
import shlex
import subprocess
import sys
import time
from typing import Any, Sequence

import gin
import numpy as np
from threadpoolctl import threadpool_limits

from ssgan_tf import runs
from ssgan_tf.common import cli
from ssgan_tf.common.configs import parse_gin
from ssgan_tf.common.progress import Progress
from ssgan_tf.data import get_dataset
from ssgan_tf.evaluation import probe as probe_lib
from ssgan_tf.evaluation.metrics import DomainFeatureExtractor, file_sha256
from ssgan_tf.evaluation.metrics_hook import real_images
from ssgan_tf.evaluation.probe_hook import (
    LinearProbeHook,
    random_init_discriminator,
    random_init_probe,
)
from ssgan_tf.experiments.presets import PRESETS, preset_help
from ssgan_tf.training.config import TrainConfig, current_config

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VARIANTS = {"gan": "GAN (no rotation loss)", "ssgan": "SSGAN", "ssgan_sbn": "SSGAN + sBN in G",
            "gan_diffaug": "GAN + DiffAugment", "ssgan_diffaug": "SSGAN + DiffAugment"}
DEFAULT_VARIANTS = ("gan", "ssgan", "ssgan_sbn")
HOOKS = "train.hooks = [@LinearProbeHook(), @MetricsHook()]"
FINAL_KEYS = ("fid", "kid", "domain_fd", "domain_kid", "rotation_accuracy_real",
              "rotation_accuracy_fake", "d_logit_train", "d_logit_heldout", "d_logit_gap")


class StudyError(ValueError):
    """Bad study input (one-paragraph CLI message, exit 1)."""


GIN_DIR = "gin"


def gin_file(dataset: str, variant: str, gin_dir: str = GIN_DIR) -> str:
    """The gin file of one study run (repository-relative by default)."""
    return os.path.join(gin_dir, f"results_{dataset}_{variant}.gin")


def _read_json(path: str) -> Any:
    with open(path) as f:
        return json.load(f)


def _write_json(path: str, payload: Any) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def _gin_settings(path: str, params: Sequence[str] = ()) -> TrainConfig:
    """The training settings of a gin file (+ overrides), parsed in this process."""
    gin.clear_config()
    parse_gin([path], list(params))
    return current_config()


# --------------------------------------------------------------------------- stages
def domain_extractor(output_dir: str, dataset_key: str, dataset: str, epochs: int = 3,
                     print_fn=print) -> str:
    """Trains (once) the domain-feature classifier of a dataset; returns its .keras path."""
    path = os.path.join(output_dir, dataset_key, "domain_extractor.keras")
    if os.path.isfile(path):
        return path

    spec = get_dataset(dataset)
    images, labels = real_images(spec, "train", 10 ** 9)
    start = time.time()
    extractor = DomainFeatureExtractor.train(images, labels, spec.num_classes, epochs=epochs)
    info = {"epochs": epochs, "train_examples": int(len(labels)),
            "train_accuracy": extractor.accuracy(images, labels),
            "seconds": round(time.time() - start, 1)}
    if "test" in spec.splits:
        test_images, test_labels = real_images(spec, "test", 10 ** 9)
        info["test_accuracy"] = extractor.accuracy(test_images, test_labels)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    extractor.save(path)

    _write_json(path.replace(".keras", ".json"), {**info, "file_sha256": file_sha256(path)})
    print_fn(f"domain extractor for {dataset_key}: {info}")
    return path


def train_command(dataset_key: str, variant: str, seed: int, model_dir: str,
                  inception: str | None, domain: str | None, cache_dir: str,
                  extra: Sequence[str] = (), gin_dir: str = GIN_DIR) -> list[str]:
    """The `python -m ssgan_tf.train` command of one run."""
    params = [f"train.seed = {seed}", HOOKS, f"MetricsHook.cache_dir = '{cache_dir}'"]
    if inception:
        params.append(f"MetricsHook.inception = '{inception}'")
    if domain:
        params.append(f"MetricsHook.domain_extractor = '{domain}'")
    params += list(extra)
    return ([sys.executable, "-m", "ssgan_tf.train",
             f"--gin_file={gin_file(dataset_key, variant, gin_dir)}"]
            + [f"--gin_param={p}" for p in params] + [f"--model_dir={model_dir}"])


def run_done(model_dir: str, num_steps: int) -> bool:
    """True when the run's summary.json reached num_steps (finished training)."""
    path = os.path.join(model_dir, "summary.json")
    return os.path.isfile(path) and _read_json(path).get("step", 0) >= num_steps


def train_run(command: list[str], model_dir: str, num_steps: int, print_fn=print,
              cpus: Sequence[int] | None = None) -> None:
    """Runs (or resumes) one training process unless finished; logs to model_dir/train.log and
    appends each attempt's summary to model_dir/attempts.json. `cpus`: pin the process to these
    cores with as many TensorFlow / OpenMP threads (None: no pinning)."""
    if run_done(model_dir, num_steps):
        return
    os.makedirs(model_dir, exist_ok=True)
    lock = os.path.join(model_dir, "study.lock")
    if os.path.isfile(lock):
        with open(lock) as f:
            owner = int(f.read().strip() or 0)
        if owner and owner != os.getpid() and _alive(owner):
            raise RuntimeError(f"{model_dir} is being trained by another study process (pid "
                               f"{owner}); run the studies on disjoint seeds or wait for it.")
    with open(lock, "w") as f:
        f.write(str(os.getpid()))
    try:
        _train_process(command, model_dir, print_fn, cpus)
    finally:
        os.remove(lock)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def pinned_env(cpus: Sequence[int] | None) -> dict:
    """Thread-count variables for a process pinned to `cpus` (empty when not pinned)."""
    if not cpus:
        return {}
    n = str(len(cpus))
    return {"OMP_NUM_THREADS": n, "TF_NUM_INTRAOP_THREADS": n, "TF_NUM_INTEROP_THREADS": "1"}


def _train_process(command: list[str], model_dir: str, print_fn,
                   cpus: Sequence[int] | None = None) -> None:
    printable = " ".join(shlex.quote(c) for c in ["python", *command[1:]])
    where = f" (cores {','.join(map(str, cpus))})" if cpus else ""
    print_fn(f"[{time.strftime('%H:%M:%S')}] train{where}: {printable}")
    start = time.time()
    with open(os.path.join(model_dir, "train.log"), "a") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {printable}\n")
        log.flush()
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
                               env={**os.environ, "PYTHONPATH": REPO_ROOT + os.pathsep
                                    + os.environ.get("PYTHONPATH", ""),
                                    "TF_CPP_MIN_LOG_LEVEL": "2", **pinned_env(cpus)},
                               preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus
                               else None)
    elapsed = time.time() - start
    summary_path = os.path.join(model_dir, "summary.json")
    attempts_path = os.path.join(model_dir, "attempts.json")
    attempts = _read_json(attempts_path) if os.path.isfile(attempts_path) else []
    attempts.append({"exit_code": code, "process_wall_s": round(elapsed, 1),
                     "cpus": list(cpus) if cpus else None,
                     "summary": _read_json(summary_path) if os.path.isfile(summary_path) else None})
    _write_json(attempts_path, attempts)
    if code != 0:
        raise RuntimeError(f"training failed (exit {code}); see {model_dir}/train.log")
    print_fn(f"[{time.strftime('%H:%M:%S')}] done in {elapsed / 60:.1f} min: {model_dir}")


def _curve(path: str) -> list[dict]:
    return _read_json(path)["records"] if os.path.isfile(path) else []


def collect_run(model_dir: str, dataset_key: str, variant: str, seed: int, command: list[str],
                num_steps: int, gin_dir: str = GIN_DIR) -> dict:
    """Per-run results (final numbers, curves, timing) -> model_dir/run.json."""
    metrics = _curve(os.path.join(model_dir, "eval", "metrics_curve.json"))
    probes = _curve(os.path.join(model_dir, "probe", "probe_curve.json"))
    attempts_path = os.path.join(model_dir, "attempts.json")
    attempts = _read_json(attempts_path) if os.path.isfile(attempts_path) else []
    summaries = [a["summary"] for a in attempts if a.get("summary")]
    summary_path = os.path.join(model_dir, "summary.json")
    if os.path.isfile(summary_path):  # trained outside the runner, or its driver was stopped
        last_summary = _read_json(summary_path)
        if not summaries or summaries[-1] != last_summary:
            summaries.append(last_summary)
    # Wall time of the training processes (from the loop's start; model building excluded).
    wall = sum(s["wall_time_s"] for s in summaries)
    steps = sum(s["steps_this_run"] for s in summaries)
    hooks = sum(r.get("seconds", 0.0) for r in metrics + probes)
    last = summaries[-1] if summaries else {}
    images = steps * last.get("global_batch_size", 64)
    final_metrics = metrics[-1] if metrics else {}
    final_probe = probes[-1] if probes else {}
    result = {
        "dataset": dataset_key, "variant": variant, "seed": seed, "num_steps": num_steps,
        "gin_file": gin_file(dataset_key, variant, gin_dir),
        "command": " ".join(shlex.quote(c) for c in ["python", *command[1:]]),
        "final_step": final_metrics.get("step"),
        **{k: final_metrics[k] for k in FINAL_KEYS if k in final_metrics},
        **{f"probe_{k}": v for k, v in final_probe.items() if k.startswith("block")},
        "wall_time_s": round(wall, 1), "eval_hooks_s": round(hooks, 1),
        "train_time_s": round(wall - hooks, 1),
        "train_img_per_s": round(images / max(wall - hooks, 1e-9), 1) if steps else None,
        "img_per_s_incl_eval": round(images / max(wall, 1e-9), 1) if steps else None,
        "attempts": len(attempts), "precision": last.get("precision"),
        "metrics_curve": metrics, "probe_curve": probes,
    }
    _write_json(os.path.join(model_dir, "run.json"), result)
    return result


def random_init_probes(output_dir: str, dataset_key: str, seeds: Sequence[int],
                       print_fn=print, gin_dir: str = os.path.join(REPO_ROOT, GIN_DIR),
                       variant: str = "ssgan", gin_params: Sequence[str] = ()) -> dict:
    """Probe accuracy of a randomly initialized D (`variant`'s gin file + the study's
    `gin_params`, so the trained Ds' architecture; `seed`), as the hook measures it (same
    subsets, same classifier) -> the step-0 point of the probe curves. A result stored under
    other gin_params is recomputed."""
    path = os.path.join(output_dir, dataset_key, "random_init_probe.json")
    done = _read_json(path) if os.path.isfile(path) else {}
    missing = [s for s in seeds if not _same_params(done.get(str(s)), gin_params)]
    for seed in missing:
        settings = _gin_settings(gin_file(dataset_key, variant, gin_dir), gin_params)
        spec = get_dataset(settings.dataset)
        done[str(seed)] = {**random_init_probe(spec, settings.architecture, seed,
                                               LinearProbeHook()),
                           "gin_params": list(gin_params)}
        print_fn(f"random-init D probe ({dataset_key}, seed {seed}): {done[str(seed)]}")
    if missing:
        _write_json(path, done)
    return done


def _same_params(record: dict | None, gin_params: Sequence[str]) -> bool:
    """A stored random-init result is reusable only if built with these gin_params (results
    written before they were recorded were built with none)."""
    return record is not None and record.get("gin_params", []) == list(gin_params)


def _probe_blocks(discriminator, spec, step: int) -> dict:
    """`linear_eval`'s probe (all train / test examples, float32 D, probe.L2_GRID, 20%
    validation split, seed 0) of the block features; `python -m ssgan_tf.linear_eval` on the
    same checkpoint prints the same block numbers (plus `final`)."""

    encoder = probe_lib.DiscriminatorEncoder(discriminator, step=step)
    train_f, train_y = probe_lib.extract_features(encoder, spec("train"))
    test_f, test_y = probe_lib.extract_features(encoder, spec("test"))
    keys = [k for k in probe_lib.probe_keys(train_f) if k != "final"]
    with threadpool_limits(limits=1):  # see probe_hook: multi-threaded BLAS crawls when shared
        results = probe_lib.probe_all(train_f, train_y, test_f, test_y, keys)
    out = {k: round(r["accuracy"], 5) for k, r in results.items()}
    out.update(step=step, n_train=int(len(train_y)), n_test=int(len(test_y)),
               l2={k: r["l2"] for k, r in results.items()})
    return out


def full_linear_eval(output_dir: str, dataset_key: str, variants: Sequence[str],
                     seeds: Sequence[int], print_fn=print,
                     gin_dir: str = os.path.join(REPO_ROOT, GIN_DIR),
                     gin_params: Sequence[str] = ()) -> dict:
    """Linear evaluation of every final D and of a random-init D per seed (built like
    random_init_probes) on the full train / test splits (blocks) ->
    OUTPUT_DIR/<dataset>/linear_eval.json (issue 7's numbers)."""

    path = os.path.join(output_dir, dataset_key, "linear_eval.json")
    done = _read_json(path) if os.path.isfile(path) else {}
    for variant in variants:
        for seed in seeds:
            key = f"{variant}/seed{seed}"
            if key in done:
                continue
            model_dir = os.path.join(output_dir, dataset_key, variant, f"seed{seed}")
            model, info = runs.load_gan(model_dir)
            done[key] = _probe_blocks(model.discriminator, get_dataset(info["dataset"]),
                                      info["step"])
            print_fn(f"linear_eval {dataset_key} {key}: {done[key]}")
            _write_json(path, done)
    for seed in seeds:
        key = f"random_init/seed{seed}"
        if _same_params(done.get(key), gin_params):
            continue
        settings = _gin_settings(gin_file(dataset_key, variants[-1] if variants else "ssgan",
                                          gin_dir), gin_params)
        spec = get_dataset(settings.dataset)
        discriminator = random_init_discriminator(spec, settings.architecture, seed)
        done[key] = {**_probe_blocks(discriminator, spec, 0), "gin_params": list(gin_params)}
        print_fn(f"linear_eval {dataset_key} {key}: {done[key]}")
        _write_json(path, done)
    return done


# ------------------------------------------------------------------------ aggregation
def mean_std(values: Sequence[float]) -> tuple[float, float, int]:
    """(mean, sample std (ddof=1; 0 for one value), n) of the finite values."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], np.float64)
    if not len(v):
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, int(len(v))


def aggregate_curves(runs: Sequence[dict], curve: str) -> dict:
    """{key: {"step": [...], "mean": [...], "std": [...], "n": [...]}} over seeds."""
    by_key: dict[str, dict[int, list]] = {}
    for run in runs:
        for record in run[curve]:
            for key, value in record.items():
                if key in ("step", "seconds") or not isinstance(value, (int, float)):
                    continue
                by_key.setdefault(key, {}).setdefault(record["step"], []).append(value)
    out = {}
    for key, steps in by_key.items():
        ordered = sorted(steps)
        stats = [mean_std(steps[s]) for s in ordered]
        out[key] = {"step": ordered, "mean": [s[0] for s in stats], "std": [s[1] for s in stats],
                    "n": [s[2] for s in stats]}
    return out


def _fmt(m: float, s: float, n: int, digits: int) -> str:
    if n == 0 or not np.isfinite(m):
        return "n/a"
    return f"{m:.{digits}f} ± {s:.{digits}f}" if n > 1 else f"{m:.{digits}f}"


def plot_study(dataset_key: str, aggregated: dict, random_init: dict, path_prefix: str) -> list:
    """Curves (mean ± std over seeds) per variant: FID, domain FD, probe accuracy per block,
    rotation accuracy. Returns the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"gan": "tab:red", "ssgan": "tab:blue", "ssgan_sbn": "tab:green",
              "gan_diffaug": "tab:orange", "ssgan_diffaug": "tab:purple"}
    paths = []

    def band(ax, curve, label, color, style="-"):
        x, m, s = (np.asarray(curve[k], float) for k in ("step", "mean", "std"))
        if len(x) == 1:  # one evaluation (e.g. Inception only at the end): an error bar
            ax.errorbar(x, m, yerr=s, fmt="o", color=color, capsize=4, label=label)
            return
        ax.plot(x, m, style, color=color, marker="o", ms=3, label=label)
        ax.fill_between(x, m - s, m + s, color=color, alpha=0.15)

    # Sample quality.
    keys = [k for k in ("fid", "kid", "domain_fd", "domain_kid")
            if any(k in a["metrics"] for a in aggregated.values())]
    if keys:
        fig, axes = plt.subplots(1, len(keys), figsize=(3.3 * len(keys), 3.0))
        for ax, key in zip(np.atleast_1d(axes), keys):
            for variant, agg in aggregated.items():
                if key in agg["metrics"]:
                    band(ax, agg["metrics"][key], VARIANTS.get(variant, variant),
                         colors.get(variant))
            ax.set_title(key.replace("_", " "), fontsize=9)
            ax.set_xlabel("G step", fontsize=8)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=7)
        np.atleast_1d(axes)[0].legend(fontsize=7)
        fig.suptitle(f"{dataset_key}: sample quality over training (mean ± std over seeds)",
                     fontsize=9)
        fig.tight_layout()
        paths.append(f"{path_prefix}_quality.png")
        fig.savefig(paths[-1], dpi=80)
        plt.close(fig)
    # Linear probe per block (step 0 = random-init D).
    blocks = sorted({k for a in aggregated.values() for k in a["probe"] if k.startswith("block")},
                    key=lambda k: int(k[5:]))
    if blocks:
        fig, axes = plt.subplots(1, len(blocks), figsize=(3.0 * len(blocks), 3.0), sharey=True)
        for ax, block in zip(np.atleast_1d(axes), blocks):
            init = mean_std([r.get(block) for r in random_init.values()])
            for variant, agg in aggregated.items():
                if block not in agg["probe"]:
                    continue
                curve = dict(agg["probe"][block])
                if init[2]:
                    curve = {"step": [0] + curve["step"], "mean": [init[0]] + curve["mean"],
                             "std": [init[1]] + curve["std"]}
                band(ax, curve, VARIANTS.get(variant, variant), colors.get(variant))
            ax.set_title(f"probe accuracy, {block}", fontsize=9)
            ax.set_xlabel("G step (0 = random init)", fontsize=8)
            ax.grid(alpha=0.3)
            ax.tick_params(labelsize=7)
        np.atleast_1d(axes)[0].legend(fontsize=7)
        fig.tight_layout()
        paths.append(f"{path_prefix}_probe.png")
        fig.savefig(paths[-1], dpi=80)
        plt.close(fig)
    # Rotation accuracy, and D's overfitting signal when a held-out split was measured.
    keys = ["rotation_accuracy_real", "rotation_accuracy_fake"]
    keys += [k for k in ("d_logit_gap",) if any(k in a["metrics"] for a in aggregated.values())]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.3 * len(keys), 3.0))
    for ax, key in zip(axes, keys):
        for variant, agg in aggregated.items():
            if key in agg["metrics"]:
                band(ax, agg["metrics"][key], VARIANTS.get(variant, variant),
                     colors.get(variant))
        ax.set_title(key.replace("_", " "), fontsize=9)
        ax.set_xlabel("G step", fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    paths.append(f"{path_prefix}_rotation.png")
    fig.savefig(paths[-1], dpi=80)
    plt.close(fig)
    return paths


def aggregate(output_dir: str, datasets: Sequence[str], variants: Sequence[str],
              seeds: Sequence[int], print_fn=print) -> dict:
    """results.json, results.md and plots/ from every run.json present."""
    results: dict = {"datasets": {}}
    lines = ["# Study results (generated by `python -m ssgan_tf.experiments.study`)", ""]
    os.makedirs(os.path.join(output_dir, "plots"), exist_ok=True)
    for dataset_key in datasets:
        runs = {v: [] for v in variants}
        for variant in variants:
            for seed in seeds:
                path = os.path.join(output_dir, dataset_key, variant, f"seed{seed}", "run.json")
                if os.path.isfile(path):
                    runs[variant].append(_read_json(path))
        if not any(runs.values()):
            continue
        random_path = os.path.join(output_dir, dataset_key, "random_init_probe.json")
        random_init = _read_json(random_path) if os.path.isfile(random_path) else {}
        aggregated, finals = {}, {}
        for variant, rs in runs.items():
            if not rs:
                continue
            aggregated[variant] = {"metrics": aggregate_curves(rs, "metrics_curve"),
                                   "probe": aggregate_curves(rs, "probe_curve")}
            keys = sorted({k for r in rs for k in r if k in FINAL_KEYS or k.startswith("probe_b")
                           or k in ("train_img_per_s", "img_per_s_incl_eval", "wall_time_s",
                                    "train_time_s", "eval_hooks_s")})
            finals[variant] = {k: mean_std([r.get(k) for r in rs]) for k in keys}
            finals[variant]["seeds"] = [r["seed"] for r in rs]
            finals[variant]["num_steps"] = rs[0]["num_steps"]
        plots = plot_study(dataset_key, aggregated, random_init,
                           os.path.join(output_dir, "plots", dataset_key))
        linear_path = os.path.join(output_dir, dataset_key, "linear_eval.json")
        linear = _read_json(linear_path) if os.path.isfile(linear_path) else {}
        results["datasets"][dataset_key] = {"final": finals, "curves": aggregated,
                                            "random_init_probe": random_init,
                                            "linear_eval": linear, "plots": plots}
        lines += _markdown(dataset_key, finals, random_init, linear, plots, output_dir)
        lines[-1:-1] = _over_training_markdown(aggregated, random_init)
    _write_json(os.path.join(output_dir, "results.json"), results)
    with open(os.path.join(output_dir, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print_fn(f"wrote {os.path.join(output_dir, 'results.md')} and results.json")
    return results


def _over_training_markdown(aggregated: dict, random_init: dict) -> list[str]:
    """Mean ± std over seeds at every evaluated step: FID, domain FD, rotation accuracy and the
    deepest probe blocks (step 0 = random init); plus each probe's best step, the "does it rise
    then fall" question."""
    lines: list[str] = []
    tables = [("metrics", "fid", "FID (Inception)", 1), ("metrics", "domain_fd", "domain FD", 1),
              ("metrics", "rotation_accuracy_real", "rotation accuracy, real", 3),
              ("metrics", "rotation_accuracy_fake", "rotation accuracy, fake", 3),
              ("metrics", "d_logit_gap", "D logit gap, train - held-out reals", 3)]
    blocks = sorted({k for a in aggregated.values() for k in a["probe"] if k.startswith("block")},
                    key=lambda k: int(k[5:]))
    tables += [("probe", b, f"linear probe, {b}", 3) for b in blocks[-2:]]
    for section, key, title, digits in tables:
        curves = {v: a[section][key] for v, a in aggregated.items() if key in a[section]}
        if not curves:
            continue
        steps = sorted({s for c in curves.values() for s in c["step"]})
        init = (mean_std([r.get(key) for r in random_init.values()])
                if section == "probe" and random_init else None)
        head = (["0"] if init and init[2] else []) + [str(s) for s in steps]
        best = section == "probe"
        lines += ["", f"{title} over training (G step; mean ± std over seeds):", "",
                  "| variant | " + " | ".join(head) + (" | best step |" if best else " |"),
                  "|---" * (len(head) + 1 + best) + "|"]
        for variant, curve in curves.items():
            at = dict(zip(curve["step"], zip(curve["mean"], curve["std"], curve["n"])))
            cells = [_fmt(*init, digits)] if init and init[2] else []
            cells += [_fmt(*at[s], digits) if s in at else "-" for s in steps]
            row = f"| {VARIANTS.get(variant, variant)} | " + " | ".join(cells) + " |"
            if best:
                row += f" {curve['step'][int(np.argmax(curve['mean']))]} |"
            lines.append(row)
    return lines


def _markdown(dataset_key, finals, random_init, linear, plots, output_dir) -> list[str]:
    lines = [f"## {dataset_key}", ""]
    any_final = next(iter(finals.values()))
    lines += [f"Final step {any_final['num_steps']}; mean ± std over seeds "
              f"{any_final['seeds']}.", ""]
    cols = [("fid", "FID", 1), ("kid", "KID", 4), ("domain_fd", "domain FD", 2),
            ("domain_kid", "domain KID", 4), ("rotation_accuracy_real", "rot. acc. real", 3),
            ("rotation_accuracy_fake", "rot. acc. fake", 3),
            ("d_logit_gap", "D logit gap", 3),
            ("train_img_per_s", "train img/s", 0), ("wall_time_s", "wall s", 0)]
    lines.append("| variant | " + " | ".join(c[1] for c in cols) + " |")
    lines.append("|---" * (len(cols) + 1) + "|")
    for variant, f in finals.items():
        lines.append(f"| {VARIANTS.get(variant, variant)} | " + " | ".join(
            _fmt(*f.get(k, (float("nan"), 0, 0)), d) for k, _, d in cols) + " |")
    blocks = sorted({k[6:] for f in finals.values() for k in f if k.startswith("probe_block")},
                    key=lambda k: int(k[5:]))
    if blocks:
        lines += ["", "Linear probe (hook subsets) at the final step; random init = step 0:", "",
                  "| D | " + " | ".join(blocks) + " |", "|---" * (len(blocks) + 1) + "|"]
        if random_init:
            lines.append("| random init | " + " | ".join(
                _fmt(*mean_std([r.get(b) for r in random_init.values()]), 3)
                for b in blocks) + " |")
        for variant, f in finals.items():
            lines.append(f"| {VARIANTS.get(variant, variant)} | " + " | ".join(
                _fmt(*f.get(f"probe_{b}", (float("nan"), 0, 0)), 3) for b in blocks) + " |")
    if linear:
        groups: dict[str, list] = {}
        for key, value in linear.items():
            groups.setdefault(key.split("/")[0], []).append(value)
        feats = [k for k in next(iter(linear.values())) if k.startswith("block")]
        lines += ["", "Linear evaluation of the final Ds (all train / test examples, "
                  "`linear_eval`'s probe):", "",
                  "| D | " + " | ".join(feats) + " |", "|---" * (len(feats) + 1) + "|"]
        for group in sorted(groups, key=lambda g: (g != "random_init", g)):
            values = groups[group]
            lines.append(f"| {VARIANTS.get(group, group.replace('_', ' '))} | " + " | ".join(
                _fmt(*mean_std([v.get(k) for v in values]), 3) for k in feats) + " |")
    lines += [""] + [f"![{os.path.basename(p)}]({os.path.relpath(p, output_dir)})"
                     for p in plots] + [""]
    return lines


# ------------------------------------------------------------------------------ driver
def core_slots(parallel: int) -> list:
    """`parallel` disjoint, equal sets of the cores this process may use, one per concurrent
    run; `[None]` (no pinning) for one run at a time."""
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise StudyError(f"--parallel={parallel!r}: expected a positive integer.")
    if parallel == 1:
        return [None]
    cores = sorted(os.sched_getaffinity(0))
    if parallel > len(cores):
        raise StudyError(f"--parallel={parallel}: this process may use {len(cores)} cores "
                         f"({cores}); run at most that many trainings at once.")
    per_run = len(cores) // parallel
    return [cores[i * per_run:(i + 1) * per_run] for i in range(parallel)]


def run_jobs(jobs: Sequence, slots: Sequence, on_done=lambda: None) -> None:
    """Calls each job with a free slot (a core set or None), `len(slots)` at a time; all jobs
    run even when one fails, then the first failure is raised."""
    free: queue.Queue = queue.Queue()
    for slot in slots:
        free.put(slot)

    def work(job):
        slot = free.get()
        try:
            job(slot)
        finally:
            free.put(slot)
            on_done()

    with concurrent.futures.ThreadPoolExecutor(len(slots)) as pool:
        futures = [pool.submit(work, job) for job in jobs]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]


def _one_run(description: str, command: list[str], model_dir: str, num_steps: int, key: tuple,
             command_gin_dir: str, bar: Progress, say, cpus) -> None:
    bar.describe(description)
    train_run(command, model_dir, num_steps, say, cpus)
    collect_run(model_dir, *key, command, num_steps, command_gin_dir)


def run_study(output_dir: str, inception: str | None, datasets: Sequence[str] = ("digits",),
              variants: Sequence[str] = DEFAULT_VARIANTS, seeds: Sequence[int] = (0, 1, 2),
              gin_params: Sequence[str] = (), domain: bool = True,
              linear_eval_datasets: Sequence[str] = (), gin_dir: str | None = None,
              print_fn=print, parallel: int = 1) -> dict:
    """Trains what is missing, then aggregates (see the module docstring). `inception=None`
    skips FID/KID (tests); `gin_dir` holds the results_<dataset>_<variant>.gin files (default:
    the repository's gin/); `parallel` runs that many trainings at once, each pinned to its own
    share of the cores (`core_slots`)."""
    if inception is not None and not os.path.isfile(inception):
        raise StudyError(f"--inception={inception!r} does not exist: pass the local FID "
                         "Inception weights (e.g. fid_inception_v3_2015_12_05_weights.npz).")
    gin_dir = os.path.abspath(gin_dir) if gin_dir else os.path.join(REPO_ROOT, GIN_DIR)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise StudyError(f"unknown variant(s) {unknown}; known: {list(VARIANTS)}.")
    for d in datasets:
        for v in variants:
            if not os.path.isfile(gin_file(d, v, gin_dir)):
                raise StudyError(f"{gin_file(d, v, gin_dir)} does not exist (dataset {d!r}, "
                                 f"variant {v!r}); add it or drop the dataset.")
    output_dir = os.path.abspath(output_dir)
    inception = os.path.abspath(inception) if inception else None
    command_gin_dir = (GIN_DIR if gin_dir == os.path.join(REPO_ROOT, GIN_DIR) else gin_dir)
    started = time.time()
    slots = core_slots(parallel)
    with Progress(len(datasets) * len(variants) * len(seeds), "study", unit="run") as bar:
        def say(line: str) -> None:
            bar.write(line, print_fn)

        jobs = []
        for dataset_key in datasets:
            settings = _gin_settings(gin_file(dataset_key, variants[0], gin_dir), gin_params)
            domain_path = (domain_extractor(output_dir, dataset_key, settings.dataset,
                                            print_fn=say) if domain else None)
            cache_dir = os.path.join(output_dir, dataset_key, "cache")
            for seed in seeds:
                for variant in variants:
                    model_dir = os.path.join(output_dir, dataset_key, variant, f"seed{seed}")
                    command = train_command(dataset_key, variant, seed, model_dir, inception,
                                            domain_path, cache_dir, gin_params,
                                            command_gin_dir)
                    num_steps = _gin_settings(gin_file(dataset_key, variant, gin_dir),
                                              gin_params).num_steps
                    jobs.append(functools.partial(
                        _one_run, f"study: {dataset_key} {variant} seed {seed}", command,
                        model_dir, num_steps, (dataset_key, variant, seed), command_gin_dir,
                        bar, say))
        run_jobs(jobs, slots, on_done=lambda: bar.update(1))
        for dataset_key in datasets:
            bar.describe(f"study: {dataset_key} probes and tables")
            random_init_probes(output_dir, dataset_key, seeds, say, gin_dir, variants[-1],
                               gin_params)
            if dataset_key in linear_eval_datasets:
                full_linear_eval(output_dir, dataset_key, variants, seeds, say, gin_dir,
                                 gin_params)
            aggregate(output_dir, datasets, variants, seeds, say)
    results = aggregate(output_dir, datasets, variants, seeds, print_fn)
    print_fn(f"study finished in {(time.time() - started) / 60:.1f} min (this invocation)")
    return results


def build_parser() -> cli.Parser:
    parser = cli.Parser("ssgan_tf.experiments.study", __doc__)
    parser.add_argument("--preset", help="A named study (its flags; flags given here win): "
                        + preset_help())
    parser.add_argument("--config", help="JSON file whose keys set any of these flags.")
    parser.add_argument("--output_dir", default="runs/study", help="Where runs, plots and "
                        "tables go.")
    parser.add_argument("--inception", help="Local FID Inception weights (.npz / .pb / .pth); "
                        "'none' skips FID/KID.")
    parser.add_csv("datasets", ["digits"], "Keys of gin/results_<dataset>_<variant>.gin")
    parser.add_csv("variants", list(DEFAULT_VARIANTS), ", ".join(VARIANTS))
    parser.add_csv("seeds", ["0", "1", "2"], "train.seed values")
    parser.add_list("gin_param", "Extra binding for every run (e.g. 'train.num_steps = 200')")
    parser.add_bool("domain", True, "Train / use the domain-feature extractor")
    parser.add_csv("linear_eval_datasets", [], "Datasets whose final Ds (and random-init Ds) "
                   "get a full linear_eval")
    parser.add_argument("--parallel", type=int, default=1, help="Trainings at once, each pinned "
                        "to an equal share of the cores (1: one at a time, on all of them).")
    parser.add_argument("--gin_dir", help="Directory of the results_<dataset>_<variant>.gin "
                        "files (default: the repository's gin/).")
    return parser


def _apply_config_file(args) -> None:
    """`--config=F`: a JSON file's keys set flags (flags given on the command line lose)."""
    for key, value in _read_json(args.config).items():
        if key not in vars(args) or key in ("config", "preset"):
            raise StudyError(f"--config={args.config}: unknown key {key!r}.")
        setattr(args, key, value)


def given_flags(argv: Sequence[str]) -> set[str]:
    """The flags `argv` sets, whatever their values: `--datasets=digits` is given even though
    it equals the default, so a preset must not replace it."""
    parser = build_parser()
    parser.set_defaults(**{key: None for key in vars(parser.parse_args([]))})
    return {key for key, value in vars(parser.parse_args(list(argv))).items() if value is not None}


def apply_preset(args, given: set[str]) -> None:
    """`--preset=NAME`: the preset's flags, except those in `given` (set on the command line)."""
    if args.preset not in PRESETS:
        raise StudyError(f"--preset={args.preset!r}: unknown; the presets are "
                         f"{', '.join(PRESETS)}.")
    for key, value in PRESETS[args.preset]["flags"].items():
        if key not in given:
            setattr(args, key, value)


def run_from_args(args, given: set[str] = frozenset()) -> None:
    if args.preset:
        apply_preset(args, given)
    if args.config:
        _apply_config_file(args)
    if not args.inception:
        raise StudyError("--inception is required (a local FID Inception weights file, e.g. "
                         "fid_inception_v3_2015_12_05_weights.npz); pass --inception=none to "
                         "skip FID/KID.")
    inception = None if args.inception == "none" else args.inception
    run_study(args.output_dir, inception, args.datasets, args.variants,
              [int(s) for s in args.seeds], args.gin_param, args.domain,
              args.linear_eval_datasets, args.gin_dir,
              print_fn=lambda message: print(message, flush=True), parallel=args.parallel)


def main(argv: list[str] | None = None) -> int:
    """`python -m ssgan_tf.experiments.study ...`: 0 on success, 1 with a message."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return cli.run(build_parser(), lambda args: run_from_args(args, given_flags(argv)), argv)


if __name__ == "__main__":
    sys.exit(main())
