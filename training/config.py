"""Training recipe: one YAML file -> one frozen, validated ``TrainRecipe``.

Unknown keys are errors with a "did you mean" hint (a misspelled key must never be ignored).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from facelog.engines.base import ConfigError  # the one ConfigError (re-exported for training callers)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    """Where the faces come from and how they are split."""

    kind: Literal["utkface", "csv", "wiki", "folders"] = "utkface"
    root: Path | None = None  # images folder (utkface, folders) or image root for csv/wiki paths
    labels: Path | None = None  # csv list or .mat file (csv, wiki)
    mat_key: str = "wiki"  # top-level struct name in the .mat file ("wiki" or "imdb")
    min_face_score: float = 1.0  # wiki/imdb: keep faces with face_score >= this
    limit: int | None = Field(default=None, gt=0)  # use only the first N rows (after shuffling by seed)
    val_fraction: float = Field(default=0.1, gt=0.0, lt=1.0)
    split_seed: int = 1234
    image_size: int = Field(default=64, ge=16)  # model input (square)
    load_size: int = Field(default=72, ge=16)  # training images are cached at this size, then cropped

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        if self.load_size < self.image_size:
            raise ValueError(f"load_size must be >= image_size, got {self.load_size} < {self.image_size}")
        if self.kind in ("csv", "wiki") and self.labels is None:
            raise ValueError(f"data.kind={self.kind} needs data.labels (the list or .mat file)")
        return self


class DegradeConfig(_Strict):
    """Camera-like degradation of training faces (CCTV: small, blurred, compressed, noisy).

    ``prob`` is the chance that an image is degraded at all; each kind then applies with its own
    probability. Sizes and blur are in pixels of the model input; noise in 0..255 grey levels.
    """

    prob: float = Field(default=0.0, ge=0.0, le=1.0)  # 0 = off
    resize_prob: float = Field(default=0.8, ge=0.0, le=1.0)
    resize_px: tuple[int, int] = (16, 64)  # shrink to S x S (uniform), then back to the input size
    blur_prob: float = Field(default=0.3, ge=0.0, le=1.0)  # Gaussian
    blur_sigma_px: tuple[float, float] = (0.4, 1.5)
    motion_prob: float = Field(default=0.15, ge=0.0, le=1.0)  # line kernel, random angle
    motion_px: tuple[float, float] = (2.0, 6.0)
    jpeg_prob: float = Field(default=0.6, ge=0.0, le=1.0)  # at the shrunken size
    jpeg_quality: tuple[int, int] = (30, 90)
    noise_prob: float = Field(default=0.3, ge=0.0, le=1.0)
    noise_std: tuple[float, float] = (2.0, 10.0)
    gamma_prob: float = Field(default=0.3, ge=0.0, le=1.0)
    gamma: tuple[float, float] = (0.6, 1.6)

    @model_validator(mode="after")
    def _check(self) -> DegradeConfig:
        lo, hi = self.resize_px
        if not 4 <= lo <= hi:
            raise ValueError(f"resize_px must be 4 <= lo <= hi, got {self.resize_px}")
        qlo, qhi = self.jpeg_quality
        if not 1 <= qlo <= qhi <= 100:
            raise ValueError(f"jpeg_quality must be 1 <= lo <= hi <= 100, got {self.jpeg_quality}")
        if self.motion_px[1] > 7 or self.blur_sigma_px[1] > 2.5:
            raise ValueError("motion_px must be <= 7 and blur_sigma_px <= 2.5 (7x7 kernel)")
        return self


class RollConfig(_Strict):
    """In-plane head roll the eye alignment did not undo, and the crop error that comes with it.

    With ``prob`` an image is rotated by an angle uniform in +-``max_deg`` (about a centre jittered by
    ``center_jitter`` of the side; borders repeat, as the pipeline's crop does); its crop box then
    grows by up to ``crop_error`` x |sin(angle)| and shifts by up to half that (a rolled face's box
    is larger and off-centre, and its landmarks are less sure).
    """

    prob: float = Field(default=0.0, ge=0.0, le=1.0)  # 0 = off
    max_deg: float = Field(default=45.0, ge=0.0, le=90.0)
    center_jitter: float = Field(default=0.05, ge=0.0, le=0.3)
    crop_error: float = Field(default=0.3, ge=0.0, le=1.0)


class OccludeConfig(_Strict):
    """Partial occlusion drawn on the aligned face (eyes near (0.49, 0.29) of the chip, UTKFace framing).

    With ``prob`` an image gets one occluder, chosen by the weights: glasses (rims, sometimes dark
    lenses), a mask over mouth and nose, a hand-like blob in the face's own skin tone, or hair over
    the forehead and one side.
    """

    prob: float = Field(default=0.0, ge=0.0, le=1.0)  # 0 = off
    glasses: float = Field(default=0.4, ge=0.0)
    mask: float = Field(default=0.2, ge=0.0)
    hand: float = Field(default=0.2, ge=0.0)
    hair: float = Field(default=0.2, ge=0.0)

    @model_validator(mode="after")
    def _check(self) -> OccludeConfig:
        if self.prob and self.glasses + self.mask + self.hand + self.hair <= 0:
            raise ValueError("occlude: at least one of glasses, mask, hand, hair must have a weight > 0")
        return self


class LightConfig(_Strict):
    """Colour casts (white balance) and low light with the camera's gain (noise, banding).

    Cast: each channel times a gain in ``cast`` (e.g. (0.75, 1.25)). Low light: the scene is dimmed
    by a factor in ``dim``, quantised to 8 bits there, given shot noise (``shot`` x sqrt(level)) and
    read noise (``read_std`` grey levels), then brought back up by the camera's gain.
    """

    cast_prob: float = Field(default=0.0, ge=0.0, le=1.0)  # 0 = off
    cast: tuple[float, float] = (0.75, 1.25)
    dark_prob: float = Field(default=0.0, ge=0.0, le=1.0)  # 0 = off
    dim: tuple[float, float] = (0.1, 0.5)
    shot: tuple[float, float] = (0.2, 1.0)
    read_std: tuple[float, float] = (0.5, 2.0)

    @model_validator(mode="after")
    def _check(self) -> LightConfig:
        if not 0 < self.cast[0] <= self.cast[1]:
            raise ValueError(f"cast must be 0 < lo <= hi, got {self.cast}")
        if not 0 < self.dim[0] <= self.dim[1] <= 1:
            raise ValueError(f"dim must be 0 < lo <= hi <= 1, got {self.dim}")
        return self


class CodecConfig(_Strict):
    """Real H.264 artefacts (``training/h264.py``): a pool of one H.264 copy per training face.

    Made once (system ``ffmpeg`` with libx264) and cached in ``cache`` (outside the repository): each
    face shrunk to a side in ``size_px``, tiled with others into short clips, encoded at a constant
    quantiser in ``qp`` (26 ~ a good camera, 44 ~ a starved stream), P-frames taking small motion,
    decoded and blown back up. With ``prob`` a training image is replaced by its copy; such images
    skip ``degrade``'s shrinking and JPEG (they already went through a codec at a small size).
    """

    prob: float = Field(default=0.0, ge=0.0, le=1.0)  # 0 = off
    size_px: tuple[int, int] = (12, 64)
    qp: tuple[int, int] = (26, 44)
    frames: int = Field(default=4, ge=1, le=16)  # clip length; the last (a P-frame) is kept
    cache: Path | None = None
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> CodecConfig:
        if not 8 <= self.size_px[0] <= self.size_px[1]:
            raise ValueError(f"size_px must be 8 <= lo <= hi, got {self.size_px}")
        if not 0 <= self.qp[0] <= self.qp[1] <= 51:
            raise ValueError(f"qp must be 0 <= lo <= hi <= 51 (H.264), got {self.qp}")
        return self


class AugmentConfig(_Strict):
    """Augmentation applied on the fly to training batches (never to validation)."""

    flip: bool = True
    scale: tuple[float, float] = (0.85, 1.1)  # side of the crop box relative to the image
    shift: float = 0.06  # max centre shift, fraction of the side
    brightness: float = 0.2  # +- fraction of the range
    contrast: float = 0.25
    saturation: float = 0.3
    erase_prob: float = 0.4  # random erasing (cutout) probability per image
    erase_area: tuple[float, float] = (0.05, 0.25)
    degrade: DegradeConfig = DegradeConfig()
    roll: RollConfig = RollConfig()
    occlude: OccludeConfig = OccludeConfig()
    light: LightConfig = LightConfig()
    codec: CodecConfig = CodecConfig()


class ModelConfig(_Strict):
    """Residual CNN trunk; one dense tower per head."""

    stem_channels: int = 32
    widths: tuple[int, ...] = (48, 96, 160, 256)
    blocks: tuple[int, ...] = (1, 1, 1, 1)
    stage0_stride: int = Field(default=1, ge=1, le=2)  # 2 halves the cost of the largest feature maps
    tower_units: int = 128
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    backbone_weights: Path | None = None  # trunk weights (.weights.h5) saved by a previous run
    freeze_stages: int = Field(default=0, ge=0)  # with backbone_weights: freeze stem + this many stages
    # whole-model weights (.weights.h5) to start from, e.g. from an ONNX file by training/onnx_init.py
    init_weights: Path | None = None

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if len(self.widths) != len(self.blocks):
            raise ValueError(
                f"widths and blocks must have equal length, got {len(self.widths)} and {len(self.blocks)}"
            )
        if self.freeze_stages > len(self.widths):
            raise ValueError(f"freeze_stages must be <= {len(self.widths)} stages, got {self.freeze_stages}")
        return self


class HeadConfig(_Strict):
    """One output head. ``kind: age`` is a softmax over 0..classes-1 years; ``categorical`` a classifier."""

    name: str
    kind: Literal["age", "categorical"]
    classes: int | None = None  # age: 101 by default; categorical: len(labels)
    labels: tuple[str, ...] = ()
    loss_weight: float = Field(default=1.0, ge=0.0)
    sigma: float = Field(default=2.5, gt=0.0)  # age: Gaussian label distribution width (years)
    l1_weight: float = Field(default=0.1, ge=0.0)  # age: weight of L1 on the expected age
    label_smoothing: float = Field(default=0.0, ge=0.0, lt=1.0)  # categorical
    column: str | None = None  # label column in the dataset (default: the head name)

    @model_validator(mode="after")
    def _check(self) -> HeadConfig:
        if self.kind == "categorical" and len(self.labels) < 2:
            raise ValueError(f"categorical head {self.name!r} needs >= 2 labels, got {list(self.labels)}")
        if self.kind == "categorical" and self.classes not in (None, len(self.labels)):
            raise ValueError(f"head {self.name!r}: classes={self.classes} but {len(self.labels)} labels")
        return self

    @property
    def n_classes(self) -> int:
        if self.kind == "age":
            return self.classes or 101
        return len(self.labels)


class OptimConfig(_Strict):
    """Optimiser, schedule and stopping."""

    epochs: int = Field(default=40, gt=0)
    batch_size: int = Field(default=128, gt=0)
    lr: float = Field(default=2e-3, gt=0.0)
    weight_decay: float = Field(default=0.05, ge=0.0)
    warmup_epochs: float = Field(default=1.0, ge=0.0)
    # cosine: warm-up then cosine decay (re-planned under max_minutes); constant; plateau: Keras'
    # ReduceLROnPlateau on `monitor` (x plateau_factor after plateau_patience epochs without improvement)
    schedule: Literal["cosine", "constant", "plateau"] = "cosine"
    plateau_factor: float = Field(default=0.5, gt=0.0, lt=1.0)
    plateau_patience: int = Field(default=3, ge=1)
    early_stopping_patience: int = Field(default=0, ge=0)  # 0 = off
    monitor: str = "val_loss"  # a logged validation metric (TrainRecipe.metric_names); see higher_is_better
    max_minutes: float | None = Field(default=None, gt=0.0)  # stop cleanly after this wall time
    seed: int = 0
    # bf16 compute, float32 weights and outputs. auto: bf16 on a GPU or a CPU with native bf16
    # (AVX-512 BF16, AMX), float32 elsewhere: on an AVX2 CPU bf16 trained 10x slower than float32.
    mixed_precision: bool | Literal["auto"] = "auto"
    # exponential moving average of all weights (BN statistics included), updated every
    # ema_every steps; 0 = off. Written to ema.weights.h5 each epoch with its validation numbers.
    ema_decay: float = Field(default=0.0, ge=0.0, lt=1.0)
    ema_every: int = Field(default=4, ge=1)
    ema_start_epoch: int = Field(default=0, ge=0)


class DistillConfig(_Strict):
    """Knowledge distillation from precomputed teacher probabilities (``facelog.training.distill``).

    Each head's loss becomes ``(1 - weight) * hard label loss + weight * cross-entropy to the
    teacher's distribution``; the targets file must cover every training face.
    """

    targets: Path  # .npz written by ``python -m facelog.training.distill``
    weight: float = Field(default=0.5, ge=0.0, le=1.0)


def higher_is_better(metric: str) -> bool:
    """Accuracies and cumulative scores improve upwards; losses and MAE downwards."""
    return metric.endswith(("_acc", "_cs5"))


class TrainRecipe(_Strict):
    """The whole training recipe (one YAML file)."""

    name: str = "facelog_age_gender"
    version: str = "1.0.0"
    data: DataConfig = DataConfig()
    augment: AugmentConfig = AugmentConfig()
    model: ModelConfig = ModelConfig()
    heads: tuple[HeadConfig, ...] = (
        HeadConfig(name="age", kind="age"),
        HeadConfig(name="gender", kind="categorical", labels=("male", "female"), label_smoothing=0.05),
    )
    optim: OptimConfig = OptimConfig()
    distill: DistillConfig | None = None
    mean: float = 127.5
    std: float = 127.5

    @model_validator(mode="after")
    def _check(self) -> TrainRecipe:
        names = [h.name for h in self.heads]
        if not names:
            raise ValueError("heads must not be empty")
        if len(set(names)) != len(names):
            raise ValueError(f"head names must be unique, got {names}")
        if sum(h.kind == "age" for h in self.heads) > 1:
            raise ValueError("at most one head of kind 'age'")
        if self.optim.monitor not in self.metric_names():
            raise ValueError(
                f"optim.monitor {self.optim.monitor!r} is not a validation metric of these heads; "
                f"one of {', '.join(self.metric_names())}"
            )
        return self

    def metric_names(self) -> tuple[str, ...]:
        """The validation metrics a run logs (and ``optim.monitor`` may name)."""
        names = ["val_loss"]
        for h in self.heads:
            names += [f"val_{h.name}_mae", f"val_{h.name}_cs5"] if h.kind == "age" else [f"val_{h.name}_acc"]
        return tuple(names)

    def config_hash(self) -> str:
        """Short sha256 of the canonical JSON form (identifies the recipe in the model metadata)."""
        # Defaults left out: a field added later (with a default) must not change old recipes' hashes.
        text = json.dumps(self.model_dump(mode="json", exclude_defaults=True), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the field at ``loc`` (for "did you mean" hints)."""
    model: type[BaseModel] | None = TrainRecipe
    for part in loc[:-1]:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        ann = field.annotation
        inner = getattr(ann, "__args__", (ann,))
        model = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return model


def _explain(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = tuple(e["loc"])
        where = ".".join(str(p) for p in loc)
        if e["type"] == "extra_forbidden":
            owner = _model_at(loc)
            known = list(owner.model_fields) if owner else []
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(known)})"
            lines.append(f"unknown key '{where}'{hint}")
        else:
            lines.append(f"{where}: {e['msg']}")
    return "; ".join(lines)


def recipe_from_dict(raw: dict[str, Any], source: str = "<dict>") -> TrainRecipe:
    """Validate a raw mapping; raise ``ConfigError`` naming every bad key."""
    try:
        return TrainRecipe.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"{source}: {_explain(err)}") from None


def load_recipe(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainRecipe:
    """Read a YAML recipe. ``overrides`` maps dotted keys ("optim.epochs") to values."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return recipe_from_dict(raw, str(path))
