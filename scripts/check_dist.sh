#!/usr/bin/env bash
# The built wheel and sdist, used as a stranger would: outside the checkout,
# in a fresh virtualenv that has only the pinned CPU torch and what pip
# resolves from the package's own requirements.
#
#   scripts/check_dist.sh PYTHON TORCH_PIN
#
# Checks: the sdist builds, and the wheel builds from it (python -m build);
# the wheel installs, imports, and the shipped model
# predicts from another folder; the CLI runs; the sdist holds LICENSE and the
# test helpers, and its test suite collects without errors against the
# installed package (then a few of its tests run).
set -euo pipefail
PYTHON=${1:-python3}
TORCH_PIN=${2:-torch==2.13.0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fashionclf-dist.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

"$PYTHON" -m build --outdir "$WORK/dist" "$ROOT" >"$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log"; exit 1; }
WHEEL=$(ls "$WORK"/dist/*.whl)
SDIST=$(ls "$WORK"/dist/*.tar.gz)
echo "built $(basename "$WHEEL") and $(basename "$SDIST")"

python3 -m venv "$WORK/venv"
PIP="$WORK/venv/bin/python -m pip -q --disable-pip-version-check"
# The README's user install lines, as written, from a clone in ./fashionclf;
# the one exception: PyTorch's index is out of reach here, so its line
# installs the pinned CPU build from this machine's disk (documented on the
# installation page).
git clone -q "$ROOT" "$WORK/fashionclf"
LINES=$("$PYTHON" - "$ROOT/README.md" <<'PY'
import re, sys

text = open(sys.argv[1], encoding="utf-8").read()
user = text[text.index("As a user:"):]
block = re.search(r"```bash\n(.*?)```", user, re.DOTALL).group(1)
print("\n".join(line for line in block.splitlines() if line.strip()))
PY
)
echo "README's install lines:"
(
    cd "$WORK"
    while IFS= read -r line; do
        echo "  \$ $line"
        case "$line" in
            "pip install torch --index-url"*) $PIP install "$TORCH_PIN" ;;
            "pip install "*) $PIP install ${line#pip install } ;;
            *) echo "check_dist: unexpected README line: $line"; exit 1 ;;
        esac
    done <<<"$LINES"
    $PIP install pytest pytest-timeout hypothesis
) >"$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log"; exit 1; }
grep -F '  $ ' "$WORK/pip.log"

cd "$WORK"  # nowhere near the checkout
"$WORK/venv/bin/python" - <<'PY'
import warnings
from pathlib import Path

warnings.simplefilter("error")  # a user's first lines must be quiet
import fashionclf
from fashionclf import FashionCNNClassifier, load_sample

assert Path(fashionclf.__file__).is_relative_to(Path.cwd()), fashionclf.__file__
X, y = load_sample(subset="test", return_X_y=True, as_frame=True)
score = FashionCNNClassifier.pretrained().score(X, y)
assert score >= 0.9, score
print(f"wheel: fashionclf {fashionclf.__version__} from {Path(fashionclf.__file__).parent}")
print(f"wheel: the shipped model scores {score:.3f} on the bundled test sample")
PY
"$WORK/venv/bin/fashionclf" --version

tar xzf "$SDIST" -C "$WORK"
SRC=$(ls -d "$WORK"/fashionclf-*/)
for f in LICENSE README.md tests/__init__.py tests/conftest.py tests/helpers.py tests/http_server.py \
    tests/postgres.py examples/quickstart.py benchmarks/RESULTS.md; do
    test -f "$SRC/$f" || { echo "sdist lacks $f"; exit 1; }
done
rm -rf "$SRC/fashionclf"  # the tests must import the installed package
cd "$SRC"
"$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider --collect-only tests \
    | tail -1
"$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider \
    tests/test_pretrained.py tests/test_loaders.py | grep -E "SKIPPED|passed|failed|error"
echo "dist-check: ok"
