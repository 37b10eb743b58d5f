#!/usr/bin/python3
"""A real RTSP server for tests and the soak benchmark (GStreamer's gst-rtsp-server).

Runs under Debian's ``/usr/bin/python3`` (python3-gi does not import in the project venv), so
tests start it as a subprocess. Mounts:

* ``--mount /cam=/path/clip.mp4``: an H.264 mp4 served from the start for every new client
  (``qtdemux ! h264parse ! rtph264pay``); re-encode mp4v clips with ffmpeg first.
* ``--mount /silent=silent``: a camera that accepts the connection but never sends a frame
  (its pipeline never prerolls, so DESCRIBE never gets an answer).

``--user``/``--password`` turn on RTSP basic authentication for every mount. Prints
``READY <port>`` on stdout once listening; stop it with SIGTERM/SIGINT (or SIGKILL in tests).

Example:
    /usr/bin/python3 tests/rtsp_server.py --port 8554 --mount /cam=/tmp/clip_h264.mp4

The same file, imported from the project venv (tests, ``benchmarks/rtsp_soak.py``), gives
:class:`RtspServer` to start, kill, freeze and restart that server, and :func:`make_h264_clip`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SILENT_LAUNCH = (
    "( videotestsrc is-live=true pattern=black ! video/x-raw,width=64,height=64,framerate=5/1"
    " ! valve drop=true ! x264enc tune=zerolatency ! rtph264pay name=pay0 pt=96 )"
)


def file_launch(path: str) -> str:
    escaped = path.replace('"', '\\"')
    pay = "rtph264pay name=pay0 pt=96 config-interval=1"
    return f'( filesrc location="{escaped}" ! qtdemux ! h264parse ! {pay} )'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--mount", action="append", default=[], help="/path=FILE.mp4 or /path=silent")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args(argv)

    import gi  # only /usr/bin/python3 has it; the controller below must import without it

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    # a thread for each client, as a camera serves each viewer on its own: with the default one
    # thread for all clients, a client of the silent mount (whose DESCRIBE waits ~20 s for a preroll
    # that never comes) stalls every other client's requests behind it
    server.get_thread_pool().set_max_threads(-1)
    mounts = server.get_mount_points()

    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password or ""), token)
        server.set_auth(auth)

    for spec in args.mount:
        path, _, source = spec.partition("=")
        if not path.startswith("/") or not source:
            parser.error(f"--mount must be /path=FILE or /path=silent, got {spec!r}")
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(SILENT_LAUNCH if source == "silent" else file_launch(source))
        factory.set_shared(False)  # each client gets the clip from its start
        if args.user:
            role = Gst.Structure.new_from_string(
                "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )
            factory.add_role_from_structure(role)
        mounts.add_factory(path, factory)

    if server.attach(None) == 0:
        print(f"cannot listen on {args.host}:{args.port}", file=sys.stderr)
        return 2
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


# -- controller, used from the project venv ------------------------------------------------------
SERVER_SCRIPT = Path(__file__).resolve()
SYSTEM_PYTHON = "/usr/bin/python3"


def gst_rtsp_missing() -> str:
    """Why the RTSP server cannot run here ("" when it can)."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        return "GStreamer RTSP server not installed (run .ci/install_rtsp.sh)"
    if shutil.which("ffmpeg") is None:
        return "ffmpeg not installed (run .ci/install_rtsp.sh)"
    return ""


def make_h264_clip(src: Path, dst: Path, loops: int) -> Path:
    """Re-encode ``src`` to an H.264 mp4 that plays it ``loops`` times (keyframe every second)."""
    cmd = [
        "ffmpeg", "-v", "error", "-y", "-stream_loop", str(loops - 1), "-i", str(src),
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "12",
        "-pix_fmt", "yuv420p", "-an", str(dst),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    return dst


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RtspServer:
    """One server process; can be killed, frozen, resumed and restarted on the same port.

    Args:
        mounts: mount path -> H.264 mp4 file, or ``"silent"`` for a camera that never sends a frame.
        user, password: require RTSP basic auth when given.
        port: fixed port (default: a free one).
    """

    def __init__(
        self, mounts: dict[str, str], user: str | None = None, password: str | None = None, port: int = 0
    ) -> None:
        self.mounts = mounts
        self.user, self.password = user, password
        self.port = port or free_port()
        self.proc: subprocess.Popen[str] | None = None

    def url(self, path: str, password: str | None = None) -> str:
        auth = ""
        if self.user:
            auth = f"{self.user}:{self.password if password is None else password}@"
        return f"rtsp://{auth}127.0.0.1:{self.port}{path}"

    def start(self, timeout_s: float = 10.0) -> RtspServer:
        cmd = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port)]
        for path, src in self.mounts.items():
            cmd += ["--mount", f"{path}={src}"]
        if self.user:
            cmd += ["--user", self.user, "--password", self.password or ""]
        # The server needs the system's GI, not the venv: start it with a clean PYTHONPATH.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        deadline = time.monotonic() + timeout_s
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "READY <port>" once listening
        if not line.startswith("READY") or time.monotonic() > deadline:
            self.kill()
            raise RuntimeError(f"RTSP server did not start on port {self.port}: got {line!r}")
        return self

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL (connections close at once) and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a frozen process must run to die cleanly
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> RtspServer:
        self.kill()
        return self.start()

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


if __name__ == "__main__":
    sys.exit(main())
