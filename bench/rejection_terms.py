"""Evidence terms, feature-domain impostors and calibration metrics for the rejection lab.

Companion of :mod:`rejection_lab` (cached sets and models) and
:mod:`rejection_levers` (the experiments).  The impostors here are the
lab's own (all three kinds, one random stream); ``wordrec.core.impostors`` is
the product's version of the kept kind (splices).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from rejection_lab import CACHE, NON, UNK, test_features, trained


# ------------------------------------------------------------------ evidence

def frame_densities(models, feats):
    """Per recording: ``(log_b (T, S_all) of every state of every word, bounds (W+1,), bg (T,))``."""
    from wordrec.core.gmm import design, mixture_log_densities, mixture_logsumexp

    def _emissions(wm, XX, into):  # every state's log density of every frame (no chunking: a lab tool)
        log_comp = mixture_log_densities(XX, wm.log_weights, wm.means, wm.variances)
        into[:], _ = mixture_logsumexp(log_comp, with_resp=False)

    out = []
    sizes = [wm.n_states for wm in models.models]
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    if not feats:
        return out, bounds
    XX = design(np.concatenate(feats, axis=0))
    log_b = np.empty((bounds[-1], XX.shape[1]))
    for k, wm in enumerate(models.models):
        _emissions(wm, XX, log_b[bounds[k] : bounds[k + 1]])
    bg = np.empty((1, XX.shape[1]))
    _emissions(models.background, XX, bg)
    if models.outlier is not None:
        od = models.outlier.log_density(XX)
        models.outlier.mix_into(log_b, XX, od)
        models.outlier.mix_into(bg, XX, od)
    cuts = np.cumsum([0] + [len(f) for f in feats])
    for a, b in zip(cuts[:-1], cuts[1:]):
        out.append((log_b[:, a:b].T, bg[0, a:b]))
    return out, bounds


def raw_terms(models, feats, exclude=None, typical=None):
    """Raw evidence of each recording against ``models`` (all words, or all but ``exclude[i]``).

    Returns a dict of arrays (n,): ``best`` (index), ``L1``, ``L2``, ``Lb``,
    ``T``, ``Lmax`` (sum over frames of the best state of any word),
    ``seg_bg`` and ``seg_max`` (the worst state of the best word's Viterbi
    path: mean over its frames of log b - bg, of log b - frame max),
    ``dur`` (|log(T / typical frames of the best word)|).
    """
    from wordrec.core.hmm import viterbi
    from wordrec.core.openset import top_two
    from wordrec.core.score import score

    n = len(feats)
    S = score(models, feats)
    best, L1, L2 = top_two(S, exclude)
    dens, bounds = frame_densities(models, feats)
    T = np.array([len(f) for f in feats], float)
    Lb = np.array([d[1].sum() for d in dens])
    Lmax = np.array([d[0].max(axis=1).sum() for d in dens])
    if exclude is not None:
        # the frame max over the words allowed
        Lmax = np.array([np.delete(d[0], np.arange(bounds[e], bounds[e + 1]), axis=1).max(axis=1).sum()
                         for d, e in zip(dens, exclude)])
    seg_bg = np.full(n, np.nan)
    seg_max = np.full(n, np.nan)
    seg_other = np.full(n, np.nan)
    Lother = np.full(n, np.nan)
    frac_own = np.full(n, np.nan)
    for i, (lb, bg) in enumerate(dens):
        j = best[i]
        if not np.isfinite(L1[i]):
            continue
        wm = models.models[j]
        own = lb[:, bounds[j] : bounds[j + 1]]
        path, _ = viterbi(own, wm.log_start, wm.log_trans, wm.log_end)
        fmax = lb.max(axis=1) if exclude is None else np.delete(lb, np.arange(bounds[exclude[i]], bounds[exclude[i] + 1]), axis=1).max(axis=1)
        v = own[np.arange(len(path)), path]
        drop = np.arange(bounds[j], bounds[j + 1])
        if exclude is not None:
            drop = np.concatenate([drop, np.arange(bounds[exclude[i]], bounds[exclude[i] + 1])])
        omax = np.delete(lb, drop, axis=1).max(axis=1) if lb.shape[1] > len(drop) else np.full(len(lb), -1e9)
        Lother[i] = omax.sum()
        frac_own[i] = np.mean(own.max(axis=1) >= omax)
        sb, sm, so = [], [], []
        for s in np.unique(path):
            m = path == s
            sb.append(np.mean(v[m] - bg[m]))
            sm.append(np.mean(v[m] - fmax[m]))
            so.append(np.mean(v[m] - omax[m]))
        seg_bg[i], seg_max[i], seg_other[i] = min(sb), min(sm), min(so)
    if typical is None:
        typical = np.array([models.diagnostics["words"][w]["n_frames"] /
                            max(1, models.diagnostics["words"][w]["n_recordings"] + models.diagnostics["words"][w].get("n_noisy_copies", 0))
                            for w in models.words])
    dur = np.abs(np.log(T / typical[best]))
    return dict(best=best, L1=L1, L2=L2, Lb=Lb, T=T, Lmax=Lmax, seg_bg=seg_bg, seg_max=seg_max, dur=dur,
                Lother=Lother, seg_other=seg_other, frac_own=frac_own)


def columns(r: dict, names) -> np.ndarray:
    """Evidence columns by name from :func:`raw_terms`' output: ``(n, len(names))``."""
    T = np.maximum(r["T"], 1)
    cols = {
        "llr": (r["L1"] - r["Lb"]) / T,
        "margin": np.where(np.isfinite(r["L2"]), (r["L1"] - np.where(np.isfinite(r["L2"]), r["L2"], 0)) / T, np.abs((r["L1"] - r["Lb"]) / T)),
        "loop": (r["L1"] - r["Lmax"]) / T,
        "seg_bg": r["seg_bg"],
        "seg_max": r["seg_max"],
        "dur": r["dur"],
        "logT": np.log(T),
        "bgpf": r["Lb"] / T,
        "loop_other": (r["L1"] - r["Lother"]) / T if "Lother" in r else np.full(len(T), np.nan),
        "seg_other": r.get("seg_other", np.full(len(T), np.nan)),
        "frac_own": r.get("frac_own", np.full(len(T), np.nan)),
        "maxpf": r["Lmax"] / T,
    }
    return np.stack([cols[k] for k in names], axis=1)


