"""Training: the loop that runs `GAN.train_step` under a tf.distribute strategy and everything
around it (precision, checkpoints written, faults, signals, logs, samples, hooks)."""
