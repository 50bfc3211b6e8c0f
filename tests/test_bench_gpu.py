"""The GPU benchmark's CPU twin: `bench/gpu.py --smoke --device cpu` runs the code path of the device run (a tiny model,
a few batches) and writes its JSON. Checked: every expected row is there with finite figures, the examples stay in the
eps-ball (within 1e-6 in fp32) and in [0, 1], the fastai and hand-written loops did the same search work, what is
CUDA-only is skipped with a reason. Speeds are never asserted; they are figures in the JSON."""
import json, math, os, subprocess, sys
from pathlib import Path
import pytest

pytestmark = pytest.mark.slow   # the smoke run takes minutes on 2 CPU cores: `make test-slow`

ROOT = Path(__file__).resolve().parent.parent
ADV = ('fp32', 'bf16')             # the CPU smoke run's precisions (fp16 autocast is measured on CUDA only)

@pytest.fixture(scope='module')
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp('bench') / 'gpu_smoke.json'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]))
    r = subprocess.run([sys.executable, 'bench/gpu.py', '--smoke', '--device', 'cpu', '--out', str(out)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)   # a guard against a hang, not a speed check: over 600 s on a loaded 2-core machine
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert not Path(str(out) + '.tmp').exists()          # written atomically: no temporary file left behind
    return json.loads(out.read_text()), r.stdout

def _finite(v): return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

def _row(res, method, loop, precision, channels_last=True):
    rows = [r for r in res['rows'] if (r['method'], r['loop'], r['precision'], r['channels_last'], r['compiled']) ==
            (method, loop, precision, channels_last, False)]
    assert len(rows) == 1, (method, loop, precision, channels_last, len(rows))
    return rows[0]

def test_complete_without_errors(smoke):
    res, stdout = smoke
    assert res['complete'] is True and res['errors'] == [], res['errors']
    assert res['setup']['device'] == 'cpu' and res['setup']['smoke'] is True
    assert 'img/s' in stdout and 'fastai_over_hand' in stdout               # the printed table

def test_every_row_present_with_finite_figures(smoke):
    res, _ = smoke
    expected = [(m, l, p, True) for p in ADV for m, l in
                (('natural', 'fastai'), ('pgd_at', 'fastai'), ('sensible', 'fastai'), ('sensible', 'hand'))]
    expected.append(('natural', 'fastai', 'bf16', False))                   # the row without channels_last
    assert len(res['rows']) == len(expected)
    for m, l, p, cl in expected:
        r = _row(res, m, l, p, cl)
        assert r['arch'] == 'small_cnn' and r['batch_size'] == 64 and 'error' not in r, r
        for k in ('images_per_second', 'step_seconds', 'wall_seconds'): assert _finite(r[k]) and r[k] > 0, (k, r)
        assert r['wall_seconds'] >= r['step_seconds'] * r['timed_batches']
        assert 'peak_memory_gib' not in r and 'host_syncs_per_step' not in r       # CUDA-only

def test_examples_in_ball_and_pixel_range(smoke):
    res, _ = smoke
    eps = res['setup']['eps']
    assert eps == pytest.approx(8 / 255)
    for p in ADV:
        for m, l in (('pgd_at', 'fastai'), ('sensible', 'fastai'), ('sensible', 'hand')):
            r = _row(res, m, l, p)
            assert r['ball_excess'] <= (1e-6 if p == 'fp32' else 1e-5), r
            assert 0 <= r['x_adv_min'] and r['x_adv_max'] <= 1, r
    checks = {(c['attack'], c['precision']): c for c in res['attack_checks']}
    assert set(checks) == {(a, p) for a in ('sensible', 'pgd') for p in ADV}
    for (a, p), c in checks.items():
        assert c['ball_excess'] <= (1e-6 if p == 'fp32' else 1e-5) and 0 <= c['x_adv_min'] and c['x_adv_max'] <= 1, c
        assert c['host_syncs'] is None                                    # counted on CUDA only

def test_sensible_search_had_work_and_both_loops_did_the_same(smoke):
    res, _ = smoke
    pre = res['pretrain']['small_cnn']
    # the short natural pre-training makes the model confident: without it every example freezes at the start
    assert pre['share_p_y_at_least_c'] > 0.3, pre
    s = next(c for c in res['attack_checks'] if c['attack'] == 'sensible' and c['precision'] == 'fp32')['summary']
    assert s['frozen_at_start'] < 0.9 and 0 < s['skipped_row_steps'] < 1, s
    assert sum(s[k] for k in ('frozen_at_start', 'frozen_in_search', 'full_search')) == pytest.approx(1)
    for p in ADV:
        fa, hand = _row(res, 'sensible', 'fastai', p), _row(res, 'sensible', 'hand', p)
        assert 0 < fa['skipped_row_steps'] < 1
        # same weights, batches and seed in both loops: the same search work, so their ratio compares like with like
        assert fa['skipped_row_steps'] == pytest.approx(hand['skipped_row_steps'], abs=0.02)

def test_derived_figures(smoke):
    res, _ = smoke
    figs = {}
    for d in res['derived']: figs.setdefault(d['figure'], []).append(d)
    assert {d['precision'] for d in figs['fastai_over_hand']} == set(ADV)
    assert {d['precision'] for d in figs['sensible_over_pgd']} == set(ADV)
    for d in figs['fastai_over_hand'] + figs['sensible_over_pgd']:
        assert _finite(d['value']) and d['value'] > 0 and isinstance(d['meets'], bool), d
    for d in figs['sensible_over_pgd']: assert d['bound'] == pytest.approx(1 - d['skipped_row_steps'] + 0.05)
    assert len(figs['natural_flops']) == 3                               # fp32, bf16, bf16 without channels_last
    for d in figs['natural_flops']: assert _finite(d['achieved_tflops']) and d['achieved_tflops'] > 0 and d['value'] is None
    assert 'host_syncs' not in figs                                      # CUDA-only
    assert res['flops']['small_cnn/64'] > 0

def test_cuda_only_parts_skipped_with_reasons(smoke):
    res, _ = smoke
    for k in ('fp16', 'peak_memory', 'host_syncs', 'compile'): assert res['skipped'].get(k), k
    assert res['setup']['bf16_peak_flops'] is None

def _gpu_module():
    sys.path.insert(0, str(ROOT / 'bench'))
    try:
        import gpu
        return gpu
    finally: sys.path.remove(str(ROOT / 'bench'))

def test_peak_table_and_json_helpers(tmp_path):
    gpu = _gpu_module()
    assert gpu.peak_bf16_flops('NVIDIA H200') == 989e12
    assert gpu.peak_bf16_flops('NVIDIA H100 80GB HBM3') == 989e12 and gpu.peak_bf16_flops('NVIDIA H100 PCIe') == 756e12
    assert gpu.peak_bf16_flops('NVIDIA A100-SXM4-80GB') == 312e12
    assert gpu.peak_bf16_flops('Tesla T4') is None
    out = tmp_path / 'sub' / 'x.json'
    gpu.write_json({'a': float('nan'), 'b': [1.5, float('inf')], 'c': {'d': 2}}, str(out))
    assert json.loads(out.read_text()) == {'a': None, 'b': [1.5, None], 'c': {'d': 2}}
    assert [p.name for p in out.parent.iterdir()] == ['x.json']
