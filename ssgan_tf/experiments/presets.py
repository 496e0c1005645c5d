"""Named studies: `python -m ssgan_tf.experiments.study --preset=NAME --inception=PATH` runs one
of docs/results.md's studies with its flags (any flag given on the command line wins).

Each preset says what it costs where it was measured, or that its cost is an estimate (step cost
x steps + evaluations) because it has not been run to the end on this project's machines.
"""

from __future__ import annotations

PRESETS: dict[str, dict] = {
    "small_data": {
        "about": "GAN vs SSGAN, with and without DiffAugment, on 500 digits and 4,670 CIFAR "
                 "images (SNDCGAN ch 16, 2,000 steps, 3 seeds; docs/results.md, 'Small data')",
        "cost": "measured on a 2-core Intel Xeon with AMX (bf16), one run at a time: digits500 "
                "37 min, cifar10small 37 min",
        "flags": {"output_dir": "runs/study_small", "datasets": ["digits500", "cifar10small"],
                  "variants": ["gan", "ssgan", "gan_diffaug", "ssgan_diffaug"],
                  "seeds": ["0", "1", "2"]},
    },
    "forgetting": {
        "about": "D's forgetting over 10x longer training: GAN vs SSGAN, 10,000 G steps, probe "
                 "every 500, FID every 2,000, on digits and the CIFAR-10 subset (SNDCGAN ch 16, "
                 "3 seeds)",
        "cost": "measured on a 2-core Intel Xeon with AMX (bf16) with --parallel=2 (one core "
                "per run): digits GAN runs 15-18 min and SSGAN runs 21-25 min (the digits half "
                "about 70 min), CIFAR subset GAN runs 18-25 min and SSGAN runs 25-33 min (about "
                "80 min), both halves about 2.5 hours; expect about twice that on AVX-512 BF16 "
                "and float32 AVX2 CPUs",
        "flags": {"output_dir": "runs/study_forgetting", "datasets": ["digits", "cifar10subset"],
                  "variants": ["gan", "ssgan"], "seeds": ["0", "1", "2"],
                  "linear_eval_datasets": ["digits"],
                  "gin_param": ["train.num_steps = 10000", "train.save_every = 1000",
                                "sndcgan.Generator.ch = 16", "sndcgan.Discriminator.ch = 16",
                                "LinearProbeHook.every = 500", "MetricsHook.every = 1000",
                                "MetricsHook.inception_every = 2000"]},
    },
}


def preset_help() -> str:
    """One line per preset for --help."""
    return "; ".join(f"{name}: {p['about']} [{p['cost']}]" for name, p in PRESETS.items())


__all__ = ["PRESETS", "preset_help"]
