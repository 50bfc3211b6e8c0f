"""`mutmut` 3.3.0's command line, with three fixes: no string mutants of literals that hold a backslash escape;
pytest 9's test items given back the `_nodeid` attribute mutmut reads (pytest 9 keeps only `nodeid`); and a module
whose mutants are up to date (same mtime as its source, results file present) is neither copied nor regenerated, so
that results accumulate across runs of some of the mutants (3.3.0 regenerates every module, resetting every result).

mutmut's string operator upper-cases literals, which turns the escape '\\n' into '\\N' (and '\\x41' into '\\X41'):
a syntax error, after which mutmut's mutant generation hangs (the worker exits, its pool waits for it forever).
Usage: `python tools/mutmut_run.py run --max-children 1 [NAMES...]` (any mutmut command).
"""
import shutil, sys
from pathlib import Path
import _pytest.nodes
import mutmut, mutmut.__main__ as mm
import mutmut.node_mutation as nm

if not hasattr(_pytest.nodes.Node, '_nodeid'):      # mutmut's stats collector reads `item._nodeid`
    _pytest.nodes.Node._nodeid = property(lambda self: self.nodeid)

_operator_string = nm.operator_string

def operator_string(node):
    "mutmut's string mutants, except for literals with a backslash (whose case carries meaning in escapes)."
    if '\\' in getattr(node, 'value', ''): return
    yield from _operator_string(node)

nm.mutation_operators[:] = [(t, operator_string if op is _operator_string else op) for t, op in nm.mutation_operators]

def up_to_date(path:Path) -> bool:
    "Whether mutants/PATH holds the mutants of source file PATH as it is now, with a results file."
    out = Path('mutants') / path
    return out.exists() and Path(f"{out}.meta").exists() and abs(out.stat().st_mtime - Path(path).stat().st_mtime) < 1e-3

def copy_src_dir():
    "mutmut's copy of the sources into mutants/, leaving the up-to-date mutated modules alone."
    for root, name in mm.walk_all_files():
        src = Path(root) / name
        if not (name.endswith('.py') and not mutmut.config.should_ignore_for_mutation(src) and up_to_date(src)):
            (Path('mutants') / src).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, Path('mutants') / src)

_create_file_mutants = mm.create_file_mutants

def create_file_mutants(path:Path):
    "mutmut's mutant generation for one file, skipped when its mutants are up to date."
    if not mutmut.config.should_ignore_for_mutation(path) and up_to_date(path): print(path, 'up to date'); return
    _create_file_mutants(path)

mm.copy_src_dir, mm.create_file_mutants = copy_src_dir, create_file_mutants

if __name__ == '__main__':
    sys.exit(mm.cli())
