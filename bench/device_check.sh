#!/usr/bin/env bash
# The device check: one command on a GPU machine without network, run from the repository root.
#
#     bash bench/device_check.sh [--device cuda|cpu] [--out DIR]
#
#   1. venv: a fresh venv reusing the base interpreter's packages (the image's torch, torchvision, scikit-learn, ...),
#      plus the wheels carried in .whl/ (`make device-wheels`), installed with --no-index --no-deps from the pins in
#      .whl/requirements.txt; the library itself comes from this tree (PYTHONPATH), nothing is built;
#   2. env:    versions and the device, to env.txt;
#   3. pytest: the CUDA tests (`pytest -m cuda` over the test files that use the marker); with --device cpu the
#              same files without -m, so their CPU twins run and the CUDA tests report as skipped;
#   4. bench:  bench/gpu.py (with --device cpu: its --smoke run), JSON to gpu.json.
# Logs, JSON, junit XML and summary.txt go to the output folder: --out, else $OUT, else ./device_out.
# One overall budget, BUDGET seconds (default 470, under 8 minutes): each step runs under `timeout` with at most what is
# left of it; the benchmark stops starting new rows 60 s before the end (its JSON is rewritten after every row).
# A failed step does not stop the later ones; the exit status is 0 only if every step passed.
#
# Environment: PYTHON, the base interpreter (default python3). It may also be a venv's python, to simulate the image
# on another machine: its packages are then reused through a .pth file rather than --system-site-packages (which would
# expose the packages of the interpreter the venv was made from, not the venv's). WHEELS (default .whl), BUDGET,
# BENCH_ARGS (extra bench/gpu.py arguments, e.g. --compile), VENV (where to make the venv; default a temporary folder).
set -uo pipefail
cd "$(dirname "$0")/.."

DEVICE=cuda
OUT=${OUT:-device_out}
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE=$2; shift 2;;
    --out) OUT=$2; shift 2;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2;;
  esac
done
PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
BUDGET=${BUDGET:-470}
START=$SECONDS
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
exec > >(tee -a "$OUT/device_check.log") 2>&1
# one torch thread for the CPU run: on a small shared machine more threads oversubscribe it (see the Makefile's nbtest)
[ "$DEVICE" = cpu ] && export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

SUMMARY=()
FAILED=0
left() { echo $(( BUDGET - (SECONDS - START) )); }

step() {
  # step NAME CAP_S CMD...: run CMD under `timeout` (CAP_S or what is left of the budget, the smaller), its output
  # to the console and to NAME.log; record its exit status and seconds.
  local name=$1 cap=$2 t rc t0=$SECONDS; shift 2
  t=$(left); [ "$cap" -lt "$t" ] && t=$cap
  if [ "$t" -le 5 ]; then SUMMARY+=("$name: not run, budget spent"); FAILED=1; return 1; fi
  echo "== $name (at $((SECONDS - START)) s, timeout $t s): $*"
  timeout --kill-after=10 "$t" "$@" 2>&1 | tee "$OUT/$name.log"
  rc=${PIPESTATUS[0]}
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && echo "== $name: timed out after $t s"
  SUMMARY+=("$name: exit $rc, $((SECONDS - t0)) s")
  [ "$rc" -eq 0 ] || FAILED=1
  return "$rc"
}

make_venv() {
  # A venv that sees the base interpreter's packages, with the carried wheels installed into it.
  if [ ! -f "$WHEELS/requirements.txt" ]; then echo "no $WHEELS/requirements.txt: run 'make device-wheels' first" >&2; return 1; fi
  local in_venv purelib
  in_venv=$("$PYTHON" -c 'import sys; print(int(sys.prefix != sys.base_prefix))') || return 1
  if [ "$in_venv" = 1 ]; then
    "$PYTHON" -m venv --without-pip "$VENV" || return 1
    purelib=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    "$PYTHON" -c 'import site; print("\n".join(site.getsitepackages()))' > "$purelib/_base_site.pth"
  else
    "$PYTHON" -m venv --without-pip --system-site-packages "$VENV" || return 1
  fi
  # the base interpreter's pip installs into the venv (pip >= 22.3: --python), so the venv needs no pip of its own and
  # no ensurepip (some images leave it out); an older pip: the venv's own, bootstrapped
  local pip=("$PYTHON" -m pip --python "$VENV/bin/python")
  if ! "${pip[@]}" --version >/dev/null 2>&1; then
    pip=("$VENV/bin/python" -m pip)
    "${pip[@]}" --version >/dev/null 2>&1 || "$VENV/bin/python" -m ensurepip --default-pip >/dev/null || return 1
  fi
  "${pip[@]}" install --quiet --disable-pip-version-check --no-index --find-links "$WHEELS" --no-deps -r "$WHEELS/requirements.txt"
}

write_env() {
  # Versions and the device, to env.txt.
  { command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    "$VENV/bin/python" - <<'EOF'
import platform, torch, torchvision, fastai, fastcore, sensible_adv, sensible_adv.all
print('python', platform.python_version(), '| torch', torch.__version__, '| torchvision', torchvision.__version__,
      '| fastai', fastai.__version__, '| fastcore', fastcore.__version__, '| sensible_adv', sensible_adv.__version__)
print('cuda available:', torch.cuda.is_available(), '|', torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')
EOF
  } | tee "$OUT/env.txt"
  return "${PIPESTATUS[0]}"
}

# `timeout` runs programs, not shell functions: the steps that are functions run in `bash -c` with these exported
export -f make_venv write_env
if [ -z "${VENV:-}" ]; then VENV_ROOT=$(mktemp -d); VENV=$VENV_ROOT/venv; trap 'rm -rf "$VENV_ROOT"' EXIT; fi
export PYTHON WHEELS VENV OUT PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
echo "device check: --device $DEVICE, out $OUT, budget $BUDGET s, base $("$PYTHON" -c 'import sys; print(sys.executable, sys.version.split()[0])')"

if step venv 120 bash -c make_venv; then
  step env 60 bash -c write_env
  TEST_FILES=$(grep -l 'pytest.mark.cuda' tests/test_*.py | tr '\n' ' ')
  MARK=(); [ "$DEVICE" = cpu ] || MARK=(-m cuda)
  # shellcheck disable=SC2086  # the test files: one word each
  step pytest 180 "$VENV/bin/python" -m pytest "${MARK[@]}" $TEST_FILES -q -rs -p no:cacheprovider --junitxml="$OUT/pytest.xml"
  BENCH=(--device "$DEVICE"); [ "$DEVICE" = cpu ] && BENCH=(--smoke --device cpu)
  # shellcheck disable=SC2086  # BENCH_ARGS: extra arguments, split on spaces
  step bench 600 "$VENV/bin/python" bench/gpu.py "${BENCH[@]}" --out "$OUT/gpu.json" --time-budget $(( $(left) - 60 )) ${BENCH_ARGS:-}
fi

{ echo "device check, --device $DEVICE: $((SECONDS - START)) s of a $BUDGET s budget"
  printf '  %s\n' "${SUMMARY[@]}"
  [ "$FAILED" = 0 ] && echo "all steps passed" || echo "FAILED: see the step logs in $OUT"
} | tee "$OUT/summary.txt"
exit "$FAILED"
