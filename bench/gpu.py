"""Truncated adversarial training on a GPU, measured: images/s and peak memory of natural training, PGD-AT-10 and
sensible-AT-10 through fastai, for WideResNet-34-10 and ResNet-18 at batch 256 and 512, in bf16 and fp16 (fastai's
`MixedPrecision`) with `channels_last` (fastai's `ChannelsLast`); the fastai / hand-written-loop ratio of the sensible
step; the sensible step against PGD-AT's beside the fraction of row-steps its search skipped; the natural step's
achieved FLOP/s against the chip's bf16 dense peak; the host syncs inside one sensible search and one training step;
eps-ball and [0, 1] checks of the examples in every precision; optionally the same with `torch.compile`.

Data: scikit-learn's 1,797 digits (no download), upsampled to 32x32 (bilinear) and repeated to 3 channels, pixels in
[0, 1]: real, learnable images of CIFAR's shape. The model is first trained naturally for a few epochs: an untrained
model gives p(y|x') < c at the random start for every example, so every example freezes there, the sensible search
does no work and its rows would time a natural step with extra forwards. The pre-trained model's accuracy and share of
examples with p(y|x) >= c, and the search's statuses and skipped row-steps, are in the JSON.

Timing: every row starts from the same pre-trained weights and seed, sees the same batches, runs `warmup` batches and
then times `--batches` batches (natural rows: 4x as many) between two device synchronisations. Both loops use the same
torch optimizer (SGD, momentum 0.9, weight decay 5e-4; fastai through `OptimWrapper`), so their ratio measures the
Learner and the callback, not two optimizer implementations. Speeds are recorded, never asserted; `bench/README.md`
says what each figure is compared with.

    python bench/gpu.py                         # CUDA: WRN-34-10 + ResNet-18, bs 256 and 512 (about 5 min on an H200)
    python bench/gpu.py --smoke --device cpu    # the same code path: SmallCNN, bs 64, a few batches (< 1 min on 2 cores)

Writes bench/results/gpu.json (with --smoke: bench/results/gpu_smoke.json), rewritten atomically after every row, so a
run stopped by a time limit keeps what it measured. Exit status 3 if some rows were not measured (an error such as an
out-of-memory, or the --time-budget spent; each such row says why), else 0. On CPU what is CUDA-only (peak memory, host-sync counts, fp16
autocast) is skipped, with the reason in the JSON's `skipped`.
"""
import argparse, copy, gc, json, math, os, platform, sys, time, warnings
from functools import partial
warnings.filterwarnings('ignore')
import torch, torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode
import fastai, fastcore
from fastai.basics import Callback
from fastai.optimizer import OptimWrapper
from fastai.callback.channelslast import ChannelsLast
from sensible_adv.core import seed_everything, get_device
from sensible_adv.models import get_model, count_params
from sensible_adv.sensible import SensibleAdversary
from sensible_adv.attacks import PGD
from sensible_adv.callback import SensibleAdversarialTraining, AdversarialTraining
from loops import digits, autocast, precision_callbacks, pretrain, batches, hand_loop, fastai_loop, Timer, SeedFirstBatch, sync

EPS, STEP, K, C = 8/255, 2/255, 10, 0.5      # CIFAR's threat model; the step is passed explicitly (no default rule)
LR, SIZE = 0.01, 32
OPT = partial(torch.optim.SGD, momentum=0.9, weight_decay=5e-4)
# Dense (no sparsity) bf16 tensor-core peak, FLOP/s, by a substring of torch.cuda.get_device_name(); first match wins.
BF16_PEAK = (('H200', 989e12), ('H100 PCIe', 756e12), ('H100', 989e12), ('A100', 312e12))
TARGETS = {'fastai_over_hand': 'fastai / hand-written sensible-AT throughput >= 0.95',
           'sensible_over_pgd': 'sensible-AT step / PGD-AT step <= 1 - skipped row-step fraction + 0.05',
           'natural_flops': 'natural WRN-34-10 step (bf16): achieved FLOP/s >= 35% of the chip bf16 dense peak (value: the fraction)',
           'host_syncs': 'host syncs in one sensible search <= steps (one per step: the compaction needs it)'}

