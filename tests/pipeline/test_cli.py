"""The facelog CLI as a user runs it (subprocess): one-line errors, exit codes, outputs, subcommands."""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from facelog import cli
from facelog.cli import run as run_cmd


def facelog(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "facelog.cli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def common(age_gender_model: Path, yunet_path: Path) -> list[str]:
    return ["--model", str(age_gender_model), "--yunet", str(yunet_path)]


def test_one_file_happy_path(videos: Path, common: list[str], tmp_path: Path) -> None:
    out = tmp_path / "female.csv"
    r = facelog("run", videos / "head-pose-face-detection-female.mp4", "-o", out, *common, "--stride", "2")
    assert r.returncode == 0, r.stderr
    assert "23 frames" not in r.stdout  # progress and the result line go to stderr, stdout stays clean
    assert "12/23 frames, 12 faces" in r.stderr
    assert out.exists() and (tmp_path / "female.summary.json").exists()
    assert len(out.read_text().splitlines()) == 13


def test_every_bad_input_is_one_line_and_good_ones_still_run(
    bad_videos: dict[str, Path], videos: Path, common: list[str], tmp_path: Path
) -> None:
    bad = [bad_videos[k] for k in ("missing", "empty", "not_video", "bad_codec", "truncated")]
    good = videos / "head-pose-face-detection-female.mp4"
    r = facelog("-q", "run", *bad, good, "-o", tmp_path, *common)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == len(bad), r.stderr
    assert all(line.startswith("facelog: error: ") for line in lines)
    assert "Traceback" not in r.stderr
    msgs = dict(zip(("missing", "empty", "not_video", "bad_codec", "truncated"), lines, strict=True))
    assert "no such file" in msgs["missing"]
    assert "empty file (0 bytes)" in msgs["empty"]
    assert "not a video" in msgs["not_video"]
    assert "AVI file that FFmpeg cannot open" in msgs["bad_codec"]
    assert "truncated video" in msgs["truncated"] and "truncated.csv.partial" in msgs["truncated"]
    assert "truncated.tracks.csv.partial" in msgs["truncated"]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        [
            "truncated.csv.partial",
            "truncated.tracks.csv.partial",
            "head-pose-face-detection-female.csv",
            "head-pose-face-detection-female.summary.json",
            "head-pose-face-detection-female.tracks.csv",
        ]
    )


