#!/usr/bin/env bash
# Headless Chromium for tests/pipeline/test_report_page.py (opens report.html and takes a screenshot).
# Debian 12 package; ~30 s, +300 MB. Needs root or sudo. The test skips with a reason without it.
set -euo pipefail
if command -v chromium >/dev/null; then
    exit 0  # already there
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq || true
$sudo apt-get install -y -qq --no-install-recommends chromium
