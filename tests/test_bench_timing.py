"""The timing benchmarks' CPU twins. `bench/frontier_timing.py --smoke` runs the code path of the real timing (the
frontier's own `train` arguments, interleaved repeats) on the bundled digits and writes its JSON; `bench/demo_cost.py
--smoke` times real `sensible_adv demo` processes at a tiny budget (in `make test-slow`: each repeat is a new process).
Times are never asserted; what is checked is that every repeat of every configuration was timed and summarised, and
bad arguments are refused by name. The scripts' `main` runs in this process (a new one would spend 10 s importing the
library)."""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'bench'))
from frontier_timing import rotated, summary, main
import pytest

def test_smoke_times_every_repeat_of_every_configuration(tmp_path, capsys):
    out = tmp_path/'t.json'
    returned = main(['--smoke', '--repeats', '2', '--configs', 'natural', 'pgd', 'sense_c0.5', '--out', str(out)])
    stdout = capsys.readouterr().out
    res = json.loads(out.read_text())
    assert res == json.loads(json.dumps(returned))          # what is written is what it returns
    assert list(res['seconds']) == ['natural', 'pgd', 'sense_c0.5'] and all(len(v) == 2 and min(v) > 0 for v in res['seconds'].values())
    assert all(len(v) == 2 for v in res['load_before'].values()) and res['setup']['smoke'] and res['setup']['repeats'] == 2
    s = res['summary']
    assert s['pgd']['over_reference'] == 1 and s['natural']['min'] <= s['natural']['median'] <= s['natural']['max']
    assert 'written:' in stdout and 'sense_c0.5' in stdout

@pytest.mark.parametrize('args,msg', [(['--configs', 'pgd', 'sensible'], "--configs: unknown ['sensible']"),
                                      (['--repeats', '0'], '--repeats must be >= 1')])
def test_bad_arguments_named(args, msg, capsys, tmp_path):
    "Refused by name with exit status 2, before anything is trained (the script's `main`, in this process)."
    with pytest.raises(SystemExit) as e: main(['--smoke', *args, '--out', str(tmp_path/'t.json')])
    assert e.value.code == 2 and msg in capsys.readouterr().err and not (tmp_path/'t.json').exists()

def test_interleaving_and_ratios():
    assert [rotated(['a', 'b', 'c'], k) for k in range(4)] == [['a', 'b', 'c'], ['b', 'c', 'a'], ['c', 'a', 'b'], ['a', 'b', 'c']]
    s = summary({'pgd': [10., 20.], 'sense': [5., 4.]})
    assert s['sense'] == dict(median=4.5, min=4., max=5., over_reference=(0.5 + 0.2) / 2, over_reference_min=0.2, over_reference_max=0.5)
    assert 'over_reference' not in summary({'sense': [1.]})['sense']


@pytest.mark.slow
def test_demo_cost_smoke_times_each_repeat(tmp_path, capsys):
    "`bench/demo_cost.py --smoke`: each repeat is a real `sensible_adv demo` process, timed, and summarised in the JSON."
    from demo_cost import main as demo_main
    out = tmp_path/'d.json'
    res = demo_main(['--smoke', '--repeats', '2', '--out', str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(res))
    assert res['dataset'] == 'digits' and len(res['runs']) == 2 and res['command'].startswith('sensible_adv demo --out OUT --quiet --dataset digits')
    assert all(0 < r['demo_wall_seconds'] < r['seconds'] for r in res['runs'])   # the process costs more than the demo's own clock
    assert all(r['cpu_seconds'] > 0 and r['other_cpu_seconds'] >= 0 for r in res['runs'])
    s = res['seconds']; assert s['min'] <= s['median'] <= s['max']
    assert 'written:' in capsys.readouterr().out
    with pytest.raises(SystemExit) as e: demo_main(['--repeats', '0', '--out', str(tmp_path/'x.json')])
    assert e.value.code == 2 and not (tmp_path/'x.json').exists()
