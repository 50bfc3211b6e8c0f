"""The report, the metric and the callback on the pipelines users actually have, not only on our own loaders.

Each pipeline is built here from a few dozen small images written to a temporary folder (nothing is downloaded):

* fastai's `ImageDataLoaders.from_folder` with item and batch transforms (`Resize`, `aug_transforms`,
  `Normalize.from_stats(*imagenet_stats)`) and `vision_learner` with a torchvision ResNet-18 body
  (`pretrained=False`), trained frozen then unfrozen (`fine_tune`), exported and loaded back (`load_learner`);
* the same images through a fastai `DataBlock`;
* a plain PyTorch `DataLoader` of torchvision datasets (`ImageFolder` over the same folder, and `FakeData`).

On each: `robustness_report` (on the learner, and on the bare model), `RobustAccuracy` as a metric, and
`SensibleAdversarialTraining` as a callback.
"""
import warnings
import numpy as np, pytest, torch
from torch import nn
from PIL import Image

warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated', category=FutureWarning)
from fastai.vision.all import (ImageDataLoaders, DataBlock, ImageBlock, CategoryBlock, GrandparentSplitter, Resize,
                               aug_transforms, Normalize, imagenet_stats, get_image_files, parent_label, vision_learner,
                               load_learner, Learner, DataLoaders, accuracy, CrossEntropyLossFlat)
from torchvision import datasets, transforms, models
from sensible_adv.core import find_normalize, Normalized
from sensible_adv.attacks import PGD
from sensible_adv.callback import SensibleAdversarialTraining, RobustAccuracy
from sensible_adv.evaluate import robustness_report

torch.set_num_threads(1)
CLASSES, EPS, SIZE = ('red', 'green', 'blue'), 4/255, 32
Q = dict(eps=EPS, attacks='fgsm,pgd3', sanity=False, verbose=False)      # a quick report


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    "An image folder `train/<class>/*.png`, `valid/<class>/*.png`: 24x24 noisy images tinted by class (learnable in an epoch)."
    root = tmp_path_factory.mktemp('images')
    rng = np.random.default_rng(0)
    for split, k in (('train', 12), ('valid', 6)):
        for c, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True)
            for i in range(k):
                img = rng.integers(0, 120, (24, 24, 3)); img[..., c] += 120
                Image.fromarray(img.astype(np.uint8)).save(root / split / name / f'{i}.png')
    return root


def _tfms():
    return dict(item_tfms=Resize(SIZE), batch_tfms=[*aug_transforms(size=SIZE, min_scale=0.8), Normalize.from_stats(*imagenet_stats)])


def _state(model):
    "Each module's train flag and each parameter's requires_grad."
    return [m.training for m in model.modules()], [p.requires_grad for p in model.parameters()]


def _check_report(df, n):
    "A report with natural accuracy and attacks that never beat it, on `n` images."
    acc = df.set_index('attack').accuracy
    assert list(df.n) == [n] * len(df), df
    assert 0 <= acc['PGD-3'] <= acc['FGSM'] + 2 / n and acc['FGSM'] <= acc['natural'] <= 1, df


@pytest.mark.filterwarnings('ignore:load_learner` uses Python')
def test_from_folder_vision_learner_export(folder, tmp_path):
    "ImageDataLoaders.from_folder + vision_learner(resnet18): callback and metric while fine-tuning, the report before and after export."
    dls = ImageDataLoaders.from_folder(folder, train='train', valid='valid', bs=8, num_workers=0, device='cpu', **_tfms())
    stats = find_normalize(dls.valid)                        # one TfmdDL, not the DataLoaders: its `.train` is not a split
    assert stats is not None and torch.allclose(stats[0].flatten(), torch.tensor(imagenet_stats[0]))
    learn = vision_learner(dls, models.resnet18, pretrained=False, metrics=[accuracy, RobustAccuracy(PGD(EPS, steps=2), n=8)],
                           cbs=SensibleAdversarialTraining(EPS, steps=2, warmup=0))
    with learn.no_bar(), learn.no_logging(): learn.fine_tune(1, freeze_epochs=1)           # frozen, then unfrozen
    names = list(learn.recorder.metric_names)
    assert 'robust_acc' in names and 'frozen_in_search' in names
    robust = [row[names.index('robust_acc') - 1] for row in learn.recorder.values]   # the unfrozen fit's epoch
    assert len(robust) == 1 and 0 <= robust[0] <= 1, robust

    learn.freeze(); learn.model.train()                     # the report leaves a frozen learner in train mode as it was
    before = _state(learn.model)
    df = robustness_report(learn, n=16, **Q)
    assert _state(learn.model) == before
    _check_report(df, 16)

    # the bare model with the learner's (normalising) validation loader: the loader's Normalize is read
    torch.manual_seed(0); a = robustness_report(learn.model, learn.dls.valid, n=16, **{**Q, 'attacks': 'fgsm'})
    torch.manual_seed(0); b = robustness_report(learn, n=16, **{**Q, 'attacks': 'fgsm'})
    assert a.accuracy.tolist() == b.accuracy.tolist()

    learn.export(tmp_path / 'export.pkl')
    loaded = load_learner(tmp_path / 'export.pkl')
    files = get_image_files(folder / 'valid')
    dl = loaded.dls.test_dl(files, with_labels=True)        # a single TfmdDL with the exported Normalize
    d2 = robustness_report(loaded, dl, **{**Q, 'attacks': 'fgsm'})
    d1 = robustness_report(learn, learn.dls.test_dl(files, with_labels=True), **{**Q, 'attacks': 'fgsm'})
    assert d2.accuracy.tolist() == d1.accuracy.tolist() and d2.n[0] == len(files)
    # the callback travels with the export and trains the loaded learner
    assert any(isinstance(c, SensibleAdversarialTraining) for c in loaded.cbs)
    loaded.dls = dls
    with loaded.no_bar(), loaded.no_logging(): loaded.fit(1, 1e-4)
    assert 'frozen_in_search' in loaded.recorder.metric_names


