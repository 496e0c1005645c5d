"""Fixed architecture table of the 2015-12-05 FID Inception-v3 graph.

The network used by TTUR, TF-GAN, pytorch-fid, clean-fid and StyleGAN for FID
never changes, so its wiring and tensor names are hard-coded here instead of
being read from a side file.  One table serves three naming schemes:

* ``name``: this project's canonical names (those of the shipped ``.npz``:
  ``mixed_4.tower_1.conv_3``, ``mixed_9.tower_mixed_conv`` ...);
* ``tf_name``: the node prefix in the TF frozen graph
  ``classify_image_graph_def.pb`` (``mixed_9/tower/mixed/conv``), whose
  const nodes are ``<tf_name>/conv2d_params`` (HWIO) and
  ``<tf_name>/batchnorm/{beta,gamma,moving_mean,moving_variance}``;
* ``torch_name``: pytorch-fid's / torch-fidelity's state-dict prefix
  (``Mixed_7b.branch3x3_2a``), with ``.conv.weight`` (OIHW) and
  ``.bn.{weight,bias,running_mean,running_var}``.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Tuple

#: Batch-norm epsilon of every conv layer of the 2015 graph.
BN_EPSILON: float = 0.001
#: Spatial input size of the network.
INPUT_SIZE: int = 299
#: Width of the ``pool_3`` feature vector used by FID/KID.
POOL3_DIM: int = 2048
#: Number of classes of the graph's ``softmax`` layer (1000 ImageNet + 8 unused).
NUM_LOGITS: int = 1008
#: Canonical names of the optional final layer (shape [2048, 1008] and [1008]).
LOGITS_WEIGHT: str = "softmax.weight"
LOGITS_BIAS: str = "softmax.bias"


@dataclasses.dataclass(frozen=True)
class ConvSpec:
    """One conv + batch-norm + ReLU unit of the graph."""

    name: str
    tf_name: str
    torch_name: str
    kernel: Tuple[int, int]
    in_channels: int
    out_channels: int
    stride: int
    padding: str  # "VALID" or "SAME" (all SAME convs have stride 1: symmetric padding)

    @property
    def weight_shape_oihw(self) -> Tuple[int, int, int, int]:
        return (self.out_channels, self.in_channels) + tuple(self.kernel)


def _canonical(tf_name: str, flat_towers: bool) -> str:
    """TF path -> npz name; mixed_9/mixed_10 flatten their sub-towers with '_'."""
    head, *rest = tf_name.split("/")
    if not rest:
        return head
    return head + "." + ("_".join(rest) if flat_towers else ".".join(rest))


def _block(
    specs: List[ConvSpec],
    block: str,
    torch_block: str,
    rows: List[Tuple[str, str, Tuple[int, int], int, int, int, str]],
    flat: bool = False,
) -> None:
    for sub, torch_sub, kernel, cin, cout, stride, padding in rows:
        tf_name = f"{block}/{sub}"
        specs.append(
            ConvSpec(
                name=_canonical(tf_name, flat),
                tf_name=tf_name,
                torch_name=f"{torch_block}.{torch_sub}",
                kernel=kernel,
                in_channels=cin,
                out_channels=cout,
                stride=stride,
                padding=padding,
            )
        )


def _build_specs() -> List[ConvSpec]:
    specs: List[ConvSpec] = []
    stem = [
        ("conv", "Conv2d_1a_3x3", (3, 3), 3, 32, 2, "VALID"),
        ("conv_1", "Conv2d_2a_3x3", (3, 3), 32, 32, 1, "VALID"),
        ("conv_2", "Conv2d_2b_3x3", (3, 3), 32, 64, 1, "SAME"),
        ("conv_3", "Conv2d_3b_1x1", (1, 1), 64, 80, 1, "VALID"),
        ("conv_4", "Conv2d_4a_3x3", (3, 3), 80, 192, 1, "VALID"),
    ]
    for name, torch_name, kernel, cin, cout, stride, padding in stem:
        specs.append(ConvSpec(name, name, torch_name, kernel, cin, cout, stride, padding))

    one, three, five = (1, 1), (3, 3), (5, 5)
    s17, s71, s13, s31 = (1, 7), (7, 1), (1, 3), (3, 1)
    for block, torch_block, cin, pool_features in (
        ("mixed", "Mixed_5b", 192, 32),
        ("mixed_1", "Mixed_5c", 256, 64),
        ("mixed_2", "Mixed_5d", 288, 64),
    ):
        _block(specs, block, torch_block, [
            ("conv", "branch1x1", one, cin, 64, 1, "SAME"),
            ("tower/conv", "branch5x5_1", one, cin, 48, 1, "SAME"),
            ("tower/conv_1", "branch5x5_2", five, 48, 64, 1, "SAME"),
            ("tower_1/conv", "branch3x3dbl_1", one, cin, 64, 1, "SAME"),
            ("tower_1/conv_1", "branch3x3dbl_2", three, 64, 96, 1, "SAME"),
            ("tower_1/conv_2", "branch3x3dbl_3", three, 96, 96, 1, "SAME"),
            ("tower_2/conv", "branch_pool", one, cin, pool_features, 1, "SAME"),
        ])
    _block(specs, "mixed_3", "Mixed_6a", [
        ("conv", "branch3x3", three, 288, 384, 2, "VALID"),
        ("tower/conv", "branch3x3dbl_1", one, 288, 64, 1, "SAME"),
        ("tower/conv_1", "branch3x3dbl_2", three, 64, 96, 1, "SAME"),
        ("tower/conv_2", "branch3x3dbl_3", three, 96, 96, 2, "VALID"),
    ])
    for block, torch_block, c7 in (
        ("mixed_4", "Mixed_6b", 128),
        ("mixed_5", "Mixed_6c", 160),
        ("mixed_6", "Mixed_6d", 160),
        ("mixed_7", "Mixed_6e", 192),
    ):
        _block(specs, block, torch_block, [
            ("conv", "branch1x1", one, 768, 192, 1, "SAME"),
            ("tower/conv", "branch7x7_1", one, 768, c7, 1, "SAME"),
            ("tower/conv_1", "branch7x7_2", s17, c7, c7, 1, "SAME"),
            ("tower/conv_2", "branch7x7_3", s71, c7, 192, 1, "SAME"),
            ("tower_1/conv", "branch7x7dbl_1", one, 768, c7, 1, "SAME"),
            ("tower_1/conv_1", "branch7x7dbl_2", s71, c7, c7, 1, "SAME"),
            ("tower_1/conv_2", "branch7x7dbl_3", s17, c7, c7, 1, "SAME"),
            ("tower_1/conv_3", "branch7x7dbl_4", s71, c7, c7, 1, "SAME"),
            ("tower_1/conv_4", "branch7x7dbl_5", s17, c7, 192, 1, "SAME"),
            ("tower_2/conv", "branch_pool", one, 768, 192, 1, "SAME"),
        ])
    _block(specs, "mixed_8", "Mixed_7a", [
        ("tower/conv", "branch3x3_1", one, 768, 192, 1, "SAME"),
        ("tower/conv_1", "branch3x3_2", three, 192, 320, 2, "VALID"),
        ("tower_1/conv", "branch7x7x3_1", one, 768, 192, 1, "SAME"),
        ("tower_1/conv_1", "branch7x7x3_2", s17, 192, 192, 1, "SAME"),
        ("tower_1/conv_2", "branch7x7x3_3", s71, 192, 192, 1, "SAME"),
        ("tower_1/conv_3", "branch7x7x3_4", three, 192, 192, 2, "VALID"),
    ])
    for block, torch_block, cin in (("mixed_9", "Mixed_7b", 1280), ("mixed_10", "Mixed_7c", 2048)):
        _block(specs, block, torch_block, [
            ("conv", "branch1x1", one, cin, 320, 1, "SAME"),
            ("tower/conv", "branch3x3_1", one, cin, 384, 1, "SAME"),
            ("tower/mixed/conv", "branch3x3_2a", s13, 384, 384, 1, "SAME"),
            ("tower/mixed/conv_1", "branch3x3_2b", s31, 384, 384, 1, "SAME"),
            ("tower_1/conv", "branch3x3dbl_1", one, cin, 448, 1, "SAME"),
            ("tower_1/conv_1", "branch3x3dbl_2", three, 448, 384, 1, "SAME"),
            ("tower_1/mixed/conv", "branch3x3dbl_3a", s13, 384, 384, 1, "SAME"),
            ("tower_1/mixed/conv_1", "branch3x3dbl_3b", s31, 384, 384, 1, "SAME"),
            ("tower_2/conv", "branch_pool", one, cin, 192, 1, "SAME"),
        ], flat=True)
    return specs


#: All 94 conv units in graph order.
CONV_SPECS: Tuple[ConvSpec, ...] = tuple(_build_specs())
#: Canonical name -> spec.
CONV_BY_NAME: Dict[str, ConvSpec] = {s.name: s for s in CONV_SPECS}

#: Per-conv tensors in canonical naming (gamma is optional: all ones in the real files).
CONV_TENSOR_SUFFIXES: Tuple[str, ...] = ("weight", "beta", "mean", "var")
OPTIONAL_CONV_SUFFIXES: Tuple[str, ...] = ("gamma",)


def expected_shapes() -> Dict[str, Tuple[int, ...]]:
    """Canonical tensor name -> shape, for validating a loaded weight dict."""
    shapes: Dict[str, Tuple[int, ...]] = {}
    for spec in CONV_SPECS:
        shapes[f"{spec.name}.weight"] = spec.weight_shape_oihw
        for suffix in ("beta", "mean", "var"):
            shapes[f"{spec.name}.{suffix}"] = (spec.out_channels,)
    return shapes
