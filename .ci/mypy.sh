#!/usr/bin/env bash
# mypy cannot follow setuptools' package-dir mapping of an editable install, so give it a view of
# the namespace made of symlinks (build/mypy/facelog/{pipeline,training,engines} -> the real folders).
set -euo pipefail
cd "$(dirname "$0")/.."
view=build/mypy
mkdir -p "$view/facelog"
for pkg in pipeline training engines; do ln -sfn "../../../$pkg" "$view/facelog/$pkg"; done
stubs=()
[ -d build/stubs ] && stubs=(build/stubs)
MYPYPATH="$view${stubs:+:${stubs[*]}}" python -m mypy --follow-imports=silent -p facelog.pipeline -p facelog.training -p facelog.engines "$@"
