"""Multi-stage pipelines built from training runs: S2GAN (pre-training, k-means, GAN)."""
