"""A fastai user's own pipeline on two processes, then deployed: `ImageDataLoaders.from_folder` with augmentation and
`Normalize`, the sensible callback and `RobustAccuracy`, fitted inside `learn.ddp_ctx()` by 2 gloo processes
(`torch.multiprocessing`, loopback, CPU); then `export`, and `load_learner` + `predict` + `get_preds` +
`robustness_report(test_dl)` + `show_adv_results` in a fresh plain process.

Checked: each rank trains on a disjoint shard of the images with half of the global batch; the ranks end with equal
weights; one `history.csv` (rank 0's); every logged figure is the same on both ranks (the all-rank figure: the
training loss gathered, the validation set whole on each rank, `RobustAccuracy` summed over the ranks), and
`learn.validate()` on rank 0 alone after `finish_distributed` gives the logged validation figures; nothing distributed
stays on the learner or in its pickle.
"""
import json, os, socket, subprocess, sys, textwrap
import pytest, torch
import torch.distributed as dist
import torch.multiprocessing as mp

N_TRAIN, N_VALID, BS = 160, 40, 32       # BS is the global batch: 16 images per process and step

def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _image_folder(path):
    "The 8x8 digits as 16x16 PNGs in train/ and valid/ folders, one sub-folder per class (as users' data sit)."
    from PIL import Image
    from sklearn.datasets import load_digits
    d = load_digits()
    for i, (img, y) in enumerate(zip(d.images[:N_TRAIN + N_VALID], d.target)):
        f = path/('train' if i < N_TRAIN else 'valid')/str(y)/f'{i:04d}.png'
        f.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((img * 255 / 16).astype('uint8')).resize((16, 16)).save(f)
    return path

def _dls(path, bs=BS):
    from fastai.vision.all import ImageDataLoaders, aug_transforms, Normalize, imagenet_stats, Resize
    return ImageDataLoaders.from_folder(path, train='train', valid='valid', bs=bs, item_tfms=Resize(16), device='cpu', num_workers=0,
                                        batch_tfms=[*aug_transforms(size=16, do_flip=False, max_rotate=5, min_scale=0.9),
                                                    Normalize.from_stats(*imagenet_stats)])

def _worker(rank, world, port, path, out):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), OMP_NUM_THREADS='1')
    torch.set_num_threads(1)
    import warnings; warnings.filterwarnings('ignore')
    from pathlib import Path
    from torch import nn
    from fastai.vision.all import Learner, Callback, CSVLogger, CrossEntropyLossFlat, accuracy
    from sensible_adv.all import SensibleAdversarialTraining, RobustAccuracy, seed_everything, init_distributed, finish_distributed

    class _Seen(Callback):
        "Records the training indices this rank drew each epoch, and its batch sizes."
        def before_fit(self): self.idxs, self.sizes = [], set()
        def before_train(self):
            get = getattr(self.dl.get_idxs, 'orig', self.dl.get_idxs)
            def rec(): r = get(); self.idxs.append(list(r)); return r
            rec.orig, self.dl.get_idxs = get, rec
        def before_batch(self):
            if self.training: self.sizes.add(len(self.yb[0]))

    init_distributed()
    ok = False
    try:
        seed_everything(0)                              # same initial weights on both ranks
        dls = _dls(Path(path))
        model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(16 * 8 * 8, dls.c))
        seen = _Seen()
        learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(), path=out,
                        metrics=[accuracy, RobustAccuracy(eps=0.1, n=24)],
                        cbs=[SensibleAdversarialTraining(eps=0.1, warmup=0), seen])
        seed_everything(100 + rank)                     # different attack noise on each rank
        with learn.ddp_ctx(): learn.fit(2, 3e-3, cbs=CSVLogger())   # fastai cannot pickle a CSVLogger after its fit
        finish_distributed()                            # leave the group: from here, a plain process
        res = dict(idxs=seen.idxs, sizes=sorted(seen.sizes), values=[list(map(float, v)) for v in learn.recorder.values],
                   names=list(learn.recorder.metric_names), cbs=[type(c).__name__ for c in learn.cbs],
                   model=type(learn.model).__name__, train_n=learn.dls.train.n,
                   params=torch.cat([p.detach().flatten() for p in learn.model.parameters()]).tolist())
        learn.remove_cb(seen)                           # a test's local class: not for the pickle
        if rank == 0:
            res['validate'] = [float(v) for v in learn.validate()[:3]]   # rank 0 alone: must not wait for rank 1
            learn.export(Path(out)/'export.pkl')
        (Path(out)/f'rank{rank}.json').write_text(json.dumps(res))
        ok = True
    finally: finish_distributed(ok)

