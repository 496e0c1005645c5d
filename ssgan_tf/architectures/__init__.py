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


def get_architecture(name: str):
    """Returns the (Generator, Discriminator) classes of a family."""
    if name not in _FAMILIES:
        raise ValueError(f"Unknown architecture {name!r}; expected one of {ARCHITECTURES} "
                         "(gin binding `train.architecture`).")
    return _FAMILIES[name].Generator, _FAMILIES[name].Discriminator
