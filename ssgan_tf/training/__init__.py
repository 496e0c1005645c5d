"""Training: `config.TrainConfig` (the `train.*` gin bindings) and `trainer.Trainer` / `train()`,
which run `GAN.train_step` under a tf.distribute strategy, and what they are made of:

    builders       the training data (registry or user_data) and the model
    precision      the Keras dtype policy (`train.precision`)
    loop           the compiled tf.range loop and where each chunk of steps ends
    checkpointing  restore the newest readable checkpoint, save each step once, the z seed
    lock           one training per model_dir
    faults         signals, non-finite weights, a full disk (docs/faults.md)
    callbacks      log lines, samples, TensorBoard scalars, periodic hooks
    preemption     a SIGTERM to one worker of a multi-worker run stops them all together
"""
