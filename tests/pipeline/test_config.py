"""Config loading: defaults, shipped YAML files, unknown keys with hints, cross-field checks."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pytest

from facelog.pipeline.config import AppConfig, ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["default.yaml", "file.yaml"])
def test_shipped_configs_load(name: str) -> None:
    cfg = load_config(REPO / "configs" / name)
    assert isinstance(cfg, AppConfig)


def test_default_yaml_matches_code_defaults() -> None:
    assert load_config(REPO / "configs" / "default.yaml") == load_config(None)


def test_default_model_path_is_inside_engines_package() -> None:
    import facelog.engines

    path = Path(load_config().model.path)
    assert path.name == "facelog_age_gender.onnx"
    assert path.parent == Path(facelog.engines.__file__).resolve().parent / "models"


@pytest.mark.parametrize(
    "data, match",
    [
        ({"detector": {"treshold": 0.5}}, r"'detector\.treshold'.*did you mean 'detector\.score_threshold'"),
        ({"samplng": {"stride": 2}}, r"'samplng'.*did you mean 'sampling'"),
        ({"tracking": {"history_len": 3}}, r"unknown config key 'tracking\.history_len'"),
    ],
    ids=["nested-typo", "section-typo", "no-close-match"],
)
def test_unknown_key_names_it_with_hint(tmp_path: Path, data: dict, match: str) -> None:
    import yaml

    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=match):
        load_config(p)


@pytest.mark.parametrize(
    "over, match",
    [
        ({"sampling": {"stride": 2, "target_fps": 5}}, "not both"),
        ({"sampling.stride": 0}, r"sampling\.stride"),
        ({"detector.kind": "mtcnn"}, r"detector\.kind"),
        ({"batching.batch_size": "many"}, r"batching\.batch_size"),
    ],
    ids=["stride-and-fps", "zero-stride", "bad-kind", "not-a-number"],
)
def test_invalid_values_raise_config_error(over: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config(None, over)


def test_overrides_dotted_and_nested_merge_over_file(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("sampling:\n  stride: 3\ndetector:\n  kind: blazeface\n  nms: 0.4\n")
    cfg = load_config(p, {"detector.min_face_px": 30, "batching": {"batch_size": 8}, "model.path": None})
    assert (cfg.sampling.stride, cfg.detector.kind, cfg.detector.nms) == (3, "blazeface", 0.4)
    assert (cfg.detector.min_face_px, cfg.batching.batch_size) == (30, 8)


def test_config_is_frozen() -> None:
    cfg = load_config()
    with pytest.raises(Exception, match="frozen"):
        cfg.sampling.stride = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    "text, match",
    [("detector: [1, 2\n", "not valid YAML"), ("- a\n- b\n", "must be a mapping")],
    ids=["bad-yaml", "list"],
)
def test_bad_files(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(p)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config("/nonexistent/facelog.yaml")


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    p = tmp_path / "empty.yaml"
    p.write_text("")
    assert load_config(p) == load_config()


@pytest.mark.parametrize(
    "backend, match",
    [
        ({"kind": "onnxruntime", "threads": 2}, None),
        ({"kind": "tensorrt", "precision": "int8", "max_batch": 64}, None),
        ({"precision": "int8"}, None),  # auto takes every option; checked once resolved
        ({"kind": "onnxruntime", "precision": "fp16"}, r"precision' .* not apply to backend onnxruntime"),
        ({"kind": "tensorrt", "threads": 2}, r"'backend\.threads' .* does not apply to backend tensorrt"),
        ({"kind": "onnxruntime-cuda", "precison": "fp16"}, r"did you mean 'backend\.precision'"),
        ({"kind": "TensorRT"}, r"backend\.kind must be one of auto, onnxruntime, onnxruntime-cuda, tensorrt"),
    ],
    ids=["ort", "trt", "auto-any", "ort-trt-option", "trt-ort-option", "misspelled", "bad-kind"],
)
def test_backend_config_is_typed_per_kind(backend: dict, match: str | None) -> None:
    ctx = pytest.raises(ConfigError, match=match) if match else nullcontext()
    with ctx:
        cfg = load_config(None, {"backend": backend})
        assert cfg.backend.kind == backend.get("kind", "auto")


def test_auto_backend_options_are_checked_against_what_it_resolved_to() -> None:
    from facelog.pipeline.config import backend_options

    cfg = load_config(None, {"backend.precision": "int8"})
    with pytest.raises(ConfigError, match=r"backend\.precision does not apply to backend onnxruntime "
                                          r"\(backend auto resolved to onnxruntime"):  # fmt: skip
        backend_options(cfg.backend, "onnxruntime")
    assert backend_options(cfg.backend, "tensorrt") == {"precision": "int8"}
    assert backend_options(load_config(None).backend, "tensorrt") == {}  # defaults never get in the way
    assert backend_options(load_config(None).backend, "onnxruntime") == {"threads": 1}


def test_run_flags_and_the_notebook_api_share_one_override_table() -> None:
    from facelog.cli import build_parser
    from facelog.pipeline.config import SHORTCUTS, with_overrides

    args = build_parser().parse_args(
        ["run", "x.mp4", "-o", "o.csv", "--stride", "3", "--min-face", "20", "--yunet", "y.onnx"]
    )
    dests = set(vars(args))
    assert set(SHORTCUTS) <= dests, set(SHORTCUTS) - dests  # every short name is a flag's dest
    cfg = with_overrides(None, stride=args.stride, min_face_px=args.min_face_px, yunet_path=args.yunet_path)
    assert (cfg.sampling.stride, cfg.detector.min_face_px, cfg.detector.yunet_path) == (3, 20, "y.onnx")
    assert with_overrides(cfg) is cfg  # nothing to change: the same object
    with pytest.raises(ConfigError, match="strid"):
        with_overrides(None, strid=2)


def test_tracking_and_fusion_defaults_are_the_parameter_classes_own() -> None:
    """Each default is written once, in ``TrackerParams`` / ``FusionParams``; the config takes it there."""
    from facelog.pipeline.config import FusionConfig, TrackingConfig
    from facelog.pipeline.tracking.fusion import FusionParams
    from facelog.pipeline.tracking.persons import fusion_params, tracker_params
    from facelog.pipeline.tracking.track import TrackerParams

    assert tracker_params(TrackingConfig()) == TrackerParams()
    assert fusion_params(FusionConfig()) == FusionParams()
    changed = load_config(None, {"tracking.max_lost_frames": 7, "fusion.interval": 0.5})
    assert tracker_params(changed.tracking).max_lost_frames == 7
    assert fusion_params(changed.fusion).interval == 0.5


def test_rtsp_profile_writes_out_the_code_defaults() -> None:
    """configs/rtsp.yaml spells out every ``rtsp`` key but the cameras: each value is the code's default."""
    from facelog.pipeline.config import RtspConfig

    shipped = load_config(REPO / "configs" / "rtsp.yaml").rtsp
    assert shipped.model_dump(exclude={"cameras"}) == RtspConfig().model_dump(exclude={"cameras"})


