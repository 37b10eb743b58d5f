"""Training recipe loading: defaults, overrides, unknown keys with a hint, cross-field checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from facelog.training.config import ConfigError, load_recipe, recipe_from_dict
from facelog.training.train import is_improvement

REPO = Path(__file__).resolve().parents[2]


def test_shipped_recipe_loads_and_overrides_apply() -> None:
    recipe = load_recipe(REPO / "configs" / "train_utkface.yaml", {"optim.epochs": 2, "data.limit": 300})
    assert recipe.optim.epochs == 2
    assert recipe.data.limit == 300
    assert [h.name for h in recipe.heads] == ["age", "gender"]
    assert recipe.heads[0].n_classes == 101
    assert recipe.heads[1].labels == ("male", "female")


@pytest.mark.parametrize(
    "raw, match",
    [
        ({"optim": {"epoch": 3}}, r"unknown key 'optim\.epoch' \(did you mean 'epochs'\?\)"),
        (
            {"heads": [{"name": "age", "kind": "age", "sigmaa": 2}]},
            r"unknown key 'heads\.0\.sigmaa' \(did you mean 'sigma'\?\)",
        ),
        ({"dataa": {}}, r"unknown key 'dataa' \(did you mean 'data'\?\)"),
        ({"optim": {"zzz": 1}}, r"unknown key 'optim\.zzz' \(known keys: epochs"),
    ],
    ids=["nested", "in-list", "top-level", "no-close-match"],
)
def test_unknown_key_is_named_with_hint(raw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        recipe_from_dict(raw, "x.yaml")


@pytest.mark.parametrize(
    "raw, match",
    [
        ({"data": {"image_size": 64, "load_size": 60}}, "load_size must be >= image_size"),
        ({"heads": [{"name": "g", "kind": "categorical", "labels": ["a"]}]}, "needs >= 2 labels"),
        ({"heads": [{"name": "a", "kind": "age"}, {"name": "a", "kind": "age"}]}, "unique"),
        ({"model": {"widths": [8, 16], "blocks": [1]}}, "equal length"),
        ({"data": {"kind": "csv"}}, "needs data.labels"),
        (
            {"optim": {"monitor": "val_mae"}},
            r"optim.monitor 'val_mae' is not a validation metric .* one of val_loss, val_age_mae, "
            r"val_age_cs5, val_gender_acc",
        ),
    ],
    ids=["sizes", "one-label", "dup-heads", "widths-blocks", "csv-no-labels", "unknown-monitor"],
)
def test_inconsistent_values_fail(raw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        recipe_from_dict(raw)


def test_extra_head_by_config_alone() -> None:
    recipe = recipe_from_dict(
        {
            "heads": [
                {"name": "age", "kind": "age"},
                {
                    "name": "emotion",
                    "kind": "categorical",
                    "labels": ["neutral", "happy", "sad"],
                    "loss_weight": 0.5,
                },
            ]
        }
    )
    assert recipe.heads[1].n_classes == 3
    assert recipe.heads[1].loss_weight == 0.5


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_recipe(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(bad)
    seq = tmp_path / "seq.yaml"
    seq.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_recipe(seq)


def test_config_hash_tracks_content() -> None:
    a = recipe_from_dict({})
    assert a.config_hash() == recipe_from_dict({}).config_hash()
    assert a.config_hash() != recipe_from_dict({"optim": {"epochs": 3}}).config_hash()
    # spelling out a default is the same recipe (so is a field added later with a default)
    assert a.config_hash() == recipe_from_dict({"optim": {"plateau_patience": 3}}).config_hash()


@pytest.mark.parametrize(
    "value, best, monitor, expected",
    [
        (4.0, None, "val_loss", True),
        (4.0, 4.5, "val_loss", True),
        (4.5, 4.0, "val_age_mae", False),
        (4.0, 4.0, "val_loss", False),  # a tie is no improvement: patience counts it
        (0.61, 0.60, "val_age_cs5", True),  # higher is better for CS@5 ...
        (0.59, 0.60, "val_age_cs5", False),
        (0.93, 0.92, "val_gender_acc", True),  # ... and for accuracies
        (float("nan"), None, "val_loss", False),
        (float("nan"), 4.0, "val_loss", False),
    ],
)
def test_is_improvement(value: float, best: float | None, monitor: str, expected: bool) -> None:
    assert is_improvement(value, best, monitor) is expected


def test_mixed_precision_auto_is_bf16_only_where_the_hardware_has_it() -> None:
    from facelog.training.train import use_bf16

    assert use_bf16("auto", gpu=False, cpu_bf16=False) is False  # AVX2: bf16 emulated, 10x slower
    assert use_bf16("auto", gpu=False, cpu_bf16=True) is True
    assert use_bf16("auto", gpu=True, cpu_bf16=False) is True
    assert use_bf16(True, gpu=False, cpu_bf16=False) is True  # an explicit choice stands
    assert use_bf16(False, gpu=True, cpu_bf16=True) is False


def test_mixed_precision_accepts_auto_and_booleans_only(tmp_path: Path) -> None:
    cfg = tmp_path / "r.yaml"
    cfg.write_text("optim:\n  mixed_precision: sometimes\n")
    with pytest.raises(ConfigError, match="mixed_precision"):
        load_recipe(cfg)
    cfg.write_text("optim:\n  mixed_precision: auto\n")
    assert load_recipe(cfg).optim.mixed_precision == "auto"
    assert load_recipe(cfg, {"optim.mixed_precision": False}).optim.mixed_precision is False
