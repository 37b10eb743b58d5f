#!/usr/bin/env bash
# GStreamer's RTSP server (tests/rtsp_server.py runs it under /usr/bin/python3) and ffmpeg (re-encodes
# the shared mp4v clips to H.264 for it). Debian 12 package names; ~15 s, +106 MB. Needs root or sudo.
set -euo pipefail
pkgs=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-base
      gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav ffmpeg)
if /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0')" 2>/dev/null \
    && command -v ffmpeg >/dev/null; then
    exit 0  # already there
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq || true
$sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