@pytest.mark.parametrize(
    "args, match",
    [
        (["--stride", "0"], "sampling.stride"),
        (["--backend", "tensorrt"], "backend tensorrt"),
        (["--model", "/nonexistent/m.onnx"], "model file not found"),
        (["--model", str(Path(__file__))], "is not an ONNX model"),
    ],
    ids=["bad-stride", "no-tensorrt", "no-model", "not-onnx"],
)
def test_usage_errors_exit_2(
    videos: Path, common: list[str], tmp_path: Path, args: list[str], match: str
) -> None:
    r = facelog("run", videos / "people-detection.mp4", "-o", tmp_path / "o.csv", *common, *args)
    assert r.returncode == 2
    assert r.stderr.startswith("facelog: error: ") and len(r.stderr.strip().splitlines()) == 1
    assert match in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_config_typo_is_named(videos: Path, common: list[str], tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sampling:\n  strid: 2\n")
    r = facelog("run", videos / "people-detection.mp4", "-o", tmp_path / "o.csv", "--config", cfg, *common)
    assert r.returncode == 2
    assert r.stderr.strip() == (
        f"facelog: error: unknown config key 'sampling.strid' in {cfg} + overrides; "
        "did you mean 'sampling.stride'?"
    )


def test_help_lists_run_and_plugin_commands() -> None:
    r = facelog("--help")
    assert r.returncode == 0
    for name in ("run", "batch", "engine", "train"):
        assert f"    {name} " in r.stdout


# ------------------------------------------------------------------ in-process units
def test_outputs_for_many_inputs_go_to_folder(tmp_path: Path) -> None:
    assert run_cmd._outputs(["a/x.mp4"], tmp_path / "x.csv") == [tmp_path / "x.csv"]
    assert run_cmd._outputs(["a/x.mp4", "b/y.mkv"], tmp_path / "o") == [
        tmp_path / "o/x.csv",
        tmp_path / "o/y.csv",
    ]
    with pytest.raises(ValueError, match="collide"):
        run_cmd._outputs(["a/x.mp4", "b/x.mp4"], tmp_path / "o")


SUBCOMMANDS = ("run", "batch", "report", "train", "export", "eval", "predict", "engine", "doctor")


def test_every_subcommand_is_listed() -> None:
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert tuple(sub.choices) == SUBCOMMANDS


def test_no_module_is_imported_by_a_name_in_a_string() -> None:
    root = Path(cli.__file__).resolve().parents[2]
    for folder in ("pipeline", "engines", "training"):
        for py in (root / folder).rglob("*.py"):
            text = py.read_text()
            assert "import_module(" not in text and "__import__(" not in text, py


@pytest.mark.parametrize("command", ["train", "export"])
def test_train_without_tensorflow_names_the_extra(
    command: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import fails as when the extra is absent
    argv = {"train": ["train", "recipe.yaml", "--out", str(tmp_path)], "export": ["export", str(tmp_path)]}
    assert cli.main(argv[command]) == 2
    err = capsys.readouterr().err
    assert err == f"facelog: error: 'facelog {command}' needs TensorFlow: pip install 'facelog[train]'\n"


def test_interrupt_leaves_no_output(videos: Path, common: list[str], tmp_path: Path) -> None:
    import signal
    import time

    out = tmp_path / "long.csv"
    cmd = [
        sys.executable,
        "-m",
        "facelog.cli",
        "-q",
        "run",
        str(videos / "one-by-one-person-detection.mp4"),
        "-o",
        str(out),
        *common,
    ]
    # A shell's background job (`pytest ... &`) ignores SIGINT and children inherit that, as Unix wants;
    # give the child the default disposition so Python turns SIGINT into KeyboardInterrupt.
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".long.csv.tmp") for p in tmp_path.iterdir()):  # processing started
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err[-3000:]
    assert err.strip() == "facelog: error: interrupted"
    assert list(tmp_path.iterdir()) == []


def test_sigterm_leaves_no_output_and_says_so(videos: Path, common: list[str], tmp_path: Path) -> None:
    import signal
    import time

    out = tmp_path / "long.csv"
    cmd = [sys.executable, "-m", "facelog.cli", "-q", "run",
           str(videos / "one-by-one-person-detection.mp4"), "-o", str(out), *common]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".long.csv.tmp") for p in tmp_path.iterdir()):  # processing started
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)  # what a service manager or `timeout` sends
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err[-3000:]
    assert err.strip() == "facelog: error: terminated (SIGTERM)"
    assert list(tmp_path.iterdir()) == [], "temporary files of the run were left behind"


def test_an_unexpected_failure_on_one_input_is_one_line_and_the_next_still_runs(
    videos: Path,
    common: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from facelog import cli
    from facelog.cli import run as run_cmd

    real = run_cmd.process_video
    first = videos / "head-pose-face-detection-female.mp4"

    def flaky(src: str | Path, *args: object, **kwargs: object) -> object:
        if Path(src) == first:  # e.g. the backend or OpenCV failing on this input
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : bad input\nmore detail")
        return real(src, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(run_cmd, "process_video", flaky)
    second = videos / "head-pose-face-detection-male.mp4"
    rc = cli.main(["-q", "run", str(first), str(second), "-o", str(tmp_path), *common])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1, err
    why = "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : bad input"
    assert err[0] == f"facelog: error: {first}: RuntimeError: {why}"
    assert (tmp_path / "head-pose-face-detection-male.summary.json").is_file()
    assert not (tmp_path / "head-pose-face-detection-female.csv").exists()


def test_output_that_is_the_input_is_refused_and_the_input_kept(
    videos: Path, common: list[str], tmp_path: Path
) -> None:
    from facelog.pipeline.config import load_config
    from facelog.pipeline.file.process import process_video

    clip = tmp_path / "clip.mp4"
    clip.write_bytes((videos / "people-detection.mp4").read_bytes())
    before = clip.read_bytes()
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "same.mp4").symlink_to(clip)
    for args in (
        ["-o", clip],
        ["-o", tmp_path / "o.csv", "--annotate", clip],
        ["-o", tmp_path / "link" / "same.mp4"],
    ):
        r = facelog("run", clip, *args, *common)
        assert r.returncode == 2 and r.stderr.strip().startswith("facelog: error: output "), r.stderr
        assert "is the input" in r.stderr
    with pytest.raises(ValueError, match="is the input"):
        process_video(clip, clip, load_config(None))
    assert clip.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "link"]


