#!/usr/bin/env bash
# The compatibility check (`make compat`): the library as a user installs it today, beside the newest fastai/fastcore.
#
# The development set is pinned (nbdev 2 needs fastcore 1.x, which caps fastai at 2.8.7), so `make test` never sees
# the fastai/fastcore most users have. This builds a second environment from the library's *runtime* requirements
# alone (settings.ini `requirements`; binary wheels only, so pip never builds an old sdist while backtracking) with
# the newest fastai and fastcore the index serves, installs the library without extras, prints the versions, and
# runs the runtime tests (`pytest --runtime-only`: the command line, the fault handling, the data and the README's
# Python and shell examples; see tests/conftest.py). torch/torchvision are pinned to a pair that works together on
# this index (TORCH_PINS; other torchvision builds fail to import beside other torch versions here).
#
# The environment is cached: it is rebuilt only when settings.ini, setup.py, pyproject.toml or the pins change
# (a stamp file in it holds their hash). `rm -rf .venv-compat` forces a rebuild, which picks up newer releases.
# Usage: tools/compat.sh [VENV]        (default .venv-compat; PYTHON selects the interpreter that creates it)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv-compat}
PYTHON=${PYTHON:-python3}
TORCH_PINS=${TORCH_PINS:-"torch==2.14.1 torchvision==0.29.1"}
STAMP="$VENV/.requirements-sha256"
# pip's notice for each configured local mirror folder that does not exist on this machine (one per package)
PIP_NOISE="^WARNING: Location 'file://.*' is ignored: it is neither a file nor a directory\.$"

requirements() { "$PYTHON" -c "import configparser; c = configparser.ConfigParser(); c.read('settings.ini'); print(c['DEFAULT']['requirements'])"; }
want=$( { cat settings.ini setup.py pyproject.toml; echo "$TORCH_PINS"; } | sha256sum | cut -d' ' -f1)

if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  echo "compat: reusing $VENV (requirements unchanged; rm -rf $VENV to rebuild with newer releases)"
else
  echo "compat: building $VENV from settings.ini requirements: $(requirements)"
  rm -rf "$VENV"; "$PYTHON" -m venv "$VENV"
  t0=$SECONDS
  # shellcheck disable=SC2046  # word splitting of the requirement list is wanted
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
      $(requirements) $TORCH_PINS pytest 2> >(grep -v "$PIP_NOISE" >&2)
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e . \
      --config-settings editable_mode=compat 2> >(grep -v "$PIP_NOISE" >&2)
  echo "$want" > "$STAMP"
  echo "compat: built in $((SECONDS - t0)) s"
fi

"$VENV/bin/python" - <<'EOF'
import platform, sys, fastai, fastcore, torch, torchvision, sensible_adv
from importlib.util import find_spec
print(f"compat: python {platform.python_version()}, fastai {fastai.__version__}, fastcore {fastcore.__version__}, "
      f"torch {torch.__version__}, torchvision {torchvision.__version__}, sensible_adv {sensible_adv.__version__}; "
      f"nbdev {'present (not a runtime environment!)' if find_spec('nbdev') else 'absent'}, "
      f"torchattacks {'present' if find_spec('torchattacks') else 'absent (AutoAttack is skipped)'}")
if find_spec('nbdev'): sys.exit("compat: FAIL: nbdev is importable here, so this is not a runtime-only environment")
EOF
# this checkout first on the path, as in the Makefile
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$VENV/bin/python" -m pytest --runtime-only -rs -q tests