_DEPLOY = textwrap.dedent("""
    import json, sys, warnings; warnings.filterwarnings('ignore')
    from pathlib import Path
    import torch; torch.set_num_threads(1)
    from fastai.vision.all import load_learner, get_image_files
    from sensible_adv.all import robustness_report
    out, path = Path(sys.argv[1]), Path(sys.argv[2])
    learn = load_learner(out/'export.pkl')
    items = get_image_files(path/'valid')[:24]
    label, _, probs = learn.predict(items[0])
    preds, targs = learn.get_preds(dl=learn.dls.test_dl(items, with_labels=True))
    errors = []
    for dl in (None, learn.dls.test_dl(items)):     # no data (an exported learner's are empty), and no labels: both refused
        try: robustness_report(learn, dl, 0.1, attacks=('fgsm',), sanity=False, verbose=False); errors.append('')
        except ValueError as e: errors.append(str(e))
    df = robustness_report(learn, learn.dls.test_dl(items, with_labels=True), 0.1, attacks=('fgsm', 'pgd10'), sanity=False, verbose=False)
    learn.show_adv_results(n=4, dl=learn.dls.test_dl(items, with_labels=True), path=out/'adv.png')   # eps and c: the callback's
    print(json.dumps(dict(label=str(label), p=float(probs.max()), preds=list(preds.shape), acc=float((preds.argmax(1) == targs).float().mean()),
                          report=df.accuracy.tolist(), n=int(df.n.iloc[0]), errors=errors,
                          cbs=[type(c).__name__ for c in learn.cbs], model=type(learn.model).__name__)))
""")

@pytest.mark.slow
def test_fastai_pipeline_on_two_processes_then_deployed(tmp_path):
    if not dist.is_available() or not dist.is_gloo_available(): pytest.skip('torch.distributed with gloo is not available')
    path, out = _image_folder(tmp_path/'digits'), tmp_path/'out'
    out.mkdir()
    ctx = mp.start_processes(_worker, args=(2, _free_port(), str(path), str(out)), nprocs=2, join=False, start_method='spawn')
    try:
        import time; end = time.time() + 240
        while not ctx.join(timeout=1):
            if time.time() > end: raise TimeoutError('DDP workers still running after 240 s (a hang?)')
    finally:
        for p in ctx.processes:
            if p.is_alive(): p.kill()
    r0, r1 = [json.loads((out/f'rank{r}.json').read_text()) for r in range(2)]
    for e in range(2):                                  # each epoch: disjoint shards that cover the training images
        a, b = set(r0['idxs'][e]), set(r1['idxs'][e])
        assert not a & b and len(a | b) == N_TRAIN, (e, len(a), len(b), len(a & b))
    assert r0['idxs'][0] != r0['idxs'][1]               # reshuffled each epoch
    assert r0['sizes'] == r1['sizes'] == [BS // 2]      # the global batch, shared
    assert r0['params'] == r1['params'], 'ranks diverged'
    assert r0['values'] == r1['values'], (r0['values'], r1['values'])   # every figure the all-rank one
    assert r0['names'][:5] == ['epoch', 'train_loss', 'valid_loss', 'accuracy', 'robust_acc'] and 'adv_loss' in r0['names']
    assert all(v is not None for row in r0['values'] for v in row)   # the callback's statistics too: summed over the ranks
    rows = (out/'history.csv').read_text().strip().splitlines()
    assert len(rows) == 3 and rows[0].startswith('epoch,train_loss'), rows                    # one log: rank 0's
    v = r0['validate']                                  # valid loss and accuracy as logged (no augmentation in validation)
    assert abs(v[0] - r0['values'][-1][1]) < 1e-4 and abs(v[1] - r0['values'][-1][2]) < 1e-6, (v, r0['values'][-1])
    for r in (r0, r1):                                  # after the fit: a plain learner again
        assert 'DistributedRun' not in r['cbs'] and r['model'] == 'Sequential' and r['train_n'] == N_TRAIN, r['cbs']
    env = {k: v for k, v in os.environ.items() if k not in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')}
    p = subprocess.run([sys.executable, '-c', _DEPLOY, str(out), str(path)], capture_output=True, text=True, timeout=180,
                       env={**env, 'OMP_NUM_THREADS': '1', 'MPLBACKEND': 'Agg', 'PYTHONPATH': os.pathsep.join(sys.path)})
    assert p.returncode == 0, p.stderr[-3000:]
    d = json.loads(p.stdout.strip().splitlines()[-1])
    assert d['label'] in [str(i) for i in range(10)] and 0.1 <= d['p'] <= 1 and d['preds'] == [24, 10], d
    assert d['model'] == 'Sequential' and 'DistributedRun' not in d['cbs'] and 'SensibleAdversarialTraining' in d['cbs']
    assert 'has no validation data' in d['errors'][0] and 'with_labels=True' in d['errors'][0], d['errors']
    assert 'without labels' in d['errors'][1], d['errors']
    assert (out/'adv.png').stat().st_size > 1000                   # clean / PGD / sensible rows of the loaded learner's batch
    assert d['n'] == 24 and abs(d['report'][0] - d['acc']) < 1e-6 and d['report'][2] <= d['report'][1] <= d['report'][0], d
