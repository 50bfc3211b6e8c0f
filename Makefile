# sensible_adv: the two set-up commands are `make demo` and `make test`; each builds .venv if it is missing.
#
#   make demo       the library's main job (`sensible_adv demo`)
#   make test       library == export of notebooks, notebooks clean, every notebook alone (nbdev_test), pytest
#   make test-slow  the minutes-long cases: notebook cells flagged `slow` and `cross` (settings.ini tst_flags), pytest's `slow` ones
#   make studies    the CPU studies of nbs/12_experiments.ipynb (cells flagged `study`): hours; resumes; results in nbs/results/
#   make compat     the runtime tests and the README's examples beside the newest fastai/fastcore (.venv-compat)
#   make data       the offline Fashion-MNIST (Debian's dataset-fashion-mnist; as root it installs it)
#   make docs       the docs site offline: nbdev's processed pages (_proc/), then the site in _site_local/
#   make outputs    regenerate the outputs the chapters keep (figures, tables), then nbdev_clean
#   make readme     README.md from nbs/index.ipynb
#   make mutate     mutation score of the core modules (mutmut 3, tests/test_bugs.py & co.; slow, not in `make test`)
#   make bench-timing  training seconds of the frontier's methods, interleaved, one process (bench/frontier_timing.py; a quiet machine)
#   make bench-demo what `make demo` costs: its command timed in new processes, repeated (bench/demo_cost.py; a quiet machine)
#   make bench-gpu  the GPU benchmark, bench/gpu.py (CUDA; its CPU twin: BENCH_GPU_ARGS='--smoke --device cpu')
#   make device-wheels  .whl/: the wheels a GPU machine without network needs (bench/README.md)
#   make clean      remove build outputs (keeps the environments; `make distclean` removes them too)
#
# The environment: `.venv` from `python3 -m venv`, the dev set pinned by constraints.txt (binary wheels only, so
# pip never builds an old sdist while backtracking), the library installed editable in compat mode (a plain
# path entry, so PYTHONPATH can point a worktree at its own copy). It is rebuilt only when constraints.txt,
# settings.ini, setup.py or pyproject.toml change.
# To use an existing environment as it is: `make test VENV=/path/to/venv STAMP=`.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.NOTPARALLEL:

PYTHON ?= python3
VENV ?= .venv
STAMP ?= $(VENV)/.sensible_adv-installed
BIN := $(VENV)/bin
N_WORKERS ?= 2
TORCHATTACKS := torchattacks==3.5.1
# This checkout's package comes first on the path, whatever environment runs it.
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))