def peak_bf16_flops(name:str):
    "The bf16 dense peak of the device named `name` (FLOP/s), or None for a device not in `BF16_PEAK`."
    return next((v for k, v in BF16_PEAK if k in name), None)

def callback(method:str):
    "The fastai training callback of `method`, or None (natural training)."
    if method == 'pgd_at': return AdversarialTraining(EPS, STEP, K)
    if method == 'sensible': return SensibleAdversarialTraining(EPS, STEP, K, C, warmup=0)
    return None

# ---------------------------------------------------------------------------------------------------- watching
class Probe:
    """Watches an attack without a host sync: eps-ball excess (max |x_adv - x| - eps) and pixel range of the examples of
    the `warmup` batches (the first, if none), and, for a sensible attack, the row-steps searched out of those allowed
    in the timed batches (after the warm-up: the ones the step time is measured on)."""
    def __init__(self, warmup:int):
        self.warmup, self.n, self.seen, self.ball = warmup, max(warmup, 1), 0, None
        self.runs, self.done, self.allowed = 0, None, 0

    def see(self, x, x_adv):
        if self.seen >= self.n: return
        self.seen += 1
        d = (x_adv.float() - x.float()).abs().amax() - EPS
        s = torch.stack([d, x_adv.float().amin(), x_adv.float().amax()])
        self.ball = s if self.ball is None else torch.stack([torch.maximum(self.ball[0], s[0]),
                                                             torch.minimum(self.ball[1], s[1]), torch.maximum(self.ball[2], s[2])])
    def count(self, res):
        self.runs += 1
        if self.runs <= self.warmup: return
        self.done = res.row_steps if self.done is None else self.done + res.row_steps
        self.allowed += res.status.numel() * res.steps

    def attach(self, cb):
        "Watch a fastai adversarial callback: wrap its `perturb` (and a sensible attack's `run`) on the instance."
        perturb = cb.perturb
        def watched(model, x, y):
            x_adv = perturb(model, x, y); self.see(x, x_adv); return x_adv
        cb.perturb = watched
        if isinstance(cb.attack, SensibleAdversary): self._wrap_run(cb.attack)
        return cb

    def _wrap_run(self, attack):
        run = attack.run
        def counted(model, x, y):
            res = run(model, x, y); self.count(res); return res
        attack.run = counted

    def wrap(self, attack):
        "Watch an attack for the hand-written loop: a callable `(model, x, y) -> x_adv`."
        if isinstance(attack, SensibleAdversary): self._wrap_run(attack)
        def watched(model, x, y):
            x_adv = attack.run(model, x, y).x_adv if isinstance(attack, SensibleAdversary) else attack(model, x, y)
            self.see(x, x_adv); return x_adv
        return watched

    def result(self) -> dict:
        r = {}
        if self.ball is not None: r.update(zip(('ball_excess', 'x_adv_min', 'x_adv_max'), self.ball.tolist()))
        if self.done is not None: r['skipped_row_steps'] = 1 - self.done.item() / max(self.allowed, 1)
        return r

def count_syncs(fn, device):
    "`(fn(), n)`: n = the host syncs `fn` caused (torch.cuda.set_sync_debug_mode('warn')), None off CUDA."
    if device.type != 'cuda': return fn(), None
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        torch.cuda.set_sync_debug_mode('warn')
        try: out = fn()
        finally: torch.cuda.set_sync_debug_mode('default')
    return out, sum('synchroniz' in str(m.message) for m in w)

class SyncCount(Callback):
    "Counts the host syncs of one whole training batch (`at`): from its `before_batch` to the next batch's."
    order = Timer.order - 10          # stops before the timer's own synchronisation at the first timed batch
    def __init__(self, at:int): self.at, self.count, self._ctx = at, None, None
    def before_batch(self):
        if self.iter == self.at: self._on()
        elif self.iter == self.at + 1: self._off()
    def after_train(self): self._off()
    def after_cancel_fit(self): self._off()
    def _on(self):
        self._ctx = warnings.catch_warnings(record=True); self._w = self._ctx.__enter__()
        warnings.simplefilter('always'); torch.cuda.set_sync_debug_mode('warn')
    def _off(self):
        if self._ctx is None: return
        torch.cuda.set_sync_debug_mode('default'); self._ctx.__exit__(None, None, None); self._ctx = None
        self.count = sum('synchroniz' in str(m.message) for m in self._w)

