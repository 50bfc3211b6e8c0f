"""The mutation score of `make mutate`: per module, how many of mutmut's mutants were killed, survived, had no test
that runs their function, timed out, or were not run; and the surviving mutants, each with its diff.

Reads mutmut 3's results (mutants/<module>.py.meta) and bench/results/mutation_equivalent.md, whose lines
"- `MUTANT NAME`: reason" name the survivors judged equivalent (no test written from the definition can tell them
from the original). Score = killed / (mutants run - equivalent); `no tests` counts as not killed. Prints the table
and writes it as JSON (`--out`). Usage: `python tools/mutation_score.py [--out bench/results/mutation.json]`.
"""
import argparse, difflib, json, re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ('sensible', 'callback', 'evaluate', 'attacks', 'runs')
STATUS = {1: 'killed', 3: 'killed', -24: 'killed', 0: 'survived', 5: 'no tests', 33: 'no tests', 34: 'skipped',
          35: 'suspicious', 36: 'timeout', 24: 'timeout', 152: 'timeout', 255: 'timeout', -11: 'segfault', None: 'not run'}

def equivalent_names(path:Path) -> dict:
    "Mutant name -> reason, from the lines \"- `NAME`: reason\" of the equivalents file."
    if not path.exists(): return {}
    return dict(re.findall(r'^- `([^`]+)`:?\s*(.*)$', path.read_text(), re.M))

def mutant_diff(module, name:str) -> list[str]:
    "The lines mutant `name` changes ('-' original, '+' mutant), from mutmut's mutated module."
    from mutmut.__main__ import read_original_function, read_mutant_function
    import libcst as cst
    orig = cst.Module([read_original_function(module, name)]).code.strip().split('\n')
    mut = cst.Module([read_mutant_function(module, name)]).code.strip().split('\n')
    return [l.strip() for l in difflib.unified_diff(orig, mut, lineterm='', n=0)
            if l[:1] in '+-' and not l.startswith(('+++', '---'))]

def score(mutants_dir:Path, equivalent:dict, diffs:bool=True) -> dict:
    "The table: module -> counts, score, and the survivors (name, status, diff)."
    import libcst as cst
    out = {}
    for mod in MODULES:
        meta = mutants_dir / 'sensible_adv' / f'{mod}.py.meta'
        if not meta.exists(): continue
        codes = json.loads(meta.read_text())['exit_code_by_key']
        st = {k: STATUS.get(v, f'exit {v}') for k, v in codes.items()}
        c = Counter(st.values())
        run = len(st) - c['not run']
        eq = sorted(k for k, s in st.items() if k in equivalent and s != 'killed')
        denom = run - len(eq)
        surv = [dict(name=k, status=s, diff=[]) for k, s in sorted(st.items()) if s not in ('killed', 'not run') and k not in equivalent]
        if diffs and surv:                        # parsing a mutated module (all its mutants) takes a while: once
            module = cst.parse_module((mutants_dir / 'sensible_adv' / f'{mod}.py').read_text())
            for d in surv: d['diff'] = mutant_diff(module, d['name'])
        out[f'sensible_adv/{mod}.py'] = dict(
            generated=len(st), run=run, killed=c['killed'], equivalent=len(eq), survived=c['survived'] - sum(st[k] == 'survived' for k in eq),
            no_tests=c['no tests'] - sum(st[k] == 'no tests' for k in eq), timeout=c['timeout'], not_run=c['not run'],
            other={s: n for s, n in c.items() if s not in ('killed', 'survived', 'no tests', 'timeout', 'not run')},
            score=round(c['killed'] / denom, 4) if denom else None, survivors=surv)
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--mutants', default=str(ROOT / 'mutants'), help="mutmut's folder")
    ap.add_argument('--equivalent', default=str(ROOT / 'bench/results/mutation_equivalent.md'))
    ap.add_argument('--out', default=None, help='write the table as JSON here')
    ap.add_argument('--no-diffs', action='store_true', help='leave the survivors\' diffs out (faster)')
    args = ap.parse_args()
    t = score(Path(args.mutants), equivalent_names(Path(args.equivalent)), not args.no_diffs)
    cols = ('generated', 'run', 'killed', 'equivalent', 'survived', 'no_tests', 'timeout')
    print(f"{'module':28s}" + ''.join(f'{c:>11s}' for c in cols) + f"{'score':>8s}")
    for mod, r in t.items():
        s = '' if r['score'] is None else f"{100 * r['score']:.1f}%"
        print(f'{mod:28s}' + ''.join(f'{r[c]:>11d}' for c in cols) + f'{s:>8s}')
    print("score = killed / (run - equivalent); 'no tests': no fast test runs the mutated function (not killed)")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(t, indent=1, ensure_ascii=False) + '\n')
        print(f'written: {args.out}')

if __name__ == '__main__': main()
