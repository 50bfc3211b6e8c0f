"""`mutmut` 3.3.0's command line, with four fixes: no string mutants of literals that hold a backslash escape;
pytest 9's test items given back the `_nodeid` attribute mutmut reads (pytest 9 keeps only `nodeid`); a module
whose mutants are up to date (made from the same source content, results file present) is neither copied nor regenerated, so
that results accumulate across runs of some of the mutants (3.3.0 regenerates every module, resetting every result;
a module whose source content changed is regenerated and its results reset);
and a wall-clock timeout per test run from that run's own time estimate, with room for a loaded machine (3.3.0 gives
every running child the estimate of the file's *last-listed* mutant, times 4: on a busy machine it kills ordinary
runs, which it then counts as killed). mutmut's CPU-time limit (10x the estimate) still stops endless loops.

mutmut's string operator upper-cases literals, which turns the escape '\\n' into '\\N' (and '\\x41' into '\\X41'):
a syntax error, after which mutmut's mutant generation hangs (the worker exits, its pool waits for it forever).
Usage: `python tools/mutmut_run.py run --max-children 1 [NAMES...]` (any mutmut command).
"""
import hashlib, shutil, sys
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

def _sha(path) -> str: return hashlib.sha256(Path(path).read_bytes()).hexdigest()

def up_to_date(path:Path) -> bool:
    "Whether mutants/PATH holds the mutants of source file PATH as it is now (same content: `nbdev_export` rewrites every module), with a results file."
    out = Path('mutants') / path
    src_hash = Path(f"{out}.source-sha256")
    return out.exists() and Path(f"{out}.meta").exists() and src_hash.exists() and src_hash.read_text() == _sha(path)

def copy_src_dir():
    "mutmut's copy of the sources into mutants/, leaving the up-to-date mutated modules alone."
    for root, name in mm.walk_all_files():
        src = Path(root) / name
        mutated = name.endswith('.py') and not mutmut.config.should_ignore_for_mutation(src)
        if not (mutated and up_to_date(src)):
            (Path('mutants') / src).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, Path('mutants') / src)
            # its results belong to the old source: without this, the plain copy (same mtime, results file present)
            # would pass for up-to-date mutants and no mutant of the module would be generated or switched on
            if mutated: Path(f"mutants/{src}.meta").unlink(missing_ok=True)

_create_file_mutants = mm.create_file_mutants

def create_file_mutants(path:Path):
    "mutmut's mutant generation for one file, skipped when its mutants are up to date."
    if not mutmut.config.should_ignore_for_mutation(path) and up_to_date(path): print(path, 'up to date'); return
    _create_file_mutants(path)
    if not mutmut.config.should_ignore_for_mutation(path): Path(f"mutants/{path}.source-sha256").write_text(_sha(path))

WALL_FACTOR, WALL_SLACK = 10, 60     # a test run may take 10x its estimate plus a minute of wall time

def timeout_checker(mutants):
    "mutmut's watchdog, each child measured against its own estimate: SIGXCPU past WALL_FACTOR * estimate + WALL_SLACK seconds."
    import os, signal, time
    from datetime import datetime
    files = {id(m): m for m, _, _ in mutants}.values()
    def watch():
        while True:
            time.sleep(1)
            now = datetime.now()
            for m in files:
                for pid, start in list(m.start_time_by_pid.items()):
                    est = m.estimated_time_of_tests_by_pid.get(pid, 0.)
                    if (now - start).total_seconds() > WALL_FACTOR * est + WALL_SLACK:
                        try: os.kill(pid, signal.SIGXCPU)
                        except ProcessLookupError: pass
    return watch

# mutmut sets the child's CPU-time limit with soft == hard, so a run past it gets SIGXCPU and then SIGKILL: exit -9,
# which 3.3.0's table lacks (its summary then dies with KeyError: -9, ending the whole run). It is the timeout it meant.
mm.status_by_exit_code.setdefault(-9, 'timeout')
mm.emoji_by_status.setdefault('timeout', '⏰')
mm.copy_src_dir, mm.create_file_mutants, mm.timeout_checker = copy_src_dir, create_file_mutants, timeout_checker

if __name__ == '__main__':
    sys.exit(mm.cli())