# ---------------------------------------------------------------------------------------------------- measuring
def flops_per_step(model, xb, yb) -> int:
    "FLOPs of one natural forward + backward of `model` on `(xb, yb)` (torch's FlopCounterMode: matmuls and convolutions)."
    m = copy.deepcopy(model).train()
    with FlopCounterMode(display=False) as fc:
        F.cross_entropy(m(xb), yb).backward()
    return fc.get_total_flops()

def pretrained(arch:str, x, y, epochs:int, device):
    "The model of `arch`, trained naturally for `epochs` (bf16 on CUDA): weights, accuracy, share with p(y|x) >= c, seconds."
    seed_everything(0)
    model = get_model(arch, in_channels=3, **({'size': SIZE} if arch == 'small_cnn' else {})).to(device)
    t = time.perf_counter()
    pretrain(model, x, y, epochs, bs=128, lr=1e-3, precision='bf16' if device.type == 'cuda' else 'fp32')
    sync(device)
    secs = time.perf_counter() - t
    model.eval()
    with torch.no_grad():
        p = torch.cat([F.softmax(model(x[i:i+512]).float(), 1) for i in range(0, len(y), 512)])
    py = p.gather(1, y[:, None]).squeeze(1)
    info = dict(params=count_params(model), epochs=epochs, seconds=secs, train_accuracy=(p.argmax(1) == y).float().mean().item(),
                share_p_y_at_least_c=(py >= C).float().mean().item())
    return model.train(), info

def attack_checks(arch, model, xb, yb, precisions, device) -> list:
    "One sensible search and one PGD-10 per precision on one batch: eps-ball and [0, 1] checks, host syncs, search statuses."
    out = []
    for p in precisions:
        for name, attack in (('sensible', SensibleAdversary(EPS, STEP, K, C, validate=False)), ('pgd', PGD(EPS, STEP, K, validate=False))):
            seed_everything(0)
            run = (lambda: attack.run(model, xb, yb)) if name == 'sensible' else (lambda: attack(model, xb, yb))
            with autocast(device, p):
                if device.type == 'cuda': run(); sync(device)       # warm-up: first-call allocations and kernel choices
                res, n_sync = count_syncs(run, device)
            x_adv = res.x_adv if name == 'sensible' else res
            row = dict(arch=arch, batch_size=len(yb), attack=name, precision=p, steps=K, host_syncs=n_sync,
                       ball_excess=((x_adv - xb).abs().amax() - EPS).item(), x_adv_min=x_adv.amin().item(), x_adv_max=x_adv.amax().item())
            if name == 'sensible': row['summary'] = res.summary()
            out.append(row)
    return out

def free(device):
    "Release the previous row's tensors, so each row's peak memory is its own."
    gc.collect()
    if device.type == 'cuda': torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats(device)

def measure(spec:dict, base, bs_all:list, warmup:int, device) -> dict:
    "One row: train a copy of `base` on the row's batches with its loop, method, precision and layout; its figures."
    n_timed = spec['timed_batches']
    bs = bs_all[:warmup + n_timed]
    free(device)
    resident = torch.cuda.memory_allocated(device) if device.type == 'cuda' else None
    seed_everything(0)
    model, probe = copy.deepcopy(base), Probe(warmup)
    if spec['compiled']: torch._dynamo.reset(); torch._dynamo.utils.counters.clear(); model.compile()
    syncs = SyncCount(warmup - 1) if device.type == 'cuda' and warmup >= 2 else None
    t = time.perf_counter()
    try: secs = _train(spec, model, bs, probe, syncs, warmup, device)
    finally:
        if syncs is not None: syncs._off()          # an exception inside its window must not leave sync warnings on
    row = dict(spec, images_per_second=n_timed * len(bs[0][1]) / secs, step_seconds=secs / n_timed,
               wall_seconds=time.perf_counter() - t, **probe.result())
    if device.type == 'cuda':
        row.update(peak_memory_gib=torch.cuda.max_memory_allocated(device) / 2**30, resident_gib=resident / 2**30)
    if syncs is not None: row['host_syncs_per_step'] = syncs.count
    if spec['compiled']: row['dynamo_graphs'] = torch._dynamo.utils.counters['stats']['unique_graphs']
    return row

