"""The mutation score of `make mutate`: per module, how many of mutmut's mutants were killed, survived, had no test
that runs their function, timed out, or were not run; and the surviving mutants, each with its diff.

Reads mutmut 3's results (mutants/<module>.py.meta) and bench/results/mutation_equivalent.md. There, the lines
"- `MUTANT NAME`: reason" (a name may be an fnmatch pattern) under the heading "## Equivalent" name the survivors
judged equivalent (no test written from the definition can tell them from the original), and those under
"## Not scored" the mutants left out of the score on purpose (figures). A mutant that only changes its function's
docstring is equivalent by rule. Score = (killed + timeout) / (mutants run - equivalent - not scored); a timeout is
a mutant whose tests ran out of mutmut's CPU-time limit (SIGXCPU: an endless loop, say); `no tests` counts as not
killed. Prints the table and writes it as JSON (`--out`; a module of that file whose mutants are not in `--mutants`, or
none of them run, keeps its earlier entry). Usage: `python tools/mutation_score.py [--out FILE]`.
"""
import argparse, difflib, fnmatch, json, re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ('sensible', 'callback', 'evaluate', 'attacks', 'runs')
STATUS = {1: 'killed', 3: 'killed', -24: 'timeout', 0: 'survived', 5: 'no tests', 33: 'no tests', 34: 'skipped',
          35: 'suspicious', 36: 'timeout', 24: 'timeout', 152: 'timeout', 255: 'timeout', -9: 'timeout', -11: 'segfault', None: 'not run'}

def listed(path:Path) -> dict:
    "Section ('equivalent', 'not scored') -> {mutant name or pattern: reason}, from the equivalents file."
    out = {'equivalent': {}, 'not scored': {}}
    if not path.exists(): return out
    for part in re.split(r'^## ', path.read_text(), flags=re.M)[1:]:
        head = part.split('\n', 1)[0].strip().lower()
        if head in out: out[head].update(re.findall(r'^- `([^`]+)`:?\s*(.*)$', part, re.M))
    return out

def match(name:str, names:dict) -> bool:
    "Whether mutant `name` is listed in `names` (exactly or by a pattern)."
    return name in names or any('*' in k and fnmatch.fnmatchcase(name, k) for k in names)

def docstring_only(defs:dict, name:str) -> bool:
    "Whether mutant `name` differs from its function only in the docstring."
    import libcst as cst
    short = name.split('.')[-1]
    f, o = defs[short], defs[short.rsplit('__mutmut_', 1)[0] + '__mutmut_orig']
    body = lambda fn: [cst.Module([st]).code for st in fn.body.body]
    a, b = body(f), body(o)
    return len(a) == len(b) and a[1:] == b[1:] and a[0] != b[0] and f.get_docstring() is not None

def functions(module) -> dict:
    "The function definitions of a mutated module by name (top level and in classes: where mutmut puts them)."
    import libcst as cst
    out, todo = {}, list(module.body)
    while todo:
        node = todo.pop()
        if isinstance(node, cst.FunctionDef): out[node.name.value] = node
        elif isinstance(node, cst.ClassDef): todo.extend(node.body.body)
    return out

def mutant_diff(defs:dict, name:str) -> list[str]:
    "The lines mutant `name` changes ('-' original, '+' mutant), from the functions of mutmut's mutated module."
    import libcst as cst
    short = name.split('.')[-1]
    code = lambda f: cst.Module([f.with_changes(name=cst.Name('f'))]).code.strip().split('\n')
    orig, mut = code(defs[short.rsplit('__mutmut_', 1)[0] + '__mutmut_orig']), code(defs[short])
    return [l.strip() for l in difflib.unified_diff(orig, mut, lineterm='', n=0)
            if l[:1] in '+-' and not l.startswith(('+++', '---'))]