def test_datablock_learner(folder):
    "A DataBlock with the same transforms, a small CNN Learner: callback, metric and report."
    block = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, get_y=parent_label,
                      splitter=GrandparentSplitter(train_name='train', valid_name='valid'), **_tfms())
    dls = block.dataloaders(folder, bs=8, num_workers=0, device='cpu')
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                        nn.Linear(128, len(CLASSES)))
    learn = Learner(dls, net, loss_func=CrossEntropyLossFlat(), metrics=[accuracy, RobustAccuracy('pgd3', n=12, eps=EPS)],
                    cbs=SensibleAdversarialTraining(EPS, steps=3, warmup=0))
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(3, 1e-2)
    assert learn.recorder.values[-1][learn.recorder.metric_names.index('robust_acc') - 1] is not None
    _check_report(learn.robustness_report(**Q), len(dls.valid_ds))


def test_plain_pytorch_loaders(folder):
    "torchvision ImageFolder and FakeData through plain PyTorch DataLoaders: the report on a bare torchvision model, and a Learner on them."
    tf = transforms.Compose([transforms.Resize(SIZE), transforms.ToTensor()])
    train = torch.utils.data.DataLoader(datasets.ImageFolder(folder / 'train', tf), batch_size=8, shuffle=True)
    valid = torch.utils.data.DataLoader(datasets.ImageFolder(folder / 'valid', tf), batch_size=8)
    torch.manual_seed(0)
    net = models.resnet18(num_classes=len(CLASSES))
    learn = Learner(DataLoaders(train, valid, device='cpu'), net, loss_func=nn.CrossEntropyLoss(),
                    metrics=[accuracy, RobustAccuracy(PGD(EPS, steps=2), n=8)], cbs=SensibleAdversarialTraining(EPS, steps=2, warmup=0))
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    assert learn.recorder.values[-1][learn.recorder.metric_names.index('robust_acc') - 1] is not None
    net.eval()
    _check_report(robustness_report(net, valid, **Q), len(valid.dataset))
    _check_report(robustness_report(learn, **Q), len(valid.dataset))

    fake = torch.utils.data.DataLoader(datasets.FakeData(12, (3, SIZE, SIZE), len(CLASSES), transform=transforms.ToTensor()), batch_size=6)
    _check_report(robustness_report(net, fake, **Q), 12)

    # a loader that normalises with a torchvision transform cannot be seen through: refused, not fed to the attacks
    norm = transforms.Compose([tf, transforms.Normalize(*imagenet_stats)])
    normed = torch.utils.data.DataLoader(datasets.ImageFolder(folder / 'valid', norm), batch_size=8)
    with pytest.raises(ValueError, match='`dl` yields a batch the report cannot score'):
        robustness_report(net, normed, **Q)
    # a model that expects normalised inputs, given pixels and its statistics, is attacked in pixels
    torch.manual_seed(0); a = robustness_report(net, valid, norm_stats=imagenet_stats, **{**Q, 'attacks': 'fgsm'})
    torch.manual_seed(0); b = robustness_report(Normalized(net, *imagenet_stats), valid, **{**Q, 'attacks': 'fgsm'})
    assert a.accuracy.tolist() == b.accuracy.tolist()
