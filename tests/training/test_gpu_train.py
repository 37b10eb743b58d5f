"""The accelerator trainer (``gpu_pack``, ``gpu_ops``, ``gpu_train``) on a tiny drawn UTKFace folder.

Runs with the default Keras backend here (TensorFlow) on the CPU; no ../shared, no GPU.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import yaml

pytest.importorskip("tensorflow")

import keras

from facelog.training import datasets as dsets
from facelog.training import losses
from facelog.training.config import AugmentConfig, ConfigError, HeadConfig, load_recipe
from facelog.training.distill import read_targets
from facelog.training.gpu_ops import Augment, head_loss
from facelog.training.gpu_pack import INPUT_PX, LOAD_PX, degrade_pool, read_pack
from facelog.training.gpu_train import check_sizes, fold_ids, fold_labels, main, out_of_fold
from facelog.training.model import build_model

REPO = Path(__file__).resolve().parents[2]
N_FACES = 24
TINY_MODEL = {"stem_channels": 8, "widths": [8, 16, 16], "blocks": [1, 1, 1], "tower_units": 16}
AGE_HEAD = HeadConfig(name="age", kind="age", classes=101, sigma=2.5, l1_weight=0.1)
GENDER_HEAD = HeadConfig(name="gender", kind="categorical", labels=["male", "female"], label_smoothing=0.05)


def _draw_utkface(root: Path, n: int) -> None:
    """``n`` 200x200 JPEG "faces" (noise and an ellipse) named ``AGE_GENDER_RACE_DATE.jpg.chip.jpg``."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        img = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
        cv2.ellipse(img, (100, 100), (60, 80), 0, 0, 360, tuple(int(c) for c in rng.integers(0, 256, 3)), -1)
        cv2.imwrite(str(root / f"{3 * i + 1}_{i % 2}_{i % 4}_20170109{i:06d}.jpg.chip.jpg"), img)


