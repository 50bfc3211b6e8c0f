"""The training-time benchmark's CPU twin: `bench/frontier_timing.py --smoke` runs the code path of the real timing (the
frontier's own `train` arguments, interleaved repeats) on the bundled digits and writes its JSON. Times are never
asserted; what is checked is that every repeat of every configuration was timed and summarised, and bad arguments
are refused by name. The script's `main` runs in this process (a new one would spend 10 s importing the library)."""
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