def _train(spec, model, bs, probe, syncs, warmup, device) -> float:
    "Train `model` on `bs` in the row's loop; the seconds of the timed batches."
    if spec['loop'] == 'hand':
        if spec['channels_last']: model.to(memory_format=torch.channels_last)
        attack = probe.wrap(SensibleAdversary(EPS, STEP, K, C, validate=False))
        opt = OPT(model.parameters(), lr=LR)
        torch.manual_seed(0)                        # as `SeedFirstBatch` does in the Learner
        return hand_loop(model, bs, opt, attack, spec['precision'], warmup)
    cb = callback(spec['method'])
    cbs = ([ChannelsLast()] if spec['channels_last'] else []) + precision_callbacks(device, spec['precision'])
    cbs += [probe.attach(cb) if cb is not None else None, syncs, SeedFirstBatch(0)]
    return fastai_loop(model, bs, cbs, partial(OptimWrapper, opt=OPT), LR, warmup)

# ---------------------------------------------------------------------------------------------------- planning
def plan(archs, batch_sizes, batches_timed:int, device, compiled:bool) -> list:
    "The rows to measure, most informative first (bf16 before fp16, smaller batches before larger)."
    cuda = device.type == 'cuda'
    adv = ['bf16', 'fp16'] if cuda else ['fp32', 'bf16']          # CPU: bf16 autocast only (see `skipped`)
    rows = []
    def add(arch, bs, method, loop, precision, channels_last=True, compiled=False):
        rows.append(dict(arch=arch, batch_size=bs, method=method, loop=loop, precision=precision, channels_last=channels_last,
                         compiled=compiled, timed_batches=batches_timed * (4 if method == 'natural' else 1)))
    for bs in batch_sizes:
        for arch in archs:
            for p in adv:
                add(arch, bs, 'natural', 'fastai', p)
                add(arch, bs, 'pgd_at', 'fastai', p)
                add(arch, bs, 'sensible', 'fastai', p)
                add(arch, bs, 'sensible', 'hand', p)
            if cuda: add(arch, bs, 'natural', 'fastai', 'fp32')
            add(arch, bs, 'natural', 'fastai', 'bf16', channels_last=False)    # what channels_last buys
            if compiled:
                for m in ('natural', 'pgd_at', 'sensible'): add(arch, bs, m, 'fastai', 'bf16', compiled=True)
    return rows

def skipped_reasons(device, compiled:bool) -> dict:
    "What this run does not measure, and why."
    s = {} if compiled else {'compile': 'not asked for (--compile)'}
    if device.type == 'cuda':
        s['fp32_adversarial'] = ('adversarial rows run in bf16 and fp16 only (fp32 is several times slower and would not fit '
                                 'the time budget); the fp32 eps-ball check is in attack_checks; natural training has an fp32 row')
    else:
        s.update(fp16="CPU autocast is measured in bf16 only: fastai's MixedPrecision autocasts CUDA only, and fp16 CPU "
                      "kernels are neither what users train in nor representative",
                 peak_memory='torch.cuda.max_memory_allocated is CUDA-only',
                 host_syncs='CPU ops never wait on a device queue; torch.cuda.set_sync_debug_mode is CUDA-only',
                 peak_flops='no bf16 peak in the table for a CPU: fraction_of_peak is not computed')
    return s

# ---------------------------------------------------------------------------------------------------- deriving
def _find(rows, **kw):
    return next((r for r in rows if all(r.get(k) == v for k, v in kw.items()) and r.get('images_per_second')), None)

