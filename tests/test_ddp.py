"""Adversarial training callbacks under multi-process DistributedDataParallel (2 CPU processes, gloo, loopback).

fastai's `distrib_ctx`/`DistributedTrainer` (the whole `fastai.distributed` module) need the `accelerate` package, which
this project does not install; the test uses `_TorchDDP`, a test callback doing what `DistributedTrainer` does to the
model (wrap it in torch's `DistributedDataParallel` in `before_fit` at order 11, unwrap it in `after_fit`); each rank
trains on its own random subset of the digits instead of a `DistributedDL` shard.

What is checked, on each rank, after a few training steps:
- the parameters are identical on both ranks (the updates were all-reduced, and nothing else moved them);
- the number of gradient all-reduce calls equals that of natural training with the same number of steps, and the
  DDP wrapper's forward ran only for the training forwards: the attack (run on the underlying module) never triggers
  DDP's communication, even though the sensible search stops after a different number of steps on each rank (a
  collective inside it, e.g. DDP's buffer broadcast at each forward, would then hang or desynchronise).
"""
import os, socket, sys, tempfile
import pytest, torch
import torch.distributed as dist
import torch.multiprocessing as mp

N_STEPS = 4

def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _worker(rank, world, port, outdir, methods):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), OMP_NUM_THREADS='1')
    torch.set_num_threads(1)
    import warnings; warnings.filterwarnings('ignore')
    from torch import nn
    from fastai.basics import Learner, Callback, CancelFitException, CrossEntropyLossFlat
    from sensible_adv.core import seed_everything
    from sensible_adv.data import digits_dls
    from sensible_adv.callback import adversarial_callback

    class _TorchDDP(Callback):
        "What fastai's `DistributedTrainer` does, with torch's DDP directly (no `accelerate`)."
        order = 11
        def before_fit(self): self.learn.model = nn.parallel.DistributedDataParallel(self.model)
        def after_fit(self): self.learn.model = self.learn.model.module

    class _CountAllReduce(Callback):
        "Counts DDP's gradient all-reduces (a comm hook) and stops after `N_STEPS` steps."
        order = 12.5
        def before_fit(self):
            self.calls = 0
            def hook(state, bucket):
                self.calls += 1
                return dist.all_reduce(bucket.buffer().div_(dist.get_world_size()), async_op=True).get_future().then(lambda f: f.value()[0])
            self.model.register_comm_hook(None, hook)
            self.forwards = 0
            def count(m, args): self.forwards += 1
            self.model.register_forward_pre_hook(count)
        def after_step(self):
            if self.learn.train_iter + 1 >= N_STEPS: raise CancelFitException()

    from sensible_adv.learner import finish_distributed
    dist.init_process_group('gloo', rank=rank, world_size=world)
    ok = False
    def train(method):
        seed_everything(0)                        # same initial weights on both ranks
        model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Flatten(), nn.Linear(1024, 10))
        cb = adversarial_callback(method, **({} if method == 'natural' else dict(eps=0.1, step=0.025)),
                                  **({'warmup': 0} if method == 'sense' else {}))
        counter = _CountAllReduce()
        learn = Learner(digits_dls(bs=64, n_train=1000, seed=rank, device='cpu'), model, loss_func=CrossEntropyLossFlat(),
                        cbs=[c for c in (cb, _TorchDDP(), counter) if c is not None])
        seed_everything(100 + rank)               # different attack noise on each rank
        with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-2)
        flat = torch.cat([p.detach().flatten() for p in learn.model.parameters()])
        torch.save(dict(params=flat, calls=counter.calls, forwards=counter.forwards, is_ddp=type(learn.model).__name__,
                        train=[m.training for m in learn.model.modules()]), os.path.join(outdir, f'{method}_{rank}.pt'))
    try:
        for method in methods: train(method)      # one after another in the same process group, each from scratch
        ok = True
    finally:   # as the CLI does: a bare destroy_process_group() left the DDP wrapper's cycle to exit time, and gloo aborted
        finish_distributed(ok)

def _run(methods, outdir, timeout=180):
    "Train each of `methods` on 2 spawned ranks (one pair of processes for all: a spawn costs the imports); {method: [rank 0, rank 1]}."
    ctx = mp.start_processes(_worker, args=(2, _free_port(), outdir, methods), nprocs=2, join=False, start_method='spawn')
    try:
        import time; end = time.time() + timeout
        while not ctx.join(timeout=1):
            if time.time() > end: raise TimeoutError(f'{methods}: DDP workers still running after {timeout} s (a hang?)')
    finally:
        for p in ctx.processes:
            if p.is_alive(): p.kill()
    return {m: [torch.load(os.path.join(outdir, f'{m}_{r}.pt')) for r in range(2)] for m in methods}

