"""The ``facelog`` command: the one package that wires pipeline, engines and training together.

Every subcommand is imported here by name, so each is listed in ``facelog --help`` on every install.
A subcommand whose optional extra is missing says which one to install when it runs (exit 2); a
module that fails to import for any other reason fails loudly, it never hides a command. Nothing
imports this package.

Every expected failure prints one line, ``facelog: error: <message>``, and exits non-zero:
1 = some input failed, 2 = bad usage/config/model, 130 = interrupted (Ctrl-C), 143 = terminated
(SIGTERM: it unwinds like Ctrl-C, so outputs are aborted and temporary files removed; live camera
runs install their own handler and stop cleanly).
"""

from __future__ import annotations

import _thread
import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from facelog.cli import batch, doctor, engine, report, run
from facelog.cli.console import print_error
from facelog.engines.base import FacelogError
from facelog.training import cli as training_cli

log = logging.getLogger(__name__)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: every cleanup that handles Ctrl-C handles it too."""


_terminated = threading.Event()  # set by the handler: the exit is 143 whatever error the unwinding became


def _terminate(signum: int, frame: FrameType | None) -> None:
    _terminated.set()
    raise Terminated


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM raises `Terminated` in the main thread while the block runs (elsewhere: no change).

    An interrupt lost where Python cannot raise is delivered again: the handler runs wherever the
    main thread is, and inside a weakref callback or a ``__del__`` (the import system runs one) its
    exception is only printed ("Exception ignored") while the run goes on to commit its output. A
    ``sys.unraisablehook`` drops that message and simulates the signal again 10 ms later from a timer
    thread (``_thread.interrupt_main``), so it lands in ordinary code and unwinds the run; timers
    still pending when the block ends are cancelled. Other unraisable errors go to the hook before.
    """
    _terminated.clear()
    if threading.current_thread() is not threading.main_thread():  # only it may set handlers
        yield
        return
    timers: list[threading.Timer] = []
    previous_hook = sys.unraisablehook

    def redeliver(unraisable: Any) -> None:
        if not issubclass(unraisable.exc_type, KeyboardInterrupt):  # Terminated is one too
            previous_hook(unraisable)
            return
        signum = signal.SIGTERM if issubclass(unraisable.exc_type, Terminated) else signal.SIGINT
        timers.append(threading.Timer(0.01, _thread.interrupt_main, args=(signum,)))
        timers[-1].start()

    previous = signal.signal(signal.SIGTERM, _terminate)
    sys.unraisablehook = redeliver
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        for t in timers:
            t.cancel()
        signal.signal(signal.SIGTERM, previous)


def build_parser() -> argparse.ArgumentParser:
    """The ``facelog`` parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="facelog", description="Per-frame age and gender logs for faces in video."
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only, no progress bar")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run.register(sub)
    batch.register(sub)
    report.register(sub)
    training_cli.register(sub)
    engine.register(sub)
    doctor.register(sub)
    return parser


def _setup_logging(quiet: bool, verbose: int) -> None:
    level = logging.WARNING if not verbose else logging.INFO if verbose == 1 else logging.DEBUG
    if quiet:
        level = logging.ERROR
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import cv2

    # OpenCV and FFmpeg print their own warnings on stderr; keep them for -vv only. FFmpeg reads
    # OPENCV_FFMPEG_LOGLEVEL when the first capture opens (also in worker processes, which inherit it).
    if verbose < 2:
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    cv2.utils.logging.setLogLevel(
        cv2.utils.logging.LOG_LEVEL_INFO if verbose >= 2 else cv2.utils.logging.LOG_LEVEL_SILENT
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``facelog`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    # -q/-v are accepted after the subcommand too
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("-q", "--quiet", action="store_true")
    pre.add_argument("-v", "--verbose", action="count", default=0)
    early, rest = pre.parse_known_args(argv)
    args = parser.parse_args(rest)
    args.quiet = args.quiet or early.quiet
    args.verbose = max(args.verbose, early.verbose)
    _setup_logging(args.quiet, args.verbose)
    try:
        with _sigterm_unwinds():
            rc = int(args.func(args))
        if _terminated.is_set():  # a library turned the interrupt into an error that was reported
            print_error("terminated (SIGTERM)")
            return 143
        return rc
    except FacelogError as exc:  # a subcommand's typed error that it did not report itself
        print_error(exc)
        return 143 if _terminated.is_set() else 2
    except Terminated:
        print_error("terminated (SIGTERM)")
        return 143
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
