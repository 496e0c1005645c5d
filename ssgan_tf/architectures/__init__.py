"""Architecture families, selected by name (the gin binding `train.architecture`).

Importing a family module registers its gin configurables (`<family>.Generator.ch = ...`).
"""

from __future__ import annotations

from ssgan_tf.architectures import (
    dcgan,
    resnet5,
    resnet_biggan,
    resnet_biggan_deep,
    resnet_cifar,
    resnet_stl,
    sndcgan,
)

_FAMILIES = {"sndcgan": sndcgan, "dcgan": dcgan, "resnet_cifar": resnet_cifar,
             "resnet_stl": resnet_stl, "resnet5": resnet5, "resnet_biggan": resnet_biggan,
             "resnet_biggan_deep": resnet_biggan_deep}
ARCHITECTURES = tuple(_FAMILIES)
# The resolution each family was built for in the reference: what images of mixed sizes (a
# folder, an npz, a tfds dataset) are fitted to when train.resolution is not set.
DEFAULT_RESOLUTION = {"sndcgan": 32, "dcgan": 64, "resnet_cifar": 32, "resnet_stl": 48,
                      "resnet5": 128, "resnet_biggan": 128, "resnet_biggan_deep": 128}


def get_architecture(name: str):
    """Returns the (Generator, Discriminator) classes of a family."""
    if name not in _FAMILIES:
        raise ValueError(f"Unknown architecture {name!r}; expected one of {ARCHITECTURES} "
                         "(gin binding `train.architecture`).")
    return _FAMILIES[name].Generator, _FAMILIES[name].Discriminator


def architecture_name(network) -> str | None:
    """The family name (`train.architecture`) of a generator or discriminator, or None."""
    module = type(network).__module__
    return next((name for name, family in _FAMILIES.items() if family.__name__ == module), None)