def score(mutants_dir:Path, lists:dict, diffs:bool=True) -> dict:
    "The table: module -> counts, score, the survivors (name, status, diff) and the equivalent ones (name, reason)."
    import libcst as cst
    out = {}
    for mod in MODULES:
        meta = mutants_dir / 'sensible_adv' / f'{mod}.py.meta'
        if not meta.exists(): continue
        st = {k: STATUS.get(v, f'exit {v}') for k, v in json.loads(meta.read_text())['exit_code_by_key'].items()}
        left = {k: s for k, s in st.items() if s not in ('killed', 'not run')}
        defs = functions(cst.parse_module((mutants_dir / 'sensible_adv' / f'{mod}.py').read_text())) if left else {}
        eq, skip = {}, {}
        for k in left:
            if match(k, lists['not scored']): skip[k] = next(v for p, v in lists['not scored'].items() if p == k or fnmatch.fnmatchcase(k, p))
            elif match(k, lists['equivalent']): eq[k] = next(v for p, v in lists['equivalent'].items() if p == k or fnmatch.fnmatchcase(k, p))
            elif docstring_only(defs, k): eq[k] = 'docstring only'
        left = {k: s for k, s in left.items() if s != 'timeout'}
        surv = [dict(name=k, status=s, diff=mutant_diff(defs, k) if diffs else []) for k, s in sorted(left.items())
                if k not in eq and k not in skip]
        c = Counter(st.values())
        n = lambda status: sum(d['status'] == status for d in surv)
        run = len(st) - c['not run']
        denom = run - len(eq) - len(skip)
        out[f'sensible_adv/{mod}.py'] = dict(
            generated=len(st), run=run, killed=c['killed'], equivalent=len(eq), not_scored=len(skip), survived=n('survived'),
            no_tests=n('no tests'), timeout=c['timeout'], other=len(surv) - n('survived') - n('no tests') - n('timeout'),
            not_run=c['not run'], score=round((c['killed'] + c['timeout']) / denom, 4) if denom else None, survivors=surv,
            equivalent_mutants=[dict(name=k, reason=v) for k, v in sorted(eq.items())])
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--mutants', default=str(ROOT / 'mutants'), help="mutmut's folder")
    ap.add_argument('--equivalent', default=str(ROOT / 'bench/results/mutation_equivalent.md'))
    ap.add_argument('--out', default=None, help='write the table as JSON here')
    ap.add_argument('--no-diffs', action='store_true', help='leave the survivors\' diffs out (faster)')
    ap.add_argument('--survivors', action='store_true', help="only print the names of the mutants not killed (to rerun them: "
                    "make mutate MUTATE=\"$(python tools/mutation_score.py --survivors)\")")
    args = ap.parse_args()
    t = score(Path(args.mutants), listed(Path(args.equivalent)), not (args.no_diffs or args.survivors))
    t = {m: r for m, r in t.items() if r['run']}      # generated but not one mutant run: no score to show
    if args.survivors:
        print(' '.join(d['name'] for r in t.values() for d in r['survivors'])); return
    cols = ('generated', 'run', 'killed', 'equivalent', 'not_scored', 'survived', 'no_tests', 'timeout', 'other')
    print(f"{'module':28s}" + ''.join(f'{c:>11s}' for c in cols) + f"{'score':>8s}")
    for mod, r in t.items():
        s = '' if r['score'] is None else f"{100 * r['score']:.1f}%"
        print(f'{mod:28s}' + ''.join(f'{r[c]:>11d}' for c in cols) + f'{s:>8s}')
    print("score = (killed + timeout) / (run - equivalent - not_scored); 'no tests': no fast test runs the mutated function (not killed)")
    if args.out:
        out = Path(args.out)
        old = json.loads(out.read_text()) if out.exists() else {}
        kept = [m for m in old if m not in t]     # not in this mutants/ (`make clean`, another run), or none run yet
        if kept: print(f"kept from {out.name} (not in {args.mutants}): {', '.join(kept)}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({m: t.get(m, old.get(m)) for m in dict.fromkeys([*old, *t])}, indent=1, ensure_ascii=False) + '\n')
        print(f'written: {args.out}')

if __name__ == '__main__': main()
