"""Fashion-MNIST: where its IDX files may be on this machine, and loading them."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .dataset import Dataset, Spec
from .idx import with_or_without_gz, load_idx
from .paths import data_dir

NAME = "fashion-mnist"
DEBIAN_PACKAGE = "dataset-fashion-mnist"
SYSTEM_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets/fashion-mnist"),)
"""Where Debian's ``dataset-fashion-mnist`` package installs the files."""

CLASS_NAMES: tuple[str, ...] = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

FILES: dict[str, str] = {
    # file name -> SHA-256 of its DECOMPRESSED content (the IDX bytes). Hashing the
    # payload, not the .gz, lets one table check both the upstream files and Debian's
    # (whose .gz bytes differ from upstream's published MD5s).
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

UPSTREAM_MD5: dict[str, str] = {
    # file name -> MD5 of the .gz file as the upstream README publishes it; a download
    # matching it is accepted too (not checkable offline: Debian's .gz bytes differ).
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}

SOURCE = ("Zalando Research's Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), 28x28 grayscale "
          "article images in 10 classes, read from its gzipped IDX files")


def _dpkg_dir() -> Path | None:
    """Ask dpkg where the Debian package put the files; None when dpkg or the package is absent."""
    if shutil.which("dpkg") is None:
        return None
    try:
        listing = subprocess.run(["dpkg", "-L", DEBIAN_PACKAGE], capture_output=True, text=True,
                                 timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in listing.splitlines():
        if line.endswith("/train-images-idx3-ubyte.gz"):
            return Path(line).parent
    return None


def _complete(directory: Path) -> bool:
    return all(with_or_without_gz(directory, name) is not None for name in FILES)


def search_dirs() -> list[Path]:
    """The folders searched, in order: the vecprop data folder, then the Debian ones."""
    return [data_dir() / NAME, *SYSTEM_DIRS]


def find() -> Path:
    """The first folder holding all four Fashion-MNIST files.

    Raises
    ------
    FileNotFoundError
        Listing the folders searched and the two ways to get the files.
    """
    dirs = search_dirs()
    for directory in dirs:
        if _complete(directory):
            return directory
    debian = _dpkg_dir()
    if debian is not None and _complete(debian):
        return debian
    raise FileNotFoundError(
        f"Fashion-MNIST not found; looked for {', '.join(FILES)} in "
        f"{', '.join(str(d) for d in dirs)}" + (f", {debian}" if debian else "") + ". Get it with "
        f"`apt-get install -y {DEBIAN_PACKAGE}` (Debian/Ubuntu) or `vecprop fetch {NAME}` "
        f"(downloads into {data_dir() / NAME}; set $VECPROP_DATA to choose the folder)."
    )


def load(seed: int = 0, n_samples: int | None = None) -> Dataset:
    """Load Fashion-MNIST: X (60000, 784) ``uint8``, X_test (10000, 784), labels 0-9.

    Pixels stay ``uint8`` in [0, 255]; scale them (``MinMaxScaler(0, 255)`` or a
    :class:`Standardizer`) before training.
    """
    directory = find()
    return load_idx(directory, classes=CLASS_NAMES, name=NAME,
                    source=f"{SOURCE} in {directory}")


SETS: dict[str, Spec] = {
    NAME: Spec(task="multiclass", shape="60000 x 784 (+ 10000 test), uint8 pixels", source=SOURCE,
               loader=load),
}