def test_ddp_two_ranks_stay_in_sync():
    if not dist.is_available() or not dist.is_gloo_available(): pytest.skip('torch.distributed with gloo is not available')
    with tempfile.TemporaryDirectory() as d:
        runs = _run(('natural', 'sense', 'trades'), d)
        nat = runs['natural']
        for method in ('sense', 'trades'):
            r0, r1 = runs[method]
            assert r0['is_ddp'] == 'Sequential'                      # the model is unwrapped after fit
            assert torch.equal(r0['params'], r1['params']), f'{method}: ranks diverged'
            assert not torch.equal(r0['params'], nat[0]['params'])   # and the method did train differently
            # one gradient all-reduce pass per step, exactly as natural training: none from the attack
            assert r0['calls'] == r1['calls'] == nat[0]['calls'] > 0, (method, r0['calls'], nat[0]['calls'])
            # the DDP wrapper ran only the training forwards (TRADES: adversarial + clean), never an attack forward
            # (each of which would broadcast buffers: a collective inside a search that stops at different steps per rank)
            assert r0['forwards'] == r1['forwards'] == N_STEPS * (2 if method == 'trades' else 1), (method, r0['forwards'])

def _torchrun(out, *extra, timeout=300):
    "`torchrun --nproc_per_node 2 -m sensible_adv.cli train ...` on CPU (gloo, loopback), as a user starts it."
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_addr', '127.0.0.1',
           '--master_port', str(_free_port()), '-m', 'sensible_adv.cli', 'train', '--dataset', 'digits', '--method', 'sense',
           '--n-train', '400', '--n-valid', '60', '--bs', '50', '--epochs', '2', '--quiet', '--out', str(out), *extra]
    import subprocess
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': os.pathsep.join(sys.path)})

def test_torchrun_cli_trains_one_run_folder_and_resumes(tmp_path):
    "Two gloo processes train one run (each on its half of the data), rank 0 writes one folder, and a resume continues it."
    if not dist.is_available() or not dist.is_gloo_available(): pytest.skip('torch.distributed with gloo is not available')
    import csv
    out = tmp_path/'run'
    r = _torchrun(out)
    assert r.returncode == 0, r.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ['.lock', 'checkpoints', 'config.json', 'history.csv', 'model.pth']   # .lock: rank 0's
    assert sorted(p.name for p in (out/'checkpoints').iterdir()) == ['epoch_0.pth', 'epoch_1.pth']
    import json
    cfg = json.loads((out/'config.json').read_text())
    # two ranks, each on half of the 400 images, each taking half of the global batch of 50
    assert (cfg['world_size'], cfg['train_images_per_rank'], cfg['bs_per_process'], cfg['args']['bs']) == (2, 200, 25, 50), cfg
    rows = list(csv.DictReader(open(out/'history.csv')))
    assert [h['epoch'] for h in rows] == ['0', '1'], rows          # one log, not one per rank
    ck = torch.load(out/'checkpoints'/'epoch_1.pth', weights_only=True)
    assert not any(k.startswith('module.') for k in ck['model'])   # the plain model's weights, not the DDP wrapper's
    w = torch.load(out/'model.pth', weights_only=True)
    # the last checkpoint lost: the two processes resume from epoch 0 and write epoch 1 again
    (out/'checkpoints'/'epoch_1.pth').unlink(); (out/'model.pth').unlink()
    r = _torchrun(out, '--resume')
    assert r.returncode == 0, r.stderr[-3000:]
    assert [h['epoch'] for h in csv.DictReader(open(out/'history.csv'))] == ['0', '1']
    w2 = torch.load(out/'model.pth', weights_only=True)
    assert w.keys() == w2.keys() and all(torch.equal(w[k], w2[k]) for k in w), 'resume under DDP changed the weights'

def test_global_batch_refused_unless_it_divides(monkeypatch):
    "`bs` is the global batch: under 2 processes an odd one is refused before any data is read or any group joined."
    from sensible_adv.learner import build_learner
    monkeypatch.setenv('WORLD_SIZE', '2')
    with pytest.raises(ValueError, match='`bs` is the global batch size, split evenly over the 2 processes; got 51'):
        build_learner('digits', 'natural', bs=51, n_train=64, n_valid=16, device='cpu')
    assert not dist.is_initialized()
