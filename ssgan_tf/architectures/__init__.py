"""Architecture families, selected by name (the gin binding `train.architecture`)."""

from __future__ import annotations

from ssgan_tf.architectures import resnet_cifar, sndcgan

_FAMILIES = {"sndcgan": sndcgan, "resnet_cifar": resnet_cifar}
ARCHITECTURES = tuple(_FAMILIES)


def get_architecture(name: str):
    """Returns the (Generator, Discriminator) classes of a family."""
    if name not in _FAMILIES:
        raise ValueError(f"Unknown architecture {name!r}; expected one of {ARCHITECTURES} "
                         "(gin binding `train.architecture`).")
    return _FAMILIES[name].Generator, _FAMILIES[name].Discriminator
