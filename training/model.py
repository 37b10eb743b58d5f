"""Keras multi-task model: residual CNN trunk shared by all heads, one dense tower + softmax per head.

Import this module only where TensorFlow is wanted (training, export): it imports keras at the top.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import keras
from keras import layers

from facelog.training.config import HeadConfig, ModelConfig

log = logging.getLogger(__name__)

TRUNK_NAME = "trunk"
EMBEDDING = "embedding"  # output name of the L2-normalised pooled features (export only)


def _conv_bn(x: keras.KerasTensor, ch: int, stride: int, name: str, relu: bool = True) -> keras.KerasTensor:
    x = layers.Conv2D(ch, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _res_block(x: keras.KerasTensor, ch: int, stride: int, name: str) -> keras.KerasTensor:
    shortcut = x
    y = _conv_bn(x, ch, stride, f"{name}_a")
    y = _conv_bn(y, ch, 1, f"{name}_b", relu=False)
    if stride != 1 or x.shape[-1] != ch:
        shortcut = layers.Conv2D(ch, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, shortcut]))


def build_trunk(cfg: ModelConfig, image_size: int) -> keras.Model:
    """Stem (stride 2) + residual stages (first ``stage0_stride``, then stride 2) + global average pool.

    Layer names start with ``stem`` or ``stage{i}`` so early blocks can be frozen by prefix.
    """
    inp = keras.Input((image_size, image_size, 3), name="trunk_input")
    x = _conv_bn(inp, cfg.stem_channels, 2, "stem")
    for i, (width, n_blocks) in enumerate(zip(cfg.widths, cfg.blocks, strict=True)):
        for j in range(n_blocks):
            first_stride = cfg.stage0_stride if i == 0 else 2
            stride = first_stride if j == 0 else 1
            x = _res_block(x, width, stride, f"stage{i}_block{j}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inp, x, name=TRUNK_NAME)


def build_model(
    cfg: ModelConfig, heads: Sequence[HeadConfig], image_size: int, embedding: bool = False
) -> keras.Model:
    """The full model; outputs a dict ``{head.name: (B, n_classes) float32 softmax}``.

    The input is the normalised image, (B, image_size, image_size, 3) float32 RGB. ``embedding``
    adds ``"embedding"``: the trunk's pooled features, L2-normalised, (B, widths[-1]) float32 (no
    weights of its own, so the training weights load into either variant).
    """
    inp = keras.Input((image_size, image_size, 3), name="input")
    trunk = build_trunk(cfg, image_size)
    feat = trunk(inp)
    outputs = {}
    for head in heads:
        x = layers.Dense(cfg.tower_units, use_bias=False, name=f"{head.name}_tower")(feat)
        x = layers.BatchNormalization(name=f"{head.name}_tower_bn")(x)
        x = layers.ReLU(name=f"{head.name}_tower_relu")(x)
        if cfg.dropout:
            x = layers.Dropout(cfg.dropout, name=f"{head.name}_dropout")(x)
        x = layers.Dense(head.n_classes, name=f"{head.name}_logits")(x)
        outputs[head.name] = layers.Activation("softmax", dtype="float32", name=head.name)(x)
    if embedding:
        outputs[EMBEDDING] = layers.UnitNormalization(axis=-1, dtype="float32", name=EMBEDDING)(feat)
    model = keras.Model(inp, outputs, name="facelog")
    if cfg.init_weights is not None:
        if not cfg.init_weights.is_file():
            raise FileNotFoundError(f"init weights not found: {cfg.init_weights}")
        model.load_weights(str(cfg.init_weights))
        log.info("started from %s", cfg.init_weights)
    if cfg.backbone_weights is not None:
        load_backbone(model, cfg)
    return model


def trunk_of(model: keras.Model) -> keras.Model:
    """The shared trunk sub-model."""
    trunk = model.get_layer(TRUNK_NAME)
    assert isinstance(trunk, keras.Model)
    return trunk


def load_backbone(model: keras.Model, cfg: ModelConfig) -> None:
    """Load user-supplied trunk weights and freeze the stem plus ``cfg.freeze_stages`` stages.

    Raises:
        FileNotFoundError: the weights file does not exist.
        ValueError: the file does not fit this trunk (different widths/blocks).
    """
    path = cfg.backbone_weights
    assert path is not None
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights not found: {path}")
    trunk = trunk_of(model)
    try:
        trunk.load_weights(str(path))
    except (ValueError, KeyError) as err:
        raise ValueError(
            f"backbone weights {path} do not fit the trunk {cfg.widths}/{cfg.blocks}: {err}"
        ) from err
    if cfg.freeze_stages:
        prefixes = ("stem", *(f"stage{i}_" for i in range(cfg.freeze_stages)))
        frozen = [lyr.name for lyr in trunk.layers if lyr.name.startswith(prefixes)]
        for lyr in trunk.layers:
            if lyr.name.startswith(prefixes):
                lyr.trainable = False
        log.info("loaded backbone %s; froze %d layers (%s...)", path, len(frozen), ", ".join(frozen[:3]))
    else:
        log.info("loaded backbone %s; nothing frozen", path)
