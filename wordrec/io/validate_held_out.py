"""Checks on a model file's record of confusable words (``diagnostics.held_out``), which may be hostile.

The record is written by ``wordrec train`` (:func:`wordrec.core.confusable.record`)
and read by ``wordrec inspect``; files written before it existed have none.
:func:`wordrec.io.validate.validate` calls :func:`check`, so a tampered
record is refused on load with the field it names, like any other field.
"""

from __future__ import annotations

import numpy as np

from wordrec.core.confusable import FIELD
from wordrec.errors import WordrecError


def check(rec, words) -> None:
    """Validate a model file's ``diagnostics["held_out"]`` (absent: nothing to check).

    Parameters
    ----------
    rec : object
        The parsed JSON value, or None.
    words : sequence of str
        The model's words: the only names the record may hold.

    Raises
    ------
    WordrecError
        Naming the field, e.g. ``diagnostics.held_out.confusable[2].close_to``.
    """
    if rec is None:
        return
    where = f"diagnostics.{FIELD}"
    if not isinstance(rec, dict):
        raise WordrecError(f"field {where!r}: not an object")
    known = set(words)
    _number(rec.get("close_nats_per_frame"), f"{where}.close_nats_per_frame", 0.0, 1e6, open_low=True)
    _number(rec.get("min_share"), f"{where}.min_share", 0.0, 1.0)
    for key in ("false_rejection", "false_acceptance"):
        if key in rec:
            _number(rec[key], f"{where}.{key}", 0.0, 1.0)
    counts = rec.get("recordings")
    if not isinstance(counts, dict) or not all(w in known for w in counts):
        raise WordrecError(f"field '{where}.recordings': must map the model's words to counts")
    for w, n in counts.items():
        if type(n) is not int or n < 0:
            raise WordrecError(f"field '{where}.recordings': the count of {w!r} must be a whole number")
    pairs = rec.get("confusable")
    if not isinstance(pairs, list):
        raise WordrecError(f"field '{where}.confusable': must be a list")
    for i, p in enumerate(pairs):
        name = f"{where}.confusable[{i}]"
        if not isinstance(p, dict):
            raise WordrecError(f"field {name!r}: not an object")
        for key in ("word", "close_to"):
            if p.get(key) not in known:
                raise WordrecError(f"field '{name}.{key}': not one of the model's words")
        if type(p.get("n_close")) is not int or p["n_close"] < 0:
            raise WordrecError(f"field '{name}.n_close': must be a whole number")
        _number(p.get("share"), f"{name}.share", 0.0, 1.0)


def _number(value, name: str, low: float, high: float, open_low: bool = False) -> None:
    # Only JSON numbers: strings, booleans and null are refused, as are NaN and infinities.
    ok = type(value) in (int, float) and np.isfinite(value) and low <= value <= high and not (open_low and value == low)
    if not ok:
        raise WordrecError(f"field {name!r}: must be a number from {low:g} to {high:g}")
