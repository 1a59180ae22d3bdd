"""Shared fixtures: data locations and small generated recordings."""

from __future__ import annotations

import os
from pathlib import Path

# As `wordrec` itself runs (wordrec.cli.main): one BLAS thread, set before
# numpy loads.  A multi-threaded BLAS sums large products in another order,
# so in-process training would differ in the last bits from the same
# training in Dask's workers, which always get one thread.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"


def fsdd_root() -> Path:
    """The Free Spoken Digit Dataset: $WORDREC_FSDD, else ../shared/data/fsdd."""
    return Path(os.environ.get("WORDREC_FSDD", REPO.parent / "shared" / "data" / "fsdd"))


@pytest.fixture
def fsdd() -> Path:
    root = fsdd_root()
    if not (root / "train").is_dir() or not (root / "test").is_dir():
        pytest.skip(f"FSDD not found at {root} (set WORDREC_FSDD)")
    return root


@pytest.fixture
def demo() -> Path:
    return DEMO


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def tone(freqs, seconds=0.5, rate=8000, amp=0.3, seed=0) -> np.ndarray:
    """A sum of sines with a little noise: a stand-in for a voiced sound."""
    r = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = sum(np.sin(2 * np.pi * f * t + r.uniform(0, 6.28)) for f in freqs)
    return amp * x / len(freqs) + 0.003 * r.standard_normal(len(t))


def write_wav(path: Path, signal: np.ndarray, rate=8000, subtype="PCM_16") -> Path:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), signal, rate, subtype=subtype)
    return path


def make_tone_corpus(root: Path, n_per_word=6, rate=8000) -> Path:
    """Three 'words', each a sequence of two tones, several renditions each."""
    words = {"low": (300, 500), "mid": (800, 1100), "high": (1500, 2100)}
    for w, (f1, f2) in words.items():
        for k in range(n_per_word):
            a = tone([f1], 0.25 + 0.02 * k, rate, seed=k)
            b = tone([f2], 0.25 + 0.01 * k, rate, seed=100 + k)
            write_wav(root / w / f"{w}_{k}.wav", np.concatenate([a, b]), rate)
    return root


def train_tone_model(root: Path):
    """The tone corpus under ``root`` and a small model trained on it by the CLI.

    Returns (data folder, model path, the CliRunner result of 'train').
    """
    from click.testing import CliRunner

    from wordrec.cli import cli

    data = make_tone_corpus(root / "data")
    model = root / "tones.model"
    result = CliRunner().invoke(cli, ["train", str(data), "-o", str(model), "--states", "3", "--mix", "2", "-j", "1"])
    assert result.exit_code == 0, result.output
    return data, model, result


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(config, items):
    # Tests on FSDD are the slow end-to-end ones: 'make quick' (-m 'not slow') leaves them out.
    for item in items:
        if "fsdd" in getattr(item, "fixturenames", ()) or item.get_closest_marker("fsdd"):
            item.add_marker(pytest.mark.slow)