def derive(rows:list, checks:list, flops:dict, peak) -> list:
    "The comparisons the targets are about, per (arch, batch size, precision); `meets` is reported, not asserted."
    out = []
    for r in rows:
        if r['method'] != 'natural' or not r.get('images_per_second'): continue
        f = flops.get(f"{r['arch']}/{r['batch_size']}")
        if not f: continue
        achieved = f / r['step_seconds']
        d = dict(figure='natural_flops', arch=r['arch'], batch_size=r['batch_size'], precision=r['precision'],
                 channels_last=r['channels_last'], compiled=r['compiled'], achieved_tflops=achieved / 1e12, value=None)
        if peak and r['precision'] in ('bf16', 'fp16'): d.update(value=achieved / peak, meets=achieved / peak >= 0.35)
        out.append(d)
    keys = sorted({(r['arch'], r['batch_size'], r['precision']) for r in rows if r['method'] == 'sensible'})
    for arch, bs, p in keys:
        key = dict(arch=arch, batch_size=bs, precision=p, channels_last=True, compiled=False)
        fa, hand, pgd = (_find(rows, method=m, loop=l, **key) for m, l in (('sensible', 'fastai'), ('sensible', 'hand'), ('pgd_at', 'fastai')))
        if fa and hand:
            ratio = fa['images_per_second'] / hand['images_per_second']
            out.append(dict(figure='fastai_over_hand', arch=arch, batch_size=bs, precision=p, value=ratio, meets=ratio >= 0.95))
        if fa and pgd and 'skipped_row_steps' in fa:
            ratio, bound = fa['step_seconds'] / pgd['step_seconds'], 1 - fa['skipped_row_steps'] + 0.05
            out.append(dict(figure='sensible_over_pgd', arch=arch, batch_size=bs, precision=p, value=ratio,
                            skipped_row_steps=fa['skipped_row_steps'], bound=bound, meets=ratio <= bound))
    for r in rows:
        if not (r['compiled'] and r.get('images_per_second')): continue
        eager = _find(rows, arch=r['arch'], batch_size=r['batch_size'], method=r['method'], loop=r['loop'],
                      precision=r['precision'], channels_last=r['channels_last'], compiled=False)
        if eager: out.append(dict(figure='compile_speedup', arch=r['arch'], batch_size=r['batch_size'], precision=r['precision'],
                                  method=r['method'], value=r['images_per_second'] / eager['images_per_second']))
    for c in checks:
        if c['attack'] == 'sensible' and c['host_syncs'] is not None:
            out.append(dict(figure='host_syncs', arch=c['arch'], batch_size=c['batch_size'], precision=c['precision'],
                            value=c['host_syncs'], steps=c['steps'], excess=c['host_syncs'] - c['steps'], meets=c['host_syncs'] <= c['steps']))
    return out

# ---------------------------------------------------------------------------------------------------- output
def finite(obj):
    "`obj` with every NaN or infinite float replaced by None (strict JSON has neither)."
    if isinstance(obj, float): return obj if math.isfinite(obj) else None
    if isinstance(obj, dict): return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)): return [finite(v) for v in obj]
    return obj

def write_json(obj, path:str):
    "Write `obj` to `path` atomically (a temporary file, then `os.replace`): a reader never sees half a file."
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f: json.dump(finite(obj), f, indent=1, allow_nan=False)
    os.replace(tmp, path)

def _fmt(v, spec:str) -> str:
    "`v` formatted with `spec` (e.g. '9.1f'), or a dash of the same width when there is no value."
    w = int(''.join(ch for ch in spec.split('.')[0] if ch.isdigit()) or 0)
    return '-'.rjust(w) if v is None else format(v, spec)

HEADER = (f"{'arch':9s} {'bs':>4s} {'method':8s} {'loop':6s} {'prec':4s} cl {'':8s} {'img/s':>9s} {'step ms':>9s} {'peakGiB':>7s} "
          f"{'skipped':>7s} {'syncs':>5s} {'ball-eps':>9s}")