def test_a_folder_input_points_to_batch(videos: Path, common: list[str], tmp_path: Path) -> None:
    r = facelog("run", videos, "-o", tmp_path / "o.csv", *common)
    assert r.returncode == 1
    assert r.stderr.strip() == (
        f"facelog: error: {videos}: is a folder, expected a video file "
        "(for a folder of videos: facelog batch DIR -o OUT_DIR)"
    )
    assert list(tmp_path.iterdir()) == []


def test_sigterm_exits_143_even_when_a_library_reported_it_as_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A subcommand that caught the unwinding as an error and returned 1 still exits 143 after SIGTERM."""
    import contextlib
    import signal

    def caught_it(args: argparse.Namespace) -> int:
        with contextlib.suppress(KeyboardInterrupt):  # what a library that converts it amounts to
            signal.raise_signal(signal.SIGTERM)
        return 1

    monkeypatch.setattr(run_cmd, "handle_run", caught_it)  # main builds its parser after this
    assert cli.main(["run", "x.mp4", "-o", "x.csv"]) == 143
    assert "terminated (SIGTERM)" in capsys.readouterr().err
    assert cli.main(["run", "x.mp4", "-o", "x.csv"]) == 143  # the flag is per call, the handler raised again


@pytest.mark.parametrize(("signame", "expected"), [("SIGTERM", "terminated"), ("SIGINT", "interrupted")])
def test_an_interrupt_that_lands_in_a_weakref_callback_still_unwinds_the_run(
    tmp_path: Path, signame: str, expected: str
) -> None:
    # CI once caught SIGTERM inside the import system's weakref callback: Python printed "Exception
    # ignored", the run went on and committed its output. The signal must be delivered again.
    script = tmp_path / "lost.py"
    script.write_text(
        textwrap.dedent(f"""
        import os, signal, time, weakref
        from facelog import cli

        # a shell starts a background job with SIGINT ignored, and then Python installs no handler
        signal.signal(signal.SIGINT, signal.default_int_handler)

        class Thing:
            pass

        def callback(_ref):
            os.kill(os.getpid(), signal.{signame})
            time.sleep(0.05)  # the handler runs here, inside the callback: its exception is lost

        with cli._sigterm_unwinds():
            try:
                thing = Thing()
                ref = weakref.ref(thing, callback)
                del thing
                for _ in range(200):
                    time.sleep(0.01)
                print("ran to the end")
            except cli.Terminated:
                print("terminated")
            except KeyboardInterrupt:
                print("interrupted")
    """)
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == expected, done.stdout + done.stderr
    assert "Exception ignored" not in done.stderr, done.stderr


def test_a_redelivery_still_pending_when_the_command_ends_is_cancelled() -> None:
    """A lost interrupt whose command finished first must not hit the next command (tests run
    ``cli.main`` several times in one process)."""

    class Unraisable:
        exc_type = cli.Terminated

    import time

    with cli._sigterm_unwinds():
        sys.unraisablehook(Unraisable())  # type: ignore[arg-type]  # as Python reports a lost one
    with cli._sigterm_unwinds():  # the next command
        time.sleep(0.1)  # the timer (10 ms) would have fired by now: no Terminated here
