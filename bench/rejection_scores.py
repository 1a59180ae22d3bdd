"""Scores of the rejection harness (bench/rejection.py): EER, non-speech signals, reliability, the bars of issue 18."""

from __future__ import annotations

import numpy as np

#: Confidence bins of the reliability table (lower edges; the last bin is [0.99, 1]).
BINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99)


def eer(conf_in, conf_out) -> float:
    """Equal error rate of accepting at ``confidence >= t`` (mean of FR and FA where they cross)."""
    conf_in, conf_out = np.asarray(conf_in, float), np.asarray(conf_out, float)
    ts = np.unique(np.concatenate([conf_in, conf_out, [np.inf]]))
    fr = np.array([(conf_in < t).mean() for t in ts])
    fa = np.array([(conf_out >= t).mean() for t in ts])
    k = int(np.argmin(np.abs(fr - fa)))
    return float((fr[k] + fa[k]) / 2)


def nonspeech_signals(rate: int, rng: np.random.Generator) -> dict:
    """One second each of noises, tones, clicks, near silence, chords and noise bursts."""
    n = rate
    t = np.arange(n) / rate
    white = rng.standard_normal(n)
    pink = np.cumsum(rng.standard_normal(n))
    pink = pink - np.convolve(pink, np.ones(rate // 40) / (rate // 40), mode="same")
    out = {}
    for level in (0.01, 0.1, 0.5):
        out[f"white_{level}"] = level * white / np.abs(white).max()
        out[f"pink_{level}"] = level * pink / np.abs(pink).max()
    for f in (100, 440, 1000, 2500):
        out[f"tone_{f}"] = 0.3 * np.sin(2 * np.pi * f * t)
    clicks = np.zeros(n)
    clicks[rng.integers(0, n, 12)] = 0.9
    out["clicks"] = clicks + 0.001 * rng.standard_normal(n)
    out["silence"] = 0.0005 * rng.standard_normal(n)
    out["digital_silence"] = np.zeros(n)
    for k, root_hz in enumerate((220, 262, 330)):
        chord = sum(np.sin(2 * np.pi * root_hz * r * t) for r in (1, 1.26, 1.5))
        out[f"chord_{k}"] = 0.2 * chord * np.minimum(1, 10 * t) * np.exp(-1.5 * t)
    for k, level in enumerate((0.05, 0.3)):
        gate = (np.floor(t / 0.1) % 2 == 0).astype(float)
        out[f"bursts_{k}"] = level * rng.standard_normal(n) * gate + 1e-4 * rng.standard_normal(n)
    return out


def reliability(held: list) -> list[dict]:
    conf = np.array([c for c, _ in held])
    right = np.array([r for _, r in held], dtype=float)
    rows = []
    for k, lo in enumerate(BINS):
        hi = BINS[k + 1] if k + 1 < len(BINS) else 1.0 + 1e-9
        sel = (conf >= lo) & (conf < hi)
        rows.append({"bin": f"[{lo:.2f}, {min(hi, 1.0):.2f}{']' if hi > 1 else ')'}", "n": int(sel.sum()),
                     "mean_confidence": float(conf[sel].mean()) if sel.any() else None,
                     "share_right": float(right[sel].mean()) if sel.any() else None})
    return rows


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return x.item()
    return x


def bars(r: dict) -> dict:
    """Each bar of the issue: pass or not."""
    out = {}
    if "d07" in r:
        d = r["d07"]
        out["d07 FR <= 3 %"] = d["false_rejection"] <= 0.03
        out["d07 FA <= 10 %"] = d["false_acceptance"] <= 0.10
        out["d07 EER <= 1.5 %"] = d["eer"] <= 0.015
    if "loso" in r:
        p = r["loso"]["pooled"]
        out["LOSO right and accepted >= 80 %"] = p["right_and_accepted"] >= 0.80
        out["LOSO wrong and accepted <= 6 %"] = p["wrong_and_accepted"] <= 0.06
    if "loso_new_voices" in r:
        p = r["loso_new_voices"]["pooled"]
        out["LOSO --new-voices: right and accepted >= 80 %"] = p["right_and_accepted"] >= 0.80
        out["LOSO --new-voices: wrong and accepted <= 6 %"] = p["wrong_and_accepted"] <= 0.06
    if "robot" in r:
        a, b = r["robot"]["commands_only"], r["robot"]["with_negatives"]
        out["robot commands right and accepted >= 97 %"] = a["commands_right_and_accepted"] >= 0.97
        out["robot other words rejected >= 90 %"] = a["other_rejected"] >= 0.90
        out["robot non-speech all rejected/silence"] = a["nonspeech_rejected_or_silence"] == 1.0 and b["nonspeech_rejected_or_silence"] == 1.0
        out["robot with _unknown_: other words rejected >= 98 %"] = b["other_rejected"] >= 0.98
        out["robot with _unknown_: commands right and accepted >= 97 %"] = b["commands_right_and_accepted"] >= 0.97
    if "calibration" in r:
        c = r["calibration"]
        out["confidence >= 0.9: >= 90 % right"] = c["share_right_at_0.9"] is not None and c["share_right_at_0.9"] >= 0.9
        out["unknown words with confidence >= 0.99 <= 5 %"] = c["unknown_at_0.99"] <= 0.05
    if "nonspeech" in r:
        # Noise bursts are not in the list (README: no rule here tells
        # them from speech); they are reported, not a bar.
        out["non-speech 100 % rejected/silence"] = all(
            all(k.startswith("bursts") for k in v["accepted"]) for v in r["nonspeech"].values()
        )
    return out
