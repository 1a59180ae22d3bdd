"""Where the benchmarks find the Free Spoken Digit Dataset."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def fsdd_root() -> Path:
    """``$WORDREC_FSDD``, else ``../shared/data/fsdd`` beside the repository."""
    return Path(os.environ.get("WORDREC_FSDD", REPO.parent / "shared" / "data" / "fsdd"))