# pip's notice for each configured local mirror folder that does not exist on this machine (one per package)
PIP_NOISE := ^WARNING: Location 'file://.*' is ignored: it is neither a file nor a directory\.$$
HASH_LIB = find sensible_adv -type f -name '*.py' -not -path '*/__pycache__/*' | LC_ALL=C sort | xargs sha256sum
HASH_NBS = find nbs -type f -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' -not -path '*/_proc/*' | LC_ALL=C sort | xargs sha256sum

.PHONY: bench-timing bench-demo help venv demo test check-export check-clean nbtest pytest test-slow studies mutate compat data bench-gpu device-wheels docs outputs readme clean distclean

help:
	@grep -E '^#   make ' Makefile | sed 's/^# \{0,1\}//'

$(STAMP): constraints.txt settings.ini setup.py pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --only-binary=:all: -c constraints.txt \
	    -e '.[dev]' --config-settings editable_mode=compat 2> >(grep -v "$(PIP_NOISE)" >&2)
	# AutoAttack for the evaluation suite: torchattacks pins requests~=2.25 (it would downgrade requests/idna),
	# so it goes in without its dependencies, which the dev set already has (torch, torchvision, scipy, tqdm, requests)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps $(TORCHATTACKS) 2> >(grep -v "$(PIP_NOISE)" >&2)
	@touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/sensible_adv demo

# (a) the library is exactly the export of the notebooks
check-export: $(STAMP)
	@before="$$($(HASH_LIB))"; $(BIN)/nbdev_export; after="$$($(HASH_LIB))"; \
	if [ "$$before" != "$$after" ]; then \
	  echo "FAIL: nbdev_export changed sensible_adv/: the library was not the export of the notebooks."; \
	  echo "      The export has now been written; review it (git diff sensible_adv) and commit it with the notebooks."; \
	  git status --porcelain -- sensible_adv 2>/dev/null || true; exit 1; fi; \
	echo "ok: sensible_adv/ == nbdev_export of nbs/"

# (b) the notebooks are clean
check-clean: $(STAMP)
	@before="$$($(HASH_NBS))"; $(BIN)/nbdev_clean; after="$$($(HASH_NBS))"; \
	if [ "$$before" != "$$after" ]; then \
	  echo "FAIL: nbdev_clean changed notebooks: they were not clean (metadata, execution counts, ids)."; \
	  echo "      They have now been cleaned; review (git diff nbs) and commit them."; \
	  git status --porcelain -- nbs 2>/dev/null || true; exit 1; fi; \
	echo "ok: notebooks are clean"

# (c) every notebook runs on its own, each in a process of its own, N_WORKERS at a time (one torch thread each), so
# that no notebook can lean on another's imports (cells flagged slow/cross are skipped here; see test-slow). Each
# process is forked after the third-party imports (torch and the like, never ours or fastai's: the runner's PRELOAD);
# test-slow starts a new nbdev_test for each instead (--fresh), imports and all, as a reader who opens one notebook
nbtest: $(STAMP)
	$(BIN)/python tools/test_notebooks.py --jobs $(N_WORKERS)

# (d) pytest, last, so its summary line is the last thing printed: N_WORKERS processes (pytest-xdist), one torch
# thread each, a test file at a time (they share one build of the docs site: tests/conftest.py), longest files first
# (conftest's LONGEST_FIRST, kept in that order); the cases marked `slow` (minutes each) are left to test-slow
PYTEST_XDIST = -n $(N_WORKERS) --dist loadfile --no-loadscope-reorder
pytest: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest $(PYTEST_XDIST) -m 'not slow' tests

# in this order; the prerequisites of a .NOTPARALLEL makefile run one after another, left to right
test: check-export check-clean nbtest pytest

test-slow: $(STAMP)
	$(BIN)/python tools/test_notebooks.py --jobs $(N_WORKERS) --fresh --nbdev-test $(BIN)/nbdev_test --flags "slow cross"
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest $(PYTEST_XDIST) -m slow tests

# The studies rewrite the committed result files; one process, one thread (bench/experiments.py says how to split them)
studies: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python bench/experiments.py

# Mutation testing (issue #14): mutmut 3 mutates the core modules (setup.cfg [mutmut]) in a copy, mutants/, and runs
# there the fast in-process tests (tests/conftest.py MUTATION_TESTS) against each mutant; then the score, per module,
# into bench/results/mutation.json. PYTHONPATH is unset for it (it names this checkout's own, unmutated package), and
# tools/mutmut_run.py is mutmut with one fix (see there). MUTATE='sensible_adv.sensible* sensible_adv.callback*' runs
# only those mutants (mutmut's names); results accumulate in mutants/ across runs (`make clean` removes them). mutmut
# maps tests to functions once and again only for new test names: after changing a test, rm mutants/mutmut-stats.json.
MUTATE ?=
mutate: $(STAMP)
	env -u PYTHONPATH OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python tools/mutmut_run.py run --max-children 1 $(MUTATE)
	$(BIN)/python tools/mutation_score.py --out bench/results/mutation.json

# The library as `pip install` gives it today: its own environment, from settings.ini `requirements` alone (cached)
compat:
	tools/compat.sh .venv-compat

data:
	@bash tools/get_data.sh

# The frontier's training times (issue: the studies' own seconds were taken under load). About 10 min per repeat on 2 cores.
bench-timing: $(STAMP)
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/python bench/frontier_timing.py $(BENCH_TIMING_ARGS)

# What `make demo` costs (the README's figure): its command, 3 times, each a new process. About 6 min per repeat on 2 cores.
bench-demo: $(STAMP)
	$(BIN)/python bench/demo_cost.py $(BENCH_DEMO_ARGS)

# The GPU benchmark: writes bench/results/gpu.json (with --smoke: gpu_smoke.json). One torch thread on CPU (see nbtest).
BENCH_GPU_ARGS ?=
bench-gpu: $(STAMP)
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/python bench/gpu.py $(BENCH_GPU_ARGS)

# The wheels a GPU machine's image lacks: it has torch, torchvision, scikit-learn, matplotlib, pandas and pytest, and no
# network. The list is what `from fastai.vision.all import *` and `import sensible_adv.all` import beyond those (found by
# importing them in a venv holding only the image's packages, adding what was missing), pinned to constraints.txt,
# built for CPython $(DEVICE_PY) on manylinux x86_64 (`make device-wheels DEVICE_PY=3.11` adds the wheels of a local
# 3.11 simulation beside them). .whl/requirements.txt lists the pins; bench/device_check.sh installs exactly those.
DEVICE_PY ?= 3.12
WHEELS ?= .whl
DEVICE_WHEELS := fastai fastcore fastprogress fastdownload fasttransform plum-dispatch beartype rich python-fasthtml \
                 anyio starlette itsdangerous requests urllib3 idna certifi charset-normalizer PyYAML
device-wheels:
	@mkdir -p $(WHEELS)
	@for name in $(DEVICE_WHEELS); do \
	  pin=$$(grep -i "^$$name==" constraints.txt) || { echo "$$name is not pinned in constraints.txt" >&2; exit 1; }; \
	  $(PYTHON) -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d $(WHEELS) \
	    --python-version $(DEVICE_PY) --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 "$$pin" \
	    2> >(grep -v "$(PIP_NOISE)" >&2); \
	  echo "$$pin"; done > $(WHEELS)/requirements.txt
	@echo "$(WHEELS)/: $$(ls $(WHEELS)/*.whl | wc -l) wheels, $$(du -sh $(WHEELS) | cut -f1); pins in $(WHEELS)/requirements.txt"

# Quarto (nbdev_docs, nbdev_preview) renders the published site; this builds the same pages without it, offline,
# with the sidebar, links and math of that site (tools/build_docs.py). Open _site_local/index.html.
docs: $(STAMP)
	$(BIN)/python tools/build_docs.py --n_workers $(N_WORKERS)

# The outputs that teach, regenerated by the chapters themselves and kept in them (the docs render what is stored)
OUTPUT_NBS ?= nbs/index.ipynb nbs/03_sensible.ipynb nbs/04_callback.ipynb nbs/07_evaluate.ipynb nbs/12_experiments.ipynb nbs/13_benchmarks.ipynb
outputs: $(STAMP)
	$(BIN)/python -c "from sensible_adv.experiments import plot_frontier; plot_frontier('nbs/results/frontier.json', 'nbs/results/frontier.png')"
	cd nbs && ../$(BIN)/python -c "from sensible_adv.experiments import *; g = budget_gaps(); g = g[g.config.isin(list(FRONTIER_4X))] if len(g) else g; \
	  plot_budgets(out='results/frontier_budgets.png'); len(g) and plot_budget_gaps(g, out='results/budget_gaps.png')"
	OMP_NUM_THREADS=1 $(BIN)/python tools/run_outputs.py $(OUTPUT_NBS)
	$(BIN)/nbdev_clean

readme: $(STAMP)
	$(BIN)/python tools/make_readme.py nbs/index.ipynb README.md

clean:
	rm -rf _proc _docs _site _site_local .pytest_cache build dist *.egg-info mutants
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -not -path './.venv-compat/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .venv-compat
