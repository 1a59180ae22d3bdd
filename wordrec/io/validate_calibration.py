"""Checks on a model file's ``calibration``, which may be hostile: every field of every operating point.

A calibration is the default operating point and, optionally, inside it
``new_voices`` (see :mod:`wordrec.core.calibration`).  Files written before
the terms, the expected rates or the new-voices calibration existed load as
they always did: the terms are ``llr`` and ``margin``, the rates unknown.
"""

from __future__ import annotations

from wordrec.core.confidence import DEFAULT_TERMS, TERMS, Calibration
from wordrec.errors import WordrecError
from wordrec.io.json_numbers import number

_REQUIRED = ("coef", "intercept", "threshold", "target_false_rejection")


def calibration_from_dict(d, where: str = "calibration") -> Calibration:
    """Read a model file's ``calibration`` object; raise WordrecError naming the bad field.

    Every number must be a JSON number (not a string or a boolean)
    within ``MAX_MAGNITUDE`` of zero, so that the confidence cannot
    overflow.  ``where``: the field's name in messages.
    """
    if not isinstance(d, dict):
        raise WordrecError(f"field {where!r}: not an object")
    for key in _REQUIRED:
        if key not in d:
            raise WordrecError(f"field '{where}.{key}': missing")
    terms = d.get("terms", list(DEFAULT_TERMS))
    if (not isinstance(terms, list) or not terms or not all(isinstance(t, str) and t in TERMS for t in terms)
            or len(set(terms)) != len(terms)):
        raise WordrecError(f"field '{where}.terms': must be a list of distinct names from {list(TERMS)}")
    if not isinstance(d["coef"], list) or len(d["coef"]) != len(terms):
        what = {1: "one number", 2: "two numbers"}.get(len(terms), f"{len(terms)} numbers")
        raise WordrecError(f"field '{where}.coef': must be a list of {what}")
    coef = tuple(number(c, f"{where}.coef[{i}]") for i, c in enumerate(d["coef"]))
    intercept = number(d["intercept"], f"{where}.intercept")
    threshold = number(d["threshold"], f"{where}.threshold", 0.0, 1.0)
    target = number(d["target_false_rejection"], f"{where}.target_false_rejection", 0.0, 1.0)
    # Files written before the steady-sound check have no floor, and
    # those written before warped calibration none of that.
    min_variation = number(d.get("min_variation", 0.0), f"{where}.min_variation", 0.0)
    speaker_warp = number(d.get("speaker_warp", 0.0), f"{where}.speaker_warp", 0.0, 0.5, below=True)
    background_outlier = d.get("background_outlier", False)
    if not isinstance(background_outlier, bool):
        raise WordrecError(f"field '{where}.background_outlier': must be true or false")
    expected = [
        None if d.get(k) is None else number(d[k], f"{where}.{k}", 0.0, 1.0)
        for k in ("expected_false_rejection", "expected_false_acceptance")
    ]
    new_voices = None
    if d.get("new_voices") is not None:
        if where != "calibration":
            raise WordrecError(f"field '{where}.new_voices': not allowed here (one level of operating points)")
        new_voices = calibration_from_dict(d["new_voices"], f"{where}.new_voices")
    return Calibration(coef, intercept, threshold, target, min_variation, speaker_warp, background_outlier,
                       tuple(terms), *expected, new_voices)