# ----------------------------------------------------------------- impostors

def _raw(f: np.ndarray) -> np.ndarray:
    """Features with the per-utterance half mean added back (columns 1:); column 0 as is."""
    x = f.copy()
    x[:, 1:] += f[:, 1:].mean(axis=0)
    return x


def _renorm(x: np.ndarray, weight: float = 0.5) -> np.ndarray:
    """The inverse of :func:`_raw` for a new utterance made of raw frames."""
    y = x.copy()
    y[:, 1:] -= weight * x[:, 1:].mean(axis=0)
    y[:, 0] -= y[:, 0].max()
    return y


def reversed_feats(f: np.ndarray, n_ceps: int = 13) -> np.ndarray:
    """The features of the recording played backwards (deltas change sign, delta-deltas do not)."""
    x = f[::-1].copy()
    x[:, n_ceps : 2 * n_ceps] *= -1
    return x


def cut_feats(f: np.ndarray, keep: float, head: bool) -> np.ndarray:
    """The first (``head``) or last ``keep`` share of a recording, as its own utterance."""
    n = max(3, int(round(keep * len(f))))
    x = _raw(f)
    return _renorm(x[:n] if head else x[-n:])


def splice_feats(fa: np.ndarray, fb: np.ndarray, pa: float, pb: float) -> np.ndarray:
    """The first ``pa`` of recording a followed by the last ``1 - pb`` of recording b."""
    a, b = _raw(fa), _raw(fb)
    return _renorm(np.concatenate([a[: max(2, int(pa * len(a)))], b[int(pb * len(b)) :]], axis=0))


def impostors(test, kinds, seed: int = 0):
    """Impostor recordings made from one fold's held-out ``(word index, feats)``.

    ``kinds``: any of ``"reverse"``, ``"cut"``, ``"splice"``.  Returns a
    list of ``(kind, feats)``.
    """
    rng = np.random.default_rng(seed)
    out = []
    by = {}
    for j, f in test:
        by.setdefault(j, []).append(f)
    for i, (j, f) in enumerate(test):
        if "reverse" in kinds:
            out.append(("reverse", reversed_feats(f)))
        if "cut" in kinds:
            out.append(("cut", cut_feats(f, rng.uniform(0.4, 0.7), bool(rng.random() < 0.5))))
        if "splice" in kinds and len(by) > 1:
            others = [k for k in by if k != j]
            k = others[rng.integers(len(others))]
            g = by[k][rng.integers(len(by[k]))]
            out.append(("splice", splice_feats(f, g, rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.65))))
    return out


# ------------------------------------------------------------- experiments

def cat_terms(parts: list) -> dict:
    parts = [p for p in parts if p is not None and len(p["T"])]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}


def _save_terms(path: Path, terms: dict) -> None:
    np.savez(path, **terms)


