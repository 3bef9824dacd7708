#!/usr/bin/env bash
# The fast tests against the lowest versions pyproject.toml declares: each
# `name>=X` of [project].dependencies installed as `name==X` (the oldest
# release the metadata admits), so a lower bound that stopped holding fails.
# torch is the exception: TORCH_PIN, the build on this machine's disk.
#
#   scripts/check_lowest.sh PYTHON VENV TORCH_PIN
set -euo pipefail
PYTHON=${1:-python3}
VENV=${2:-.venv-lowest}
TORCH_PIN=${3:-torch==2.13.0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

CONSTRAINTS="$VENV/lowest.txt"
WANT=$("$PYTHON" - "$TORCH_PIN" <<'PY'
import re
import sys
import tomllib

deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
for dep in deps:
    name, low = (part.strip() for part in dep.split(">="))
    if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+", name) or not re.fullmatch(r"[\d.]+", low):
        sys.exit(f"check_lowest: cannot read {dep!r}; expected 'name>=version'")
    print(sys.argv[1] if name == "torch" else f"{name}=={low}")
PY
)
if [ ! -f "$CONSTRAINTS" ] || [ "$(cat "$CONSTRAINTS")" != "$WANT" ]; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    PIP="$VENV/bin/python -m pip -q --disable-pip-version-check"
    printf '%s\n' "$WANT" >"$VENV/want.txt"
    { $PIP install "$TORCH_PIN" && $PIP install -c "$VENV/want.txt" -e ".[test]"; } \
        >"$VENV/pip.log" 2>&1 || { tail -40 "$VENV/pip.log"; exit 1; }
    mv "$VENV/want.txt" "$CONSTRAINTS"
fi
echo "lowest declared versions:"
"$VENV/bin/python" -m pip list --disable-pip-version-check 2>/dev/null \
    | grep -iE "^($(sed 's/==.*//; s/\[.*//' "$CONSTRAINTS" | paste -sd'|')) " || true
# shellcheck disable=SC2086  # PYTEST_WORKERS is a list of options (Makefile)
"$VENV/bin/python" -m pytest -m "not slow" -q -p no:cacheprovider ${PYTEST_WORKERS:-}
