"""Experiments from the papers, runnable as modules (`python -m ssgan_tf.experiments.X`)."""
