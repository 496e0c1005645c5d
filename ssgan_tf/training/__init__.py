"""Training: `config.TrainConfig` (the `train.*` gin bindings) and `trainer.Trainer` / `train()`,
which run `GAN.train_step` under a tf.distribute strategy, and what they are made of:

    builders       the training data (registry or user_data) and the model
    precision      the Keras dtype policy (`train.precision`)
    loop           the compiled tf.range loop and where each chunk of steps ends
    checkpointing  restore the newest readable checkpoint, save each step once, the z seed
    lock           one training per model_dir
    faults         signals, non-finite weights, a full disk (docs/faults.md)
    callbacks      log lines, samples, TensorBoard scalars, periodic hooks
    keras_callbacks  the same samples, hooks and scalars as Keras callbacks for `GAN.fit`
                   (`SampleGrid`, `HookCallback`, `TrainScalars`, exported here)
    preemption     a SIGTERM to one worker of a multi-worker run stops them all together
"""

from ssgan_tf.training.keras_callbacks import HookCallback, SampleGrid, TrainScalars

__all__ = ["HookCallback", "SampleGrid", "TrainScalars"]