def row_line(r:dict) -> str:
    "One row of the printed table (`HEADER`'s columns)."
    head = f"{r['arch']:9s} {r['batch_size']:4d} {r['method']:8s} {r['loop']:6s} {r['precision']:4s}"
    if r.get('error'): return f"{head}  {r['error'][:100]}"
    step_ms = None if r['step_seconds'] is None else r['step_seconds'] * 1e3
    return (f"{head} {'cl' if r['channels_last'] else '  '} {'compiled' if r['compiled'] else '':8s} "
            f"{_fmt(r['images_per_second'], '9.1f')} {_fmt(step_ms, '9.1f')} {_fmt(r.get('peak_memory_gib'), '7.2f')} "
            f"{_fmt(r.get('skipped_row_steps'), '7.3f')} {_fmt(r.get('host_syncs_per_step'), '5d')} {_fmt(r.get('ball_excess'), '9.1e')}")

def print_summary(res:dict):
    "The rows, the attack checks and the derived figures, as tables."
    print(HEADER)
    for r in res['rows']: print(row_line(r))
    print(f"\n{'attack':8s} {'arch':9s} {'bs':>4s} {'prec':4s} {'syncs':>5s} {'ball-eps':>9s} {'min':>5s} {'max':>5s}  statuses")
    for c in res['attack_checks']:
        st = ', '.join(f'{k} {v:.2f}' for k, v in c.get('summary', {}).items())
        print(f"{c['attack']:8s} {c['arch']:9s} {c['batch_size']:4d} {c['precision']:4s} {_fmt(c['host_syncs'], '5d')} "
              f"{c['ball_excess']:9.1e} {c['x_adv_min']:5.2f} {c['x_adv_max']:5.2f}  {st}")
    print(f"\n{'figure':18s} {'arch':9s} {'bs':>4s} {'prec':4s} {'value':>8s} {'meets':5s}  detail")
    for d in res['derived']:
        detail = (f"bound {d['bound']:.3f} (skipped row-steps {d['skipped_row_steps']:.3f})" if 'bound' in d else
                  f"{d['achieved_tflops']:.2f} TFLOP/s{'' if d['channels_last'] else ', no channels_last'}"
                  f"{', compiled' if d['compiled'] else ''}" if 'achieved_tflops' in d else
                  d['method'] if 'method' in d else
                  f"steps {d['steps']}" if 'steps' in d else '')
        print(f"{d['figure']:18s} {d['arch']:9s} {d['batch_size']:4d} {d['precision']:4s} {_fmt(d.get('value'), '8.3f')} "
              f"{str(d.get('meets', '-')):5s}  {detail}")

# ---------------------------------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cuda', help="'cuda' (default), 'cuda:N' or 'cpu'")
    p.add_argument('--smoke', action='store_true', help='tiny model and batches: the same code path in seconds')
    p.add_argument('--archs', help="comma-separated (default wrn34,resnet18; --smoke: small_cnn)")
    p.add_argument('--batch-sizes', help='comma-separated (default 256,512; --smoke: 64)')
    p.add_argument('--batches', type=int, help='timed batches per adversarial row, natural rows 4x (default 5; --smoke: 2)')
    p.add_argument('--warmup', type=int, help='untimed batches before them (default 3; --smoke: 1)')
    p.add_argument('--out', help='JSON path (default bench/results/gpu.json; --smoke: bench/results/gpu_smoke.json)')
    p.add_argument('--compile', action='store_true', help='also measure bf16 rows with torch.compile (model.compile())')
    p.add_argument('--time-budget', type=float, help='seconds: rows not started within it are recorded as skipped')
    a = p.parse_args(argv)
    a.archs = (a.archs or ('small_cnn' if a.smoke else 'wrn34,resnet18')).split(',')
    a.batch_sizes = [int(b) for b in (a.batch_sizes or ('64' if a.smoke else '256,512')).split(',')]
    a.batches = a.batches or (2 if a.smoke else 5)
    a.warmup = a.warmup if a.warmup is not None else (1 if a.smoke else 3)
    a.out = a.out or f"bench/results/gpu{'_smoke' if a.smoke else ''}.json"
    return a

