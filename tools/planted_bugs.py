"""Plant the bugs of issue #14 one at a time and show which tests of tests/test_bugs.py fail on each.

Each bug is one textual replacement in a copy of `sensible_adv/` made in a temporary folder (the checkout is never
touched); pytest runs tests/test_bugs.py with that copy first on PYTHONPATH. A bug no test catches is reported as
SURVIVED and the script exits 1. Usage: `python tools/planted_bugs.py [--out bench/results/planted_bugs.json]`.
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BUGS = {   # name -> (file, the text, what it becomes); each text must occur exactly once
    'freeze in search at p = c': ('sensible.py', 'newly = (La > cut) & ~fz', 'newly = (La >= cut) & ~fz'),
    'freeze at start at p = c': ('sensible.py', '(L > cut)) if self.freeze_test', '(L >= cut)) if self.freeze_test'),
    'PGD keeps the last restart': ('attacks.py', 'take = key > best_key', 'take = torch.ones_like(key, dtype=torch.bool)'),
    'TRADES loss, KL swapped': ('callback.py', 'self.beta * kl_div(clean_pred, pred).mean()', 'self.beta * kl_div(pred, clean_pred).mean()'),
    'MART loss, KL swapped': ('callback.py', '(kl_div(clean_pred, pred) * (1.0000001', '(kl_div(pred, clean_pred) * (1.0000001'),
    'TRADES attack, KL swapped': ('attacks.py', 'lambda z, t: kl_div(t, z)', 'lambda z, t: kl_div(z, t)'),
    'sensible callback attacks in train mode': ('callback.py', 'validate=False, loss=loss)', 'validate=False, loss=loss, eval_mode=False)'),
    'report counts clean-wrong examples': ('evaluate.py', 'res = torch.zeros_like(ok)', 'res = torch.ones_like(ok)'),
    'metric counts clean-wrong examples': ('callback.py', 'ok = (model(x).argmax(1) == y) & (model(x_adv).argmax(1) == y)',
                                           'ok = model(x_adv).argmax(1) == y'),
    'autoattack_le_pgd always passes': ('evaluate.py', 'aa.accuracy <= p.accuracy + t', 'True'),
    'more_iterations never recorded': ('evaluate.py', 'if b.budget > a.budget:', 'if b.budget < a.budget:'),
}

def run_tests(pkg_parent:Path) -> tuple[list[str], str]:
    "The failing tests of tests/test_bugs.py with the package in `pkg_parent` first on the path, and which package ran."
    env = {**os.environ, 'PYTHONPATH': str(pkg_parent), 'OMP_NUM_THREADS': '1'}
    # -P: the working directory (the checkout, with its own unplanted package) is not put first on the path
    r = subprocess.run([sys.executable, '-P', '-m', 'pytest', 'tests/test_bugs.py', '-q', '-rf', '-p', 'no:cacheprovider'],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    where = subprocess.run([sys.executable, '-P', '-c', 'import sensible_adv; print(sensible_adv.__file__)'], cwd=ROOT,
                           env=env, capture_output=True, text=True).stdout.strip()
    return sorted(set(re.findall(r'^FAILED tests/test_bugs.py::(\S+)', r.stdout, re.M))), where

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=None, help='also write the table as JSON here')
    args = ap.parse_args()
    out, ok = {}, True
    with tempfile.TemporaryDirectory() as tmp:
        pkg = Path(tmp) / 'sensible_adv'
        for name, (fname, old, new) in BUGS.items():
            shutil.rmtree(pkg, ignore_errors=True)
            shutil.copytree(ROOT / 'sensible_adv', pkg, ignore=shutil.ignore_patterns('__pycache__'))
            src = (pkg / fname).read_text()
            assert src.count(old) == 1, f"{name}: {old!r} occurs {src.count(old)} times in {fname}"
            (pkg / fname).write_text(src.replace(old, new))
            failed, where = run_tests(Path(tmp))
            assert where.startswith(str(pkg)), f"the tests imported {where}, not the planted copy"
            out[name] = dict(file=fname, replace=old, by=new, failed=failed)
            ok &= bool(failed)
            print(f"{name:45s} {'SURVIVED' if not failed else 'killed by ' + ', '.join(failed)}", flush=True)
        failed, _ = run_tests(ROOT)                 # this checkout's own package, for reference: nothing may fail
        print(f"{'(no bug)':45s} {'all pass' if not failed else 'FAILED ' + ', '.join(failed)}")
        ok &= not failed
    if args.out: Path(args.out).write_text(json.dumps(out, indent=1) + '\n')
    sys.exit(0 if ok else 1)

if __name__ == '__main__': main()
