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
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

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

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
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


if __name__ == "__main__":
    sys.exit(main())