def setup(a, device) -> dict:
    "What the figures depend on."
    cuda = device.type == 'cuda'
    return dict(device=str(device), device_name=torch.cuda.get_device_name(device) if cuda else platform.processor() or platform.machine(),
                torch=torch.__version__, cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version() if cuda else None,
                cudnn_benchmark=torch.backends.cudnn.benchmark, cudnn_allow_tf32=torch.backends.cudnn.allow_tf32,
                matmul_allow_tf32=torch.backends.cuda.matmul.allow_tf32, fastai=fastai.__version__, fastcore=fastcore.__version__,
                python=platform.python_version(), threads=torch.get_num_threads(), smoke=a.smoke, compile=a.compile,
                data=f'sklearn digits, bilinear to {SIZE}x{SIZE}, 3 channels', eps=EPS, step=STEP, steps=K, c=C, lr=LR,
                optimizer='torch SGD momentum 0.9 wd 5e-4 (fastai: OptimWrapper)', warmup_batches=a.warmup,
                timed_batches=a.batches, timed_batches_natural=4 * a.batches, archs=a.archs, batch_sizes=a.batch_sizes,
                bf16_peak_flops=peak_bf16_flops(torch.cuda.get_device_name(device)) if cuda else None, targets=TARGETS)

def main(argv=None):
    a = parse_args(argv)
    device = get_device(a.device)
    t0 = time.perf_counter()
    x, y = digits(SIZE, 3, device)
    res = dict(setup=setup(a, device), skipped=skipped_reasons(device, a.compile), pretrain={}, flops={}, attack_checks=[],
               rows=[], derived=[], errors=[], complete=False)
    specs = plan(a.archs, a.batch_sizes, a.batches, device, a.compile)
    adv = ['fp32', 'bf16', 'fp16'] if device.type == 'cuda' else ['fp32', 'bf16']
    print(f"{len(specs)} rows on {res['setup']['device_name']} -> {a.out}", flush=True)
    bases, bs_cache = {}, {}
    for spec in specs:
        arch, bsz = spec['arch'], spec['batch_size']
        if a.time_budget and time.perf_counter() - t0 > a.time_budget:
            res['rows'].append(dict(spec, images_per_second=None, step_seconds=None, error='skipped: time budget spent')); continue
        try:
            if arch not in bases:
                bases[arch], res['pretrain'][arch] = pretrained(arch, x, y, 2 if a.smoke else 3, device)
            if (arch, bsz) not in bs_cache:
                bs_cache[arch, bsz] = batches(x, y, bsz, a.warmup + 4 * a.batches)
                xb, yb = bs_cache[arch, bsz][0]
                res['flops'][f'{arch}/{bsz}'] = flops_per_step(bases[arch], xb, yb)
                res['attack_checks'] += attack_checks(arch, bases[arch], xb, yb, adv, device)
            row = measure(spec, bases[arch], bs_cache[arch, bsz], a.warmup, device)
        except Exception as e:          # an OOM at bs 512 or a failed compile is a result, not the end of the run
            row = dict(spec, images_per_second=None, step_seconds=None, error=f'{type(e).__name__}: {e}'[:500])
            res['errors'].append(row['error'])
            if device.type == 'cuda': torch.cuda.empty_cache()
        res['rows'].append(row)
        res['derived'] = derive(res['rows'], res['attack_checks'], res['flops'], res['setup']['bf16_peak_flops'])
        res['elapsed_seconds'] = time.perf_counter() - t0
        write_json(res, a.out)
        print(row_line(row), flush=True)
    res['complete'] = True
    write_json(res, a.out)
    print(); print_summary(res)
    missing = [r for r in res['rows'] if r.get('error')]
    print(f"\n{time.perf_counter() - t0:.0f} s; wrote {a.out}" +
          (f"; {len(missing)} of {len(res['rows'])} rows not measured (their `error` says why)" if missing else ''))
    return res

if __name__ == '__main__':
    # exit status 3 when some rows were not measured (an error, or the time budget): the JSON is complete either way
    sys.exit(3 if any(r.get('error') for r in main()['rows']) else 0)
