"""The exported library as a user imports it (not the notebooks' own definitions, which `nbdev_test` runs).

A notebook runs its cells in order, so its tests see each definition before a later cell can replace it; the exported
module holds only the last one. Two private helpers of the same name in one module once made `run_study` call the
frontier's `_report` (another signature): every notebook passed, and every study a user ran failed.
"""
import ast, json
from pathlib import Path
import pytest

LIB = Path(__file__).resolve().parent.parent / 'sensible_adv'

def _patches(node) -> bool:
    "Whether a definition is fastcore's `@patch`/`@patch_to(...)`: it adds a method to a class and leaves the module's name alone."
    names = {getattr(d.func if isinstance(d, ast.Call) else d, 'id', None) for d in getattr(node, 'decorator_list', [])}
    return bool(names & {'patch', 'patch_to'})

def _top_level_names(path:Path) -> list[str]:
    "The functions and classes a module binds at top level, in order (with repeats)."
    tree = ast.parse(path.read_text())
    return [n.name for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not _patches(n)]

@pytest.mark.parametrize('module', sorted(p.name for p in LIB.glob('*.py') if not p.name.startswith('_')))
def test_each_name_defined_once(module):
    "No exported module defines a function or class twice (the second would silently replace the first)."
    names = _top_level_names(LIB / module)
    twice = sorted({n for n in names if names.count(n) > 1})
    assert not twice, f"{module} defines {twice} more than once: rename one (the notebook's cells run in order, the module keeps the last)"

def test_run_study_from_the_package(tmp_path):
    "A tiny study through the package: train, evaluate, write the results file, and reuse both on a second call."
    from sensible_adv.experiments import run_study
    runs = {'natural': dict(dataset='digits', method='natural', epochs=1, n_train=200, n_valid=40, bs=50, seed=0)}
    evals = {'robustness': ('fgsm', 40)}
    res = run_study('tiny', runs, evals, root=tmp_path/'runs', out=tmp_path/'results', log=lambda m: None)
    saved = json.loads((tmp_path/'results'/'tiny.json').read_text())
    assert saved == json.loads(json.dumps(res))
    cols = [r['column'] for r in saved['natural']['rows']]
    assert cols == ['natural', 'FGSM'], cols
    assert {c['report'] for c in saved['natural']['checks']} == {'robustness'}
    report = tmp_path/'runs'/'tiny'/'natural'/'robustness.json'
    before = report.stat().st_mtime_ns
    run_study('tiny', runs, evals, root=tmp_path/'runs', out=tmp_path/'results', log=lambda m: None)
    assert report.stat().st_mtime_ns == before, 'the saved report of the same evaluation was recomputed'
