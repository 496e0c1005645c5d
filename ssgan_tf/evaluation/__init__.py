"""Evaluation: FID / KID / IS (metrics/), linear probes of D's features, latent-space tools, and
the periodic evaluation hooks the training loop can run."""