def _load_terms(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def held_out_terms(name: str, warp: float = 0.1, kinds=("reverse", "cut", "splice"), folds: int = 2) -> dict:
    """Raw terms of the calibration folds' held-out recordings (see :func:`raw_terms`).

    Returns ``{"in": terms of every held-out recording against all words
    (with ``truth``), "oov": against all words but its own, kind: terms of
    that kind of impostor}``; every held-out recording (and impostor) is
    warped by ``1 + warp`` or ``1 - warp`` in turn.
    """
    from wordrec.core.warp import frequency_warp

    t = trained(name, folds=folds)
    d = CACHE / name / f"held_w{warp}" / f"k{folds}"
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    wanted = ["in", "oov", *kinds]
    if all((d / f"{k}.npz").exists() for k in wanted):
        return {k: _load_terms(d / f"{k}.npz") for k in wanted}
    parts = {k: [] for k in wanted}
    factors = (1.0 + warp, 1.0 - warp)
    for k, (fm, test) in enumerate(zip(t["folds"], t["fold_tests"])):
        fm = dataclasses.replace(fm, background=t["models"].background)

        def warped(fs):
            return [frequency_warp(f, t["fcfg"], factors[i % 2]) if warp else f for i, f in enumerate(fs)]

        feats = warped([f for _, f in test])
        truth = np.array([j for j, _ in test])
        r = raw_terms(fm, feats)
        r["truth"] = truth
        parts["in"].append(r)
        r = raw_terms(fm, feats, exclude=truth)
        r["truth"] = truth
        parts["oov"].append(r)
        imps = impostors(test, kinds, seed=k)
        for kind in kinds:
            fs = warped([f for kk, f in imps if kk == kind])
            if fs:
                parts[kind].append(raw_terms(fm, fs))
    for k in wanted:
        out[k] = cat_terms(parts[k])
        _save_terms(d / f"{k}.npz", out[k])
    return out


def test_terms(name: str) -> tuple[dict, np.ndarray, list, list]:
    """Raw terms of a set's test recordings by its final models; ``(terms, ok mask, labels, words)``."""
    t = trained(name)
    feats, labels, _ = test_features(name, t["fcfg"])
    ok = np.array([f is not None for f in feats])
    path = CACHE / name / "test_terms.npz"
    if path.exists():
        r = _load_terms(path)
    else:
        r = raw_terms(t["models"], [f for f in feats if f is not None])
        _save_terms(path, r)
    return r, ok, labels, t["models"].words


def fit_calibration(cols, ev_in: np.ndarray, ev_out: np.ndarray, fr: float = 0.02, l2: float = 1e-3):
    """Logistic regression on the columns; threshold at ``fr`` of ``ev_in``.  Returns (coef, intercept, threshold)."""
    from wordrec.core.confidence import fit_logistic

    ev_in = ev_in[np.all(np.isfinite(ev_in), axis=1)]
    ev_out = ev_out[np.all(np.isfinite(ev_out), axis=1)]
    X = np.vstack([ev_in, ev_out])
    y = np.concatenate([np.ones(len(ev_in)), np.zeros(len(ev_out))])
    coef, b = fit_logistic(X, y, l2=l2)
    conf = _sigmoid(ev_in @ coef + b)
    return coef, b, float(np.quantile(conf, fr, method="lower"))


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def confidences(cal, ev: np.ndarray) -> np.ndarray:
    coef, b, _ = cal
    ok = np.all(np.isfinite(ev), axis=1)
    return np.where(ok, _sigmoid(np.where(ok[:, None], ev, 0) @ coef + b), 0.0)


def metrics(name: str, conf_ok: np.ndarray, best_ok: np.ndarray, ok: np.ndarray, labels: list, words: list, threshold: float) -> dict:
    """Rates for a set from the confidences and best words of its readable test recordings."""
    from wordrec.core.confidence import error_rates

    conf = np.zeros(len(labels))
    conf[ok] = conf_ok
    best = np.full(len(labels), -1)
    best[ok] = best_ok
    acc = conf >= threshold
    lab = np.array(labels)
    inv = np.array([w in words for w in labels])
    right = inv & (best == np.array([words.index(w) if w in words else -2 for w in labels]))
    unk, non = lab == UNK, lab == NON
    m = {
        "right_acc": float((acc & right)[inv].mean()) if inv.any() else None,
        "wrong_acc": float((acc & ~right)[inv].mean()) if inv.any() else None,
        "fr": float((~acc)[inv].mean()) if inv.any() else None,
        "fa_unk": float(acc[unk].mean()) if unk.any() else None,
        "fa_non": float(acc[non].mean()) if non.any() else None,
        "unk_099": float((conf[unk] >= 0.99).mean()) if unk.any() else None,
    }
    if unk.any():
        m["eer"] = error_rates(conf[inv], conf[unk])["eer"]
    return m
