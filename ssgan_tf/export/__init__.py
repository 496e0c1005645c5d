"""Export a trained GAN as SavedModel / TF-Hub modules (`python -m ssgan_tf.export`; the contract
is export/README.md at the repository top)."""

from ssgan_tf.export.api import ExportError, export_from_model_dir, export_gan, export_model

__all__ = ["ExportError", "export_from_model_dir", "export_gan", "export_model"]
