"""Evaluation: FID / KID / IS / precision-recall-density-coverage (metrics/), the `evaluate`
inputs (images, samplers), linear probes of D's features, latent-space tools, the run report, and
the periodic evaluation hooks the training loop can run."""
