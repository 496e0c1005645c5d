"""A training run on disk (a model_dir): what its networks are (`model.json`), its checkpoints,
and rebuilding the trained GAN from them. Training writes a run; export and evaluation read one.
"""

from ssgan_tf.runs.checkpoints import (
    checkpoint_dir,
    checkpoint_parts,
    latest_checkpoint,
    make_checkpoint,
    restore_with_fallback,
)
from ssgan_tf.runs.info import (
    MODEL_INFO,
    check_same_model,
    model_info,
    read_model_info,
    write_model_info,
)
from ssgan_tf.runs.restore import build_networks, load_gan

__all__ = ["MODEL_INFO", "build_networks", "check_same_model", "checkpoint_dir",
           "checkpoint_parts", "latest_checkpoint", "load_gan", "make_checkpoint", "model_info",
           "read_model_info", "restore_with_fallback", "write_model_info"]
