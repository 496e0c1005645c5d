"""The checkpoint files of a run on disk, read without trusting the `checkpoint` state file.

TensorFlow's `CheckpointManager` knows only the checkpoints the state file lists: a corrupted
state file reads as "no checkpoint", and a run would restart from step 0 over its own
checkpoints. Here the `ckpt-N.index` files on disk are the truth; the state file is a hint,
repaired when it disagrees.
"""

from __future__ import annotations

import os
import re
import shutil

import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2

STATE_FILE = "checkpoint"
_INDEX = re.compile(r"^ckpt-(\d+)\.index$")
_TEMP = re.compile(r"^ckpt-\d+_temp")


def checkpoint_step(path: str) -> int:
    """N of a `.../ckpt-N` prefix (-1 when the name has no number)."""
    match = re.search(r"ckpt-(\d+)$", path)
    return int(match.group(1)) if match else -1


def checkpoints_on_disk(directory: str) -> list[str]:
    """Every `ckpt-N` prefix whose `.index` file exists, oldest first."""
    if not os.path.isdir(directory):
        return []
    steps = sorted(int(m.group(1)) for m in map(_INDEX.match, os.listdir(directory)) if m)
    return [os.path.join(directory, f"ckpt-{step}") for step in steps]


def read_state(directory: str) -> tuple[list[str], str | None]:
    """(the checkpoints the state file lists, what is wrong with it or None).

    TensorFlow's reader returns None for a corrupted state file (and logs a warning), which
    looks the same as "no checkpoint yet": a state file that exists but reads as None is
    corrupted."""
    path = os.path.join(directory, STATE_FILE)
    if not os.path.exists(path):
        return [], None
    try:
        state = tf.train.get_checkpoint_state(directory)
    except (OSError, ValueError, tf.errors.OpError) as e:  # ValueError: empty / binary
        state, reason = None, f"{type(e).__name__}: {str(e)[:120]}"
    else:
        reason = "not a checkpoint state file"
    if state is None:
        return [], f"{path} is unreadable ({reason})"
    listed = list(state.all_model_checkpoint_paths)
    missing = [os.path.basename(p) for p in listed if not os.path.exists(p + ".index")]
    if missing:
        return listed, f"{path} lists {', '.join(missing)}, which is not on disk"
    return listed, None


def restore_candidates(directory: str, print_fn=print) -> list[str]:
    """The `ckpt-N` on disk to try, newest step first.

    With a sound state file, a newer `ckpt-N` that it does not list is a save that never
    committed (the state file is written last) and is skipped. A state file that is corrupted
    or lists files that are gone is reported and ignored."""
    listed, problem = read_state(directory)
    on_disk = checkpoints_on_disk(directory)
    if problem and on_disk:
        print_fn(f"WARNING: {problem}; using the checkpoints found on disk "
                 f"({', '.join(os.path.basename(p) for p in on_disk)}).")
    if listed and not problem:
        newest = checkpoint_step(listed[-1])
        on_disk = [p for p in on_disk if checkpoint_step(p) <= newest]
    return on_disk[::-1]


def repair_state(directory: str, restored: str) -> bool:
    """Rewrites the state file to name `restored` as the latest and the readable-looking
    checkpoints up to its step as the kept ones, when it says otherwise; True if rewritten.

    A newer but unreadable checkpoint then drops out of the list (and is replaced when training
    reaches its step again), and `CheckpointManager` manages the older ones again."""
    listed, problem = read_state(directory)
    step = checkpoint_step(restored)
    kept = [p for p in checkpoints_on_disk(directory) if checkpoint_step(p) <= step]
    if not problem and listed and listed[-1] == restored and set(listed) <= set(kept):
        return False
    # Timestamps after `last_preserved` make CheckpointManager count them against max_to_keep.
    stamps = [os.path.getmtime(p + ".index") for p in kept]
    tf.compat.v1.train.update_checkpoint_state(
        directory, os.path.basename(restored),
        all_model_checkpoint_paths=[os.path.basename(p) for p in kept],
        all_model_checkpoint_timestamps=stamps,
        last_preserved_timestamp=min(stamps, default=0.0) - 1.0)
    return True


def remove_temp_dirs(directory: str) -> list[str]:
    """Removes `ckpt-N_temp*` left by a save that was killed halfway; returns their names."""
    if not os.path.isdir(directory):
        return []
    names = [n for n in os.listdir(directory) if _TEMP.match(n)]
    for name in names:
        path = os.path.join(directory, name)
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)
    return names


def saved_shapes(path: str, parts: dict) -> dict[str, list[int]]:
    """{"discriminator/conv1/kernel": shape} of the network variables saved in checkpoint
    `path`, read through its object graph (a trainable variable is stored under the optimizer
    that first reached it, not under its network)."""
    reader = tf.train.load_checkpoint(path)
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    shapes = reader.get_variable_to_shape_map()
    found = {}
    root = graph.nodes[0]
    for child in root.children:
        if child.local_name not in parts:
            continue
        network = graph.nodes[child.node_id]
        for holder in network.children:  # VariableMap.variables_by_path
            for var in graph.nodes[holder.node_id].children:
                keys = [a.checkpoint_key for a in graph.nodes[var.node_id].attributes]
                if keys and keys[0] in shapes:
                    name = f"{child.local_name}/{var.local_name.replace('.', '/')}"
                    found[name] = list(shapes[keys[0]])
    return found