def _code_defaults() -> list[tuple[object, str, type, str]]:
    from facelog.pipeline.analyzer import FaceAnalyzer
    from facelog.pipeline.config import BatchingConfig, DetectorConfig, OutputConfig
    from facelog.pipeline.detect import BlazeFaceDetector, YuNetDetector
    from facelog.pipeline.sinks import CsvSink, TracksSink, result_rows, track_row

    return [
        (FaceAnalyzer, "batch_size", BatchingConfig, "batch_size"),
        *[(f, "decimals", OutputConfig, "decimals") for f in (CsvSink, TracksSink, result_rows, track_row)],
        *[(YuNetDetector, k, DetectorConfig, k) for k in ("nms", "min_face_px", "top_k", "max_input_scale")],
        *[(BlazeFaceDetector, k, DetectorConfig, k) for k in ("nms", "min_face_px")],
    ]


def test_code_defaults_are_the_config_sections_own() -> None:
    """Classes and functions that take a config value as an argument default to the config's default
    (written once; issue 19). YuNet's ``min_face_ref_height`` is left out on purpose: 0 by hand, 720 in a
    run (documented in ``YuNetDetector``)."""
    import inspect

    from facelog.pipeline.config import DetectorConfig, default_of
    from facelog.pipeline.detect import YUNET_INPUT_FACE_PX

    for func, param, section, key in _code_defaults():
        got = inspect.signature(func).parameters[param].default  # type: ignore[arg-type]
        assert got == default_of(section, key), (func, param)
    assert DetectorConfig().input_face_px == YUNET_INPUT_FACE_PX


def test_detector_built_from_the_defaults_matches_one_built_by_hand() -> None:
    """``make_detector`` with the default section and ``YuNetDetector`` with its own defaults agree
    on every setting but the frame-height scaling, and a changed key reaches the detector."""
    from facelog.pipeline.config import DetectorConfig
    from facelog.pipeline.detect import YuNetDetector, make_detector
    from facelog.pipeline.weights import YUNET_PATH

    keys = ("nms", "min_face_px", "input_face_px", "max_input_scale", "score_threshold")
    cfg = DetectorConfig(full_every=1, min_face_ref_height=0)
    run = make_detector(cfg)
    by_hand = YuNetDetector(YUNET_PATH)
    assert isinstance(run, YuNetDetector)
    assert {k: getattr(run, k) for k in keys} == {k: getattr(by_hand, k) for k in keys}
    assert make_detector(cfg.model_copy(update={"nms": 0.45})).nms == 0.45
