"""ssgan_tf vs torch-mimicry, SSGAN ResNet-CIFAR step at batch 64, on this machine, in one run.

    python benchmarks/compare_mimicry.py --mimicry_python=.venv-mimicry/bin/python --output=cmp.json \
        [--inception=fid_inception_v3_2015_12_05_weights.npz]

Equal settings: G 256 / D 128 channels with SN in D, batch 64, one D + one G update per step,
64 rotation examples per half (mimicry rotates each quarter of the batch by one angle in a
separate D pass; we rotate the last 16 images by 0/90/180/270 inside the single D call:
`RotationTask.rotated_batch_size = 64`). Reports both img/s per precision and their ratios, plus
our bf16/fp32 speedup against the machine's measured bf16/fp32 peak ratio. Our runs also time the
step without rotation (`rotation_cost_ratio`) and its conv/matmul kernels in isolation
(`kernel_peak_fraction`, `kernel_share`; see ssgan_tf/kernel_ceiling.py).
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OURS = ["--gin_file=gin/cifar10_ssgan.gin", "--gin_param=GAN.disc_iters = 1",
        "--gin_param=RotationTask.rotated_batch_size = 64"]


def run_json(cmd, out_path):
    subprocess.run(cmd, cwd=ROOT, check=True)
    with open(out_path) as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mimicry_python", required=True)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--output", default="benchmarks/compare_mimicry.json")
    parser.add_argument("--workdir", default="/tmp")
    parser.add_argument("--inception", default=None,
                        help="FID Inception weights: also report eval feature img/s.")
    args = parser.parse_args()
    extra = ["--compare_rotation", "--kernels"]
    if args.inception:
        extra.append(f"--inception={os.path.abspath(args.inception)}")
    result = {}
    for ours_precision, torch_precision in (("float32", "float32"),
                                            ("mixed_bfloat16", "bfloat16")):
        ours_path = os.path.join(args.workdir, f"ours_{ours_precision}.json")
        ours = run_json([sys.executable, "-m", "ssgan_tf.benchmark", *OURS,
                         *extra, f"--precision={ours_precision}", f"--steps={args.steps}",
                         f"--output={ours_path}"], ours_path)
        peer_path = os.path.join(args.workdir, f"mimicry_{torch_precision}.json")
        peer = run_json([args.mimicry_python, os.path.join(HERE, "mimicry_ssgan_step.py"),
                         f"--precision={torch_precision}", f"--steps={args.steps}",
                         f"--output={peer_path}"], peer_path)
        key = "fp32" if ours_precision == "float32" else "bf16"
        result.update({f"ours_{key}_img_per_s": ours["img_per_s"],
                       f"ours_{key}_peak_fraction": ours["peak_fraction"],
                       f"ours_{key}_peak_gflops": ours["peak_gflops"],
                       f"mimicry_{key}_img_per_s": peer["img_per_s"],
                       f"speedup_vs_mimicry_{key}": ours["img_per_s"] / peer["img_per_s"]})
        for field in ("step_s", "achieved_gflops", "kernel_peak_fraction", "kernel_share",
                      "rotation_cost_ratio", "pipeline_img_per_s", "pipeline_vs_step",
                      "sample_img_per_s", "eval_inception_img_per_s"):
            if field in ours:
                result[f"ours_{key}_{field}"] = ours[field]
        result[f"mimicry_{key}_step_s"] = peer.get("step_s")
    result["ours_bf16_over_fp32"] = result["ours_bf16_img_per_s"] / result["ours_fp32_img_per_s"]
    result["peak_bf16_over_fp32"] = result["ours_bf16_peak_gflops"] / result[
        "ours_fp32_peak_gflops"]
    result["bf16_speedup_vs_peak_ratio"] = (result["ours_bf16_over_fp32"]
                                            / result["peak_bf16_over_fp32"])
    print(json.dumps(result, indent=2))
    with open(args.output, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
