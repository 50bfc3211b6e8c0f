"""`mutmut` 3.3.0's command line, with two fixes: no string mutants of literals that hold a backslash escape, and
pytest 9's test items given back the `_nodeid` attribute mutmut reads (pytest 9 keeps only `nodeid`).

mutmut's string operator upper-cases literals, which turns the escape '\\n' into '\\N' (and '\\x41' into '\\X41'):
a syntax error, after which mutmut's mutant generation hangs (the worker exits, its pool waits for it forever).
Usage: `python tools/mutmut_run.py run --max-children 1 [NAMES...]` (any mutmut command).
"""
import sys
import _pytest.nodes
import mutmut.node_mutation as nm

if not hasattr(_pytest.nodes.Node, '_nodeid'):      # mutmut's stats collector reads `item._nodeid`
    _pytest.nodes.Node._nodeid = property(lambda self: self.nodeid)

_operator_string = nm.operator_string

def operator_string(node):
    "mutmut's string mutants, except for literals with a backslash (whose case carries meaning in escapes)."
    if '\\' in getattr(node, 'value', ''): return
    yield from _operator_string(node)

nm.mutation_operators[:] = [(t, operator_string if op is _operator_string else op) for t, op in nm.mutation_operators]

if __name__ == '__main__':
    from mutmut.__main__ import cli
    sys.exit(cli())
