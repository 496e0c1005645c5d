"""Times torch-mimicry's SSGAN-32 training step (peer comparison for `ssgan_tf.benchmark`).

Runs in a separate virtualenv with torch and torch-mimicry (never a dependency of ssgan_tf):

    python -m venv .venv-mimicry
    .venv-mimicry/bin/pip install torch numpy && .venv-mimicry/bin/pip install --no-deps torch-mimicry
    .venv-mimicry/bin/python benchmarks/mimicry_ssgan_step.py --precision=float32 --output=m.json

Only mimicry's networks are imported (its package __init__ pulls torchvision, TensorFlow
metrics and datasets, which a step does not need). One step = mimicry's own `netD.train_step`
then `netG.train_step` (n_dis = 1), batch 64, SSGAN-32 (G 256 ch, D 128 ch, SN, hinge), real
images random in [-1, 1] as its data pipeline gives; the median of N steps after warm-up.
"""

import argparse
import contextlib
import importlib.util
import json
import statistics
import sys
import time
import types


class _Log:
    """Stands in for mimicry's MetricLog (the step only calls add_metric)."""

    def add_metric(self, *args, **kwargs):
        pass


def import_mimicry_nets():
    spec = importlib.util.find_spec("torch_mimicry")
    if spec is None:
        sys.exit("error: torch_mimicry is not installed in this interpreter (see the docstring).")
    package = types.ModuleType("torch_mimicry")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["torch_mimicry"] = package
    from torch_mimicry.nets.ssgan.ssgan_32 import SSGANDiscriminator32, SSGANGenerator32
    return SSGANGenerator32, SSGANDiscriminator32


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--precision", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="0: torch's default")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    generator_cls, discriminator_cls = import_mimicry_nets()
    net_g, net_d = generator_cls(), discriminator_cls()
    opt_g = torch.optim.Adam(net_g.parameters(), 2e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(net_d.parameters(), 2e-4, betas=(0.0, 0.9))
    real = (torch.rand(args.batch_size, 3, 32, 32) * 2 - 1, None)
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if args.precision == "bfloat16"
                else contextlib.nullcontext())

    def step(i):
        with autocast:
            net_d.train_step(real, net_g, opt_d, _Log(), device="cpu", global_step=i)
            net_g.train_step(real, net_d, opt_g, _Log(), device="cpu", global_step=i)

    for i in range(args.warmup):
        step(i)
    times = []
    for i in range(args.steps):
        start = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - start)
    step_s = statistics.median(times)
    result = {"peer": "torch-mimicry SSGAN-32", "precision": args.precision,
              "batch_size": args.batch_size, "step_s": step_s,
              "img_per_s": args.batch_size / step_s, "torch_version": torch.__version__,
              "threads": torch.get_num_threads()}
    print(json.dumps(result))
    if args.output:
        with open(args.output, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