@pytest.fixture(scope="module")
def utk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(UTKFace folder, split.json with 5 of the 24 faces for validation)."""
    base = tmp_path_factory.mktemp("utk")
    _draw_utkface(base / "utkface", N_FACES)
    names = dsets.split_names(dsets.read_utkface(base / "utkface"))
    tr, va = dsets.split_indices(names, 0.2, 1234)
    dsets.write_split(base / "split.json", names, tr, va, 1234)
    return base / "utkface", base / "split.json"


@pytest.fixture(scope="module")
def packed(utk: tuple[Path, Path]) -> Path:
    out = utk[0].parent / "pack" / "utk.npz"
    assert main(["pack", "--data", str(utk[0]), "--split", str(utk[1]), "--out", str(out)]) == 0
    return out


def _tiny_recipe(path: Path, root: Path, batch: int) -> Path:
    raw = yaml.safe_load((REPO / "configs" / "train_utkface_gpu.yaml").read_text())
    raw["data"]["root"] = str(root)
    raw["model"].update(TINY_MODEL)
    raw["optim"]["batch_size"] = batch
    raw["distill"]["targets"] = str(path.parent / "unused.npz")  # gpu_train makes its own
    path.write_text(yaml.safe_dump(raw))
    return path


def test_pack_holds_every_face_with_its_labels(utk: tuple[Path, Path], packed: Path) -> None:
    split = json.loads(utk[1].read_text())
    n_tr, n_va = len(split["train"]), len(split["val"])
    assert (n_tr, n_va) == (N_FACES - 5, 5)
    data = read_pack(packed, threads=2)
    assert data.train.shape == (n_tr, LOAD_PX, LOAD_PX, 3) and data.train.dtype == np.uint8
    assert sorted(data.val) == ["32px", "full"]
    assert all(v.shape == (n_va, INPUT_PX, INPUT_PX, 3) for v in data.val.values())
    assert list(data.train_names) == split["train"]
    for name, age, gender in zip(data.train_names, data.train_age, data.train_gender, strict=True):
        a, g = str(name).split("_")[:2]  # labels follow the file names
        assert (age, gender) == (float(a), int(g))
    assert len(data.val_age) == len(data.val_gender) == n_va
    # the chips are the faces: the drawn ellipse's colour survives at the centre
    img = cv2.imread(str(utk[0] / split["train"][0]))[:, :, ::-1]
    np.testing.assert_allclose(data.train[0, 36, 36], img[100, 100], atol=12)
    assert len(read_pack(packed, threads=1, limit=3).train_names) == 3


def test_pack_without_validation(utk: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "train_only.npz"
    assert main(["pack", "--data", str(utk[0]), "--split", str(utk[1]), "--out", str(out), "--no-val"]) == 0
    data = read_pack(out, threads=1)
    assert len(data.train) == N_FACES - 5 and data.val == {} and len(data.val_age) == 0


def test_pack_at_the_recipe_sizes_in_webp(utk: tuple[Path, Path], packed: Path, tmp_path: Path) -> None:
    out = tmp_path / "utk80.npz"
    argv = ["pack", "--data", str(utk[0]), "--split", str(utk[1]), "--out", str(out)]
    assert main([*argv, "--load-px", "88", "--input-px", "80", "--codec", "webp"]) == 0
    data, jpg = read_pack(out, threads=2), read_pack(packed, threads=2)
    assert data.train.shape == (N_FACES - 5, 88, 88, 3)
    assert all(v.shape == (5, 80, 80, 3) for v in data.val.values())
    assert list(data.train_names) == list(jpg.train_names)
    np.testing.assert_array_equal(data.train_age, jpg.train_age)
    with np.load(out) as doc:  # WebP bytes under the same keys
        blob = doc["train_jpg"][: doc["train_len"][0]]
        assert bytes(blob[:4]) == b"RIFF" and bytes(blob[8:12]) == b"WEBP"
    img = cv2.imread(str(utk[0] / str(data.train_names[0])))[:, :, ::-1]  # the drawn ellipse at the centre
    np.testing.assert_allclose(data.train[0, 44, 44], img[100, 100], atol=12)
    np.testing.assert_allclose(data.val["full"][0, 40, 40], jpg.val["full"][0, 32, 32], atol=12)


def _bad_argv(case: str, tmp: Path, utk: tuple[Path, Path], packed: Path) -> list[str]:
    """The command line of one bad-input case (``pack`` cases first, then ``train`` ones)."""
    data, split = utk
    if case in ("empty-split", "no-val-faces"):
        train = json.loads(split.read_text())["train"] if case == "no-val-faces" else []
        split = tmp / "bad_split.json"
        split.write_text(json.dumps({"seed": 0, "train": train, "val": []}))
    data = tmp / "nowhere" if case == "missing-folder" else data
    split = tmp / "nowhere.json" if case == "missing-split" else split
    if not case.startswith("train-"):
        sizes = ["--load-px", "72", "--input-px", "80"] if case == "input-above-load" else []
        return ["pack", "--data", str(data), "--split", str(split), "--out", str(tmp / "p.npz"), *sizes]
    recipe = _tiny_recipe(tmp / "recipe.yaml", data, batch=4)
    if case == "train-wrong-size":
        recipe.write_text(recipe.read_text().replace("image_size: 64", "image_size: 32"))
    if case == "train-pack-smaller":  # an 80-px recipe with the 72/64-px pack
        text = recipe.read_text().replace("image_size: 64", "image_size: 80")
        recipe.write_text(text.replace("load_size: 72", "load_size: 88"))
    argv = ["train", "--pack", str(tmp / "no.npz" if case == "train-missing-pack" else packed)]
    argv += ["--recipe", str(recipe), "--out", str(tmp / "out"), "--budget-s", "60", "--no-bf16"]
    return argv + {"train-one-fold": ["--folds", "1"], "train-big-batch": ["--teacher-batch", "64"]}.get(
        case, []
    )


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing-folder", "UTKFace folder not found"),
        ("missing-split", "split file not found"),
        ("empty-split", "0 training and 0 validation faces"),
        ("no-val-faces", "19 training and 0 validation faces"),
        ("input-above-load", "need 0 < input px <= load px, got 80 and 72"),
        ("train-missing-pack", "No such file"),
        ("train-one-fold", "--folds must be at least 2"),
        ("train-wrong-size", "data.image_size 32"),
        ("train-pack-smaller", "the pack has 72 px training and 64 px validation chips"),
        ("train-big-batch", "teachers: 19 training faces, fewer than one batch of 64"),
    ],
)
def test_bad_input_is_one_clear_error(
    utk: tuple[Path, Path],
    packed: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    message: str,
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(_bad_argv(case, tmp_path, utk, packed))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "p.npz").exists() and not (tmp_path / "out" / "report.json").exists()


def test_folds_are_balanced_seeded_and_at_least_two() -> None:
    fold = fold_ids(23, 5, seed=3)
    assert sorted(np.bincount(fold)) == [4, 4, 5, 5, 5]
    np.testing.assert_array_equal(fold, fold_ids(23, 5, seed=3))
    assert not np.array_equal(fold, fold_ids(23, 5, seed=4))
    with pytest.raises(ValueError, match="at least 2"):
        fold_ids(23, 1, seed=0)


def test_teacher_k_never_sees_fold_k_and_each_target_comes_from_that_teacher() -> None:
    n, k_folds = 11, 3
    fold = fold_ids(n, k_folds, seed=0)
    age, gender = np.arange(n, dtype=np.float32) + 20, (np.arange(n) % 2).astype(np.float32)
    for k in range(k_folds):
        a, g = fold_labels(age, fold, k, AGE_HEAD), fold_labels(gender, fold, k, GENDER_HEAD)
        assert a.shape == g.shape == (n, 1)
        assert np.isnan(a[fold == k]).all() and (g[fold == k] == -1).all()  # masked: no loss on them
        np.testing.assert_array_equal(a[fold != k, 0], age[fold != k])
        np.testing.assert_array_equal(g[fold != k, 0], gender[fold != k])
    # teacher k answers "k" for every face: each face's target must name its own fold's teacher
    probs = {
        f"t{k}_{h}": np.tile(np.eye(k_folds)[k], (n, 1)) for k in range(k_folds) for h in ("age", "gender")
    }
    oof = out_of_fold(probs, fold, ["age", "gender"])
    for h in ("age", "gender"):
        np.testing.assert_array_equal(oof[h].argmax(1), fold)
        np.testing.assert_array_equal(oof[h].sum(1), np.ones(n))


@pytest.mark.parametrize("head", [AGE_HEAD, GENDER_HEAD], ids=["age", "gender"])
def test_head_loss_matches_the_tensorflow_trainer(head: HeadConfig) -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 1, (6, head.n_classes)).astype(np.float32)
    p /= p.sum(1, keepdims=True)
    y = rng.integers(0, head.n_classes, (6, 1)).astype(np.float32)
    y[2] = np.nan if head.kind == "age" else -1.0  # a masked label
    ours = keras.ops.convert_to_numpy(head_loss(head, 0.0)(y, p))
    theirs = np.asarray(losses.head_loss(head)(y, p))
    assert ours[2] == 0.0
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    # distillation: (1 - w) * hard + w * CE to the soft target packed after the label
    soft = rng.dirichlet(np.ones(head.n_classes), 6).astype(np.float32)
    mixed = keras.ops.convert_to_numpy(head_loss(head, 0.25)(np.concatenate([y, soft], 1), p))
    np.testing.assert_allclose(mixed, 0.75 * ours - 0.25 * (soft * np.log(p)).sum(1), rtol=1e-5, atol=1e-6)


def test_augment_without_jitter_is_a_bilinear_resize_and_flip() -> None:
    cfg = AugmentConfig(
        flip=False, scale=(1, 1), shift=0, brightness=0, contrast=0, saturation=0, erase_prob=0
    )
    x = np.random.default_rng(0).integers(0, 256, (2, LOAD_PX, LOAD_PX, 3)).astype(np.uint8)
    got = keras.ops.convert_to_numpy(Augment(cfg, INPUT_PX, 127.5, 127.5, seed=0)(x))
    import tensorflow as tf  # the reference: what the TensorFlow trainer's crop box does

    want = tf.image.crop_and_resize(x.astype(np.float32), [[0, 0, 1, 1]] * 2, [0, 1], (INPUT_PX, INPUT_PX))
    np.testing.assert_allclose(got * 127.5 + 127.5, want.numpy(), atol=1e-2)
    flipped = keras.ops.convert_to_numpy(Augment(cfg.model_copy(update={"flip": True}), INPUT_PX, 0, 1, 0)(x))
    plain = got * 127.5 + 127.5
    for i in range(2):  # each face mirrored or not, nothing else
        assert np.allclose(flipped[i], plain[i], atol=1e-2) or np.allclose(
            flipped[i], plain[i, :, ::-1], atol=1e-2
        )
    jittered = keras.ops.convert_to_numpy(Augment(AugmentConfig(), INPUT_PX, 127.5, 127.5, seed=1)(x))
    assert jittered.shape == (2, INPUT_PX, INPUT_PX, 3) and np.abs(jittered).max() <= 1.0 + 1e-6


def test_degrade_pool_is_seeded_and_keeps_shape(packed: Path) -> None:
    data = read_pack(packed, threads=1, limit=4)
    cfg = load_recipe(REPO / "configs" / "train_utkface_gpu.yaml").augment.degrade
    pool = degrade_pool(data.train, cfg, variants=2, seed=0, threads=2)
    assert pool.shape == (2, *data.train.shape) and pool.dtype == np.uint8
    np.testing.assert_array_equal(pool, degrade_pool(data.train, cfg, variants=2, seed=0, threads=1))
    assert not np.array_equal(pool[0], data.train)


@pytest.fixture(scope="module")
def trained(packed: Path, utk: tuple[Path, Path]) -> tuple[Path, Path]:
    """(output folder, recipe) of ``train`` with 2 folds, 1 teacher epoch, 2 student epochs."""
    out = packed.parent.parent / "out"
    recipe = _tiny_recipe(packed.parent.parent / "recipe.yaml", utk[0], batch=4)
    argv = ["train", "--pack", str(packed), "--recipe", str(recipe), "--out", str(out), "--budget-s", "900"]
    argv += ["--folds", "2", "--teacher-width", "1", "--teacher-batch", "4", "--max-teacher-epochs", "1"]
    argv += ["--max-student-epochs", "2", "--variants", "1", "--threads", "2", "--no-bf16"]
    assert main(argv) == 0
    return out, recipe


def test_train_writes_out_of_fold_targets_for_every_training_face(
    trained: tuple[Path, Path], packed: Path
) -> None:
    out, _ = trained
    names = [str(n) for n in read_pack(packed, threads=1).train_names]
    with np.load(out / "teacher_targets_oof.npz") as doc:
        assert sorted(str(n) for n in doc["names"]) == sorted(names) and len(set(doc["names"])) == len(names)
        assert doc["head_age"].shape == (len(names), 101) and doc["head_gender"].shape == (len(names), 2)
    targets = read_targets(out / "teacher_targets_oof.npz", names[::-1], ["age", "gender"])
    for p in targets.values():
        assert np.isfinite(p).all() and (p >= 0).all()
        np.testing.assert_allclose(p.sum(1), 1.0, atol=2e-2)  # stored as float16


def test_train_report_and_ema_weights_load_into_the_recipe_model(trained: tuple[Path, Path]) -> None:
    out, recipe_path = trained
    report = json.loads((out / "report.json").read_text())
    assert report["backend"] == keras.backend.backend()
    assert (report["n_train"], report["n_val"]) == (N_FACES - 5, 5)
    assert report["teachers"]["run"]["epochs"] == 1 and report["student"]["run"]["epochs"] == 2
    assert set(report["student"]["val_ema"]) == {"full", "32px"}
    recipe = load_recipe(recipe_path)
    model, again = (build_model(recipe.model, recipe.heads, INPUT_PX) for _ in range(2))
    model.load_weights(out / "student_ema.weights.h5")
    again.load_weights(out / "student_ema.weights.h5")  # every weight from the file, none left at init:
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), again.get_weights(), strict=True))
    last = build_model(recipe.model, recipe.heads, INPUT_PX)
    last.load_weights(out / "student_last.weights.h5")
    assert any(not np.array_equal(a, b) for a, b in zip(model.get_weights(), last.get_weights(), strict=True))
    x = np.random.default_rng(0).normal(0, 1, (3, INPUT_PX, INPUT_PX, 3)).astype(np.float32)
    p: dict[str, Any] = model.predict(x, verbose=0)
    assert p["age"].shape == (3, 101) and p["gender"].shape == (3, 2)
    np.testing.assert_allclose(p["gender"].sum(1), 1.0, atol=1e-5)


def test_a_recipe_with_augmentation_this_trainer_lacks_is_refused(packed: Path) -> None:
    """train_utkface_real.yaml rolls, occludes, casts light and re-encodes faces: the GPU trainer does
    none of it, so it refuses the recipe rather than train without them."""
    real = REPO / "configs" / "train_utkface_real.yaml"
    data = read_pack(packed, threads=1)
    with pytest.raises(ConfigError, match=r"does not apply augment\.roll\.prob.*augment\.codec\.prob"):
        check_sizes(data, load_recipe(real), real)
