"""Tests for gan_core.data: real Debian files when present, synthetic IDX otherwise."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from gan_core import data as gd

REAL_DIR = gd.DEBIAN_DIR
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
HAVE_REAL = all(
    (REAL_DIR / f).is_file() or (REAL_DIR / f"{f}.gz").is_file() for f in FILES
)
real = pytest.mark.skipif(
    not HAVE_REAL,
    reason=f"real Fashion-MNIST not in {REAL_DIR} "
    "(apt-get install dataset-fashion-mnist)",
)


# ---------------------------------------------------------------- helpers


def write_idx(
    path: Path,
    arr: np.ndarray,
    *,
    gz: bool = False,
    magic: int | None = None,
    trailing: bytes = b"",
    cut: int = 0,
) -> Path:
    """Write `arr` as uint8 IDX; knobs produce the corruptions we must detect."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    if magic is None:
        magic = 0x00000800 | arr.ndim
    payload = magic.to_bytes(4, "big")
    payload += b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    payload += arr.tobytes() + trailing
    if cut:
        payload = payload[:-cut]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def synth(n: int, seed: int = 0, n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255  # pin the range ends for to_tensor
    labels = (np.arange(n) % n_classes).astype(np.uint8)
    return images, labels


def make_set(
    directory: Path,
    *,
    n_train: int = 30,
    n_test: int = 20,
    gz: bool = False,
    n_classes: int = 10,
) -> Path:
    """Four IDX files named like the originals (with .gz suffix when gzipped)."""
    sfx = ".gz" if gz else ""
    for prefix, n, seed in (("train", n_train, 1), ("t10k", n_test, 2)):
        images, labels = synth(n, seed, n_classes)
        write_idx(directory / f"{prefix}-images-idx3-ubyte{sfx}", images, gz=gz)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte{sfx}", labels, gz=gz)
    return directory


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Never touch the network, the user's cache, or a FASHION_MNIST_DIR from the shell."""
    cache_home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    monkeypatch.setenv("FASHION_MNIST_NO_DOWNLOAD", "1")
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    return cache_home / "fashion-gan-studio"


# ---------------------------------------------------------------- real data


@real
def test_real_train_and_test_counts() -> None:
    train = gd.load_split("train", data_dir=REAL_DIR)
    assert train.images.shape == (60000, 28, 28)
    assert train.images.dtype == np.uint8
    assert train.labels.shape == (60000,)
    assert train.labels.dtype == np.int64
    assert train.split == "train"
    assert train.source == REAL_DIR
    assert len(train) == 60000
    assert train.class_counts().tolist() == [6000] * 10

    test = gd.load_split("test", data_dir=REAL_DIR)
    assert test.images.shape == (10000, 28, 28)
    assert test.class_counts().tolist() == [1000] * 10


@real
def test_real_ankle_boot_subset() -> None:
    subset = gd.load_split(
        "train", data_dir=REAL_DIR, classes=["Ankle boot"], max_images=100
    )
    assert subset.images.shape == (100, 28, 28)
    assert (subset.labels == 9).all()
    full = gd.load_split("train", data_dir=REAL_DIR)
    expected = full.images[full.labels == 9][:100]  # the report's x_train[y == 9][:100]
    np.testing.assert_array_equal(subset.images, expected)
    x = subset.to_tensor()
    assert tuple(x.shape) == (100, 1, 28, 28)
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0


@real
def test_real_second_load_comes_from_memory_and_a_fresh_process_from_the_disk_cache(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counted, not timed: which loads decode the IDX files, and which are served from a cache."""
    decoded: list[str] = []
    read_idx = gd._read_idx

    def counting(path: Path) -> tuple[np.ndarray, bool]:
        decoded.append(path.name.split("-idx")[0])
        return read_idx(path)

    monkeypatch.setattr(gd, "_read_idx", counting)
    gd._clear_memory_cache()
    first = gd.load_split("train", data_dir=REAL_DIR)
    assert sorted(decoded) == ["train-images", "train-labels"], "the first load decodes both files"

    second = gd.load_split("train", data_dir=REAL_DIR)
    assert len(decoded) == 2, "a second load in the same process decodes nothing"
    kept = second.images is first.images
    assert kept, "and hands out the very arrays kept in memory"

    assert sorted(p.name.split("-idx")[0] for p in isolated.glob("*.npy")) == [
        "train-images",
        "train-labels",
    ]
    gd._clear_memory_cache()  # simulate a fresh process: only the .npy cache is left
    third = gd.load_split("train", data_dir=REAL_DIR)
    assert len(decoded) == 2, "a fresh process reads the .npy cache instead of decoding again"
    reread = third.images is not first.images
    assert reread, "the memory cache was cleared: these arrays come from the .npy files"
    np.testing.assert_array_equal(first.images, third.images)
    np.testing.assert_array_equal(first.labels, third.labels)


# ---------------------------------------------------------------- read_idx


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_read_idx_round_trip(tmp_path: Path, gz: bool) -> None:
    images, labels = synth(7)
    img = gd.read_idx(write_idx(tmp_path / "i.idx", images, gz=gz))
    np.testing.assert_array_equal(img, images)
    read = gd.read_idx(str(write_idx(tmp_path / "l.idx", labels, gz=gz)))
    np.testing.assert_array_equal(read, labels)
    assert read.dtype == np.uint8


def test_plain_file_named_gz_is_read_by_content(tmp_path: Path) -> None:
    images, _ = synth(3)
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, gz=False)
    np.testing.assert_array_equal(gd.read_idx(path), images)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_truncated_payload_names_file(tmp_path: Path, gz: bool) -> None:
    images, _ = synth(5)
    path = write_idx(tmp_path / "train-images-idx3-ubyte", images, gz=gz, cut=100)
    with pytest.raises(gd.CorruptDatasetError, match="truncated") as err:
        gd.read_idx(path)
    assert "train-images-idx3-ubyte" in str(err.value)


def test_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "short"
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(gd.CorruptDatasetError, match="truncated"):
        gd.read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(gd.CorruptDatasetError, match="truncated"):
        gd.read_idx(path)


@pytest.mark.parametrize("magic", [0x00000804, 0x00000D03, 0x12345678])
def test_bad_magic(tmp_path: Path, magic: int) -> None:
    images, _ = synth(2)
    path = write_idx(tmp_path / "weird.idx", images, magic=magic)
    with pytest.raises(gd.CorruptDatasetError, match="magic") as err:
        gd.read_idx(path)
    assert "weird.idx" in str(err.value)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_trailing_garbage(tmp_path: Path, gz: bool) -> None:
    _, labels = synth(10)
    path = write_idx(tmp_path / "labels", labels, gz=gz, trailing=b"junk")
    with pytest.raises(gd.CorruptDatasetError, match="trailing") as err:
        gd.read_idx(path)
    assert str(path) in str(err.value)


def test_bad_gzip(tmp_path: Path) -> None:
    path = tmp_path / "broken.gz"
    path.write_bytes(b"\x1f\x8b" + b"definitely not deflate data" * 10)
    with pytest.raises(gd.CorruptDatasetError, match="gzip") as err:
        gd.read_idx(path)
    assert "broken.gz" in str(err.value)

    images, _ = synth(5)
    good = gzip.compress(write_idx(tmp_path / "x", images).read_bytes())
    path.write_bytes(good[: len(good) // 2])  # stream cut mid-way
    with pytest.raises(gd.CorruptDatasetError, match="gzip"):
        gd.read_idx(path)


# ---------------------------------------------------------------- load_split


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_load_synthetic_round_trip(tmp_path: Path, gz: bool) -> None:
    src = make_set(tmp_path / "set", gz=gz)
    train = gd.load_split("train", data_dir=src)
    images, labels = synth(30, 1)
    np.testing.assert_array_equal(train.images, images)
    np.testing.assert_array_equal(train.labels, labels)
    assert train.labels.dtype == np.int64
    assert train.source == src
    assert train.class_counts().tolist() == [3] * 10
    assert train.class_counts().dtype == np.int64
    assert len(gd.load_split("test", data_dir=src)) == 20


def test_filter_then_limit_keeps_dataset_order(tmp_path: Path) -> None:
    src = make_set(tmp_path / "set", n_train=50)
    ds = gd.load_split("train", data_dir=src, classes=["bag", 2], max_images=7)
    images, labels = synth(50, 1)
    mask = np.isin(labels, [2, 8])
    np.testing.assert_array_equal(ds.images, images[mask][:7])
    np.testing.assert_array_equal(ds.labels, labels[mask][:7])
    # a lone class name is one class, not a sequence of characters
    assert set(gd.load_split("train", data_dir=src, classes="Bag").labels.tolist()) == {
        8
    }
    assert len(gd.load_split("train", data_dir=src, max_images=1000)) == 50


def test_results_are_read_only(tmp_path: Path) -> None:
    src = make_set(tmp_path / "set", gz=True)
    for ds in (
        gd.load_split("train", data_dir=src),
        gd.load_split("train", data_dir=src, classes=[0], max_images=2),
    ):
        with pytest.raises(ValueError, match="read-only"):
            ds.images[0, 0, 0] = 7
        with pytest.raises(ValueError, match="read-only"):
            ds.labels[0] = 7
    np.testing.assert_array_equal(
        gd.load_split("train", data_dir=src).images, synth(30, 1)[0]
    )


def test_bad_arguments(tmp_path: Path) -> None:
    src = make_set(tmp_path / "set", n_classes=5)  # labels 0..4 only
    with pytest.raises(ValueError, match="train"):
        gd.load_split("validation", data_dir=src)
    for bad in (0, -1, 1.5, True, "10"):
        with pytest.raises(ValueError, match="max_images"):
            gd.load_split("train", data_dir=src, max_images=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no images"):
        gd.load_split("train", data_dir=src, classes=["Ankle boot"])
    with pytest.raises(ValueError, match="empty"):
        gd.load_split("train", data_dir=src, classes=[])
    with pytest.raises(ValueError, match="hat"):
        gd.load_split("train", data_dir=src, classes=["hat"])


def test_count_mismatch(tmp_path: Path) -> None:
    src = make_set(tmp_path / "set", n_train=30)
    write_idx(src / "train-labels-idx1-ubyte", synth(29, 1)[1])
    with pytest.raises(gd.CorruptDatasetError) as err:
        gd.load_split("train", data_dir=src)
    msg = str(err.value)
    assert "train-images-idx3-ubyte" in msg and "train-labels-idx1-ubyte" in msg
    assert "30" in msg and "29" in msg


def test_wrong_image_size_and_label_range(tmp_path: Path) -> None:
    src = make_set(tmp_path / "set")
    write_idx(src / "t10k-images-idx3-ubyte", np.zeros((20, 27, 28), np.uint8))
    with pytest.raises(gd.CorruptDatasetError, match="t10k-images-idx3-ubyte"):
        gd.load_split("test", data_dir=src)
    labels = synth(30, 1)[1]
    labels[3] = 10
    write_idx(src / "train-labels-idx1-ubyte", labels)
    with pytest.raises(gd.CorruptDatasetError, match="train-labels-idx1-ubyte"):
        gd.load_split("train", data_dir=src)


def test_truncated_file_in_set_names_it(tmp_path: Path) -> None:
    src = make_set(tmp_path / "set", gz=True)
    images = synth(30, 1)[0]
    write_idx(src / "train-images-idx3-ubyte.gz", images, gz=True, cut=1)
    with pytest.raises(gd.CorruptDatasetError, match=r"train-images-idx3-ubyte\.gz"):
        gd.load_split("train", data_dir=src)


def test_edited_file_is_reloaded(tmp_path: Path, isolated: Path) -> None:
    src = make_set(tmp_path / "set", n_train=30, gz=True)
    assert len(gd.load_split("train", data_dir=src)) == 30
    images, labels = synth(40, 5)
    write_idx(src / "train-images-idx3-ubyte.gz", images, gz=True)
    write_idx(src / "train-labels-idx1-ubyte.gz", labels, gz=True)
    np.testing.assert_array_equal(gd.load_split("train", data_dir=src).images, images)
    assert len(list(isolated.glob("train-images-*.npy"))) == 1  # stale entry replaced


def test_disk_cache_used_for_gzip_and_corrupt_cache_ignored(
    tmp_path: Path, isolated: Path
) -> None:
    src = make_set(tmp_path / "set", gz=True)
    first = gd.load_split("train", data_dir=src)
    cached = sorted(isolated.glob("*.npy"))
    assert [p.name.split("-idx")[0] for p in cached] == ["train-images", "train-labels"]
    for p in cached:
        p.write_bytes(b"garbage, not an npy file")
    gd._clear_memory_cache()
    again = gd.load_split("train", data_dir=src)
    np.testing.assert_array_equal(first.images, again.images)
    np.testing.assert_array_equal(first.labels, again.labels)

    plain = make_set(tmp_path / "plain", gz=False)
    gd.load_split("test", data_dir=plain)
    assert not list(isolated.glob("t10k-*.npy"))  # plain IDX needs no decoded copy


def test_to_tensor(tmp_path: Path) -> None:
    ds = gd.load_split("train", data_dir=make_set(tmp_path / "set"))
    x = ds.to_tensor()
    assert tuple(x.shape) == (30, 1, 28, 28)
    assert str(x.dtype) == "torch.float32"
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0
    np.testing.assert_allclose(x.numpy()[:, 0], ds.images / 127.5 - 1.0, atol=1e-6)


def test_repr_is_short(tmp_path: Path) -> None:
    ds = gd.load_split("train", data_dir=make_set(tmp_path / "set"))
    assert repr(ds) == f"FashionMNIST(split='train', n=30, source='{tmp_path / 'set'}')"


# ---------------------------------------------------------------- find_dataset


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty cwd and no Debian dir, so only what a test provides can be found."""
    cwd = tmp_path / "empty-cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(gd, "DEBIAN_DIR", tmp_path / "no-debian")
    return cwd


def test_missing_everywhere_lists_places_and_fixes(
    tmp_path: Path, nowhere: Path
) -> None:
    nope = tmp_path / "nope"
    with pytest.raises(gd.DatasetNotFoundError) as err:
        gd.find_dataset(nope)
    msg = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    for place in (
        nope,
        nowhere / "data" / "FashionMNIST" / "raw",
        tmp_path / "no-debian",
    ):
        assert str(place) in msg
    assert msg.index(str(nope)) < msg.index(
        str(tmp_path / "no-debian")
    )  # explicit first
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "FASHION_MNIST_DIR" in msg
    assert "torchvision" in msg and "disabled" in msg
    with pytest.raises(gd.DatasetNotFoundError):
        gd.load_split("train", data_dir=nope)


def test_missing_files_are_named(tmp_path: Path, nowhere: Path) -> None:
    partial = make_set(tmp_path / "partial")
    (partial / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(
        gd.DatasetNotFoundError, match=r"missing t10k-labels-idx1-ubyte"
    ):
        gd.find_dataset(partial)


def test_env_var_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_set(tmp_path / "envset", gz=True)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(src))
    assert gd.find_dataset() == src
    assert gd.load_split("test").source == src


def test_explicit_dir_wins_over_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASHION_MNIST_DIR", str(make_set(tmp_path / "env")))
    assert gd.find_dataset(make_set(tmp_path / "arg")) == tmp_path / "arg"


def test_bad_explicit_dir_falls_through_with_warning(
    tmp_path: Path, nowhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    debian = make_set(tmp_path / "fake-debian", gz=True)
    monkeypatch.setattr(gd, "DEBIAN_DIR", debian)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "typo"))
    with pytest.warns(UserWarning, match="typo"):
        assert gd.find_dataset() == debian


def test_torchvision_layout_in_cwd_and_under_explicit_root(
    tmp_path: Path, nowhere: Path
) -> None:
    raw = make_set(nowhere / "data" / "FashionMNIST" / "raw")
    assert gd.find_dataset() == raw
    assert gd.find_dataset(tmp_path / "empty-cwd" / "data") == raw  # torchvision root


def test_download_failure_counts_as_tried(
    tmp_path: Path, nowhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FASHION_MNIST_NO_DOWNLOAD")

    def offline(root: Path) -> None:
        raise OSError("no network here")

    monkeypatch.setattr(gd, "_download_with_torchvision", offline)
    with pytest.raises(gd.DatasetNotFoundError, match="no network here"):
        gd.find_dataset()


def test_download_success_is_read_with_our_reader(
    nowhere: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FASHION_MNIST_NO_DOWNLOAD")
    roots = []

    def fake_download(root: Path) -> None:
        roots.append(root)
        make_set(root / "FashionMNIST" / "raw", gz=True)

    monkeypatch.setattr(gd, "_download_with_torchvision", fake_download)
    ds = gd.load_split("train")
    assert roots == [nowhere / "data"]
    assert ds.source == nowhere / "data" / "FashionMNIST" / "raw"


def test_download_flag_disables(nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FASHION_MNIST_NO_DOWNLOAD")
    monkeypatch.setattr(gd, "ALLOW_DOWNLOAD", False)

    def must_not_run(root: Path) -> None:
        raise AssertionError("download attempted")

    monkeypatch.setattr(gd, "_download_with_torchvision", must_not_run)
    with pytest.raises(gd.DatasetNotFoundError, match="disabled"):
        gd.find_dataset()


# ---------------------------------------------------------------- class_index


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Ankle boot", 9),
        ("ankle boot", 9),
        ("ankle-boot", 9),
        ("ankle_boot", 9),
        ("ANKLE BOOT", 9),
        (9, 9),
        ("9", 9),
        (np.int64(9), 9),
        ("T-shirt/top", 0),
        ("tshirt", 0),
        ("t-shirt", 0),
        (0, 0),
        ("Sneaker", 7),
        ("bag", 8),
    ],
)
def test_class_index_accepts(given: str | int, expected: int) -> None:
    assert gd.class_index(given) == expected


@pytest.mark.parametrize("bad", ["hat", "", 10, -1, "10"])
def test_class_index_rejects(bad: str | int) -> None:
    with pytest.raises(ValueError, match="Ankle boot") as err:
        gd.class_index(bad)
    assert "T-shirt/top" in str(err.value)


def test_class_index_rejects_non_class_types() -> None:
    for bad in (True, 9.0, None):
        with pytest.raises(TypeError):
            gd.class_index(bad)  # type: ignore[arg-type]


def test_class_names() -> None:
    assert len(gd.CLASS_NAMES) == 10
    assert [gd.class_index(n) for n in gd.CLASS_NAMES] == list(range(10))
