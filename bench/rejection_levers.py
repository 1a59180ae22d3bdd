#!/usr/bin/env python3
"""The calibration levers of issue 18, measured on cached models (training data only, but ``d07``/``robot`` for bounds).

    python bench/rejection_levers.py build        # train and score every set once (cached under $REJLAB_CACHE)
    python bench/rejection_levers.py default      # the default calibration: terms, unknown examples, folds, threshold rule
    python bench/rejection_levers.py newvoices    # the new-voices calibration: leave-one-speaker-out frontier
    python bench/rejection_levers.py oracle       # bounds: rules fitted on the test answers themselves
    python bench/rejection_levers.py negatives    # negatives: calibration examples, garbage models, background model

Sets (see :mod:`rejection_lab`): ``loso_<speaker>``, ``dev07``, ``dev29``,
``robotdev`` and ``robotdev_neg`` are training data only; the default
choices were made on them.  ``oracle`` fits on test answers on purpose, to
show what no calibration can do.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys

import numpy as np

import rejection_lab as L
import rejection_terms as T
from wordrec.core.confidence import fit_logistic

LOSO = [f"loso_{s}" for s in L.SPEAKERS]
DEV = ["dev07", "dev29"]


def _sig(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def calibrate(name, cols, known_warps, unknown, rule, folds=2, threshold_warp=None):
    """Fit on held-out right answers (formants warped by each of ``known_warps``) against
    ``unknown`` ((kind, warp) pairs); threshold by ``rule`` ("fr:x", "eer" or "p:x") on the
    known examples at ``threshold_warp`` (default: the first of ``known_warps``)."""
    def known(w):
        h = T.held_out_terms(name, warp=w, folds=folds)
        e = T.columns(h["in"], cols)[h["in"]["best"] == h["in"]["truth"]]
        return e[np.all(np.isfinite(e), axis=1)]

    ein = np.vstack([known(w) for w in known_warps])
    eout = np.vstack([T.columns(T.held_out_terms(name, warp=w, folds=folds)[k], cols) for k, w in unknown])
    eout = eout[np.all(np.isfinite(eout), axis=1)]
    coef, b = fit_logistic(np.vstack([ein, eout]), np.r_[np.ones(len(ein)), np.zeros(len(eout))])
    tin = known(threshold_warp if threshold_warp is not None else known_warps[0])
    ci, co = _sig(tin @ coef + b), _sig(eout @ coef + b)
    kind, _, val = rule.partition(":")
    if kind == "fr":
        thr = float(np.quantile(ci, float(val), method="lower"))
    elif kind == "p":
        thr = float(val)
    else:  # the held-out equal error point
        ts = np.unique(np.r_[ci, co])
        thr = float(ts[np.argmin([abs((ci < t).mean() - (co >= t).mean()) for t in ts])])
    return coef, b, thr


def measure(sets, cols, known_warps, unknown, rule, robot_folds=5, threshold_warp=None) -> dict:
    out, loso = {}, [s for s in sets if s.startswith("loso")]
    for s in sets:
        cal = calibrate(s, cols, known_warps, unknown, rule, robot_folds if s.startswith("robot") else 2, threshold_warp)
        r, ok, lab, words = T.test_terms(s)
        out[s] = T.metrics(s, T.confidences(cal, T.columns(r, cols)), r["best"], ok, lab, words, cal[2])
    res = {}
    if loso:
        res["LOSO right&acc"] = np.mean([out[s]["right_acc"] for s in loso])
        res["LOSO wrong&acc"] = np.mean([out[s]["wrong_acc"] for s in loso])
    for s in sets:
        if s in loso:
            continue
        m = out[s]
        if s.startswith("robot"):
            res[f"{s} unknown rejected"] = 1 - m["fa_unk"]
            res[f"{s} commands right&acc"] = m["right_acc"]
        else:
            res.update({f"{s} FR": m["fr"], f"{s} FA": m["fa_unk"], f"{s} EER": m["eer"]})
    return res


def _line(label, res):
    print(f"{label:70s} " + "  ".join(f"{k}={v:.3f}" for k, v in res.items()), flush=True)


def build() -> None:
    for name in LOSO + DEV + ["d07", "robotdev", "robot", "robotdev_neg"]:
        L.trained(name)
        T.test_terms(name)
        for w in (0.0, 0.1) if not name.startswith("robot") else (0.0, 0.1):
            T.held_out_terms(name, warp=w)
        print("built", name, flush=True)
    for w in (0.05, 0.15):
        for name in LOSO:
            T.held_out_terms(name, warp=w)
    for name in ("robotdev", "robot", "robotdev_neg"):
        for k in (5, 7):
            for w in (0.0, 0.1):
                T.held_out_terms(name, warp=w, folds=k)


def default() -> None:
    spl = [("oov", 0.0), ("splice", 0.0)]
    print("== terms x unknown examples x threshold rule (no warp), dev sets (robotdev: 5 folds)")
    for cols in (["llr", "margin"], ["llr", "margin", "loop"], ["llr", "margin", "seg_max"], ["llr", "margin", "loop", "seg_max", "dur"], ["margin"]):
        for unknown in ([("oov", 0.0)], spl, spl + [("reverse", 0.0)], spl + [("reverse", 0.0), ("cut", 0.0)]):
            for rule in ("fr:0.02", "fr:0.05", "eer", "p:0.5"):
                _line(f"{'+'.join(cols)} | {'+'.join(k for k, _ in unknown)} | {rule}", measure(DEV + ["robotdev"], cols, [0.0], unknown, rule))
    print("== speaker warp of the known (and unknown) examples, llr+margin, fr:0.05 and fr:0.02")
    for w in (0.0, 0.05, 0.1):
        for unknown in ([("oov", 0.0), ("splice", 0.0)], [("oov", w), ("splice", w)]):
            for rule in ("fr:0.02", "fr:0.05"):
                _line(f"warp {w} | {'+'.join(k + str(v) for k, v in unknown)} | {rule}",
                      measure(LOSO + DEV + ["robotdev"], ["llr", "margin"], [w], unknown, rule))
    print("== calibration folds on the robot's training takes (llr+margin, oov+splice)")
    for k in (2, 5, 7):
        for rule in ("fr:0.02", "fr:0.05", "eer"):
            _line(f"{k} folds | {rule}", measure(["robotdev"], ["llr", "margin"], [0.0], spl, rule, robot_folds=k))


def newvoices() -> None:
    print("== leave-one-speaker-out: threshold at fr of the warped held-out right answers")
    for cols in (["llr", "margin"], ["margin", "loop"], ["margin", "loop", "seg_max"], ["loop"], ["margin"]):
        for fit_w, unknown in ((0.0, [("oov", 0.0), ("splice", 0.0)]), (0.1, [("oov", 0.1)]), (0.1, [("oov", 0.1), ("splice", 0.1)])):
            line = []
            for fr in (0.01, 0.015, 0.02, 0.0225, 0.025, 0.03):
                r = measure(LOSO, cols, [fit_w], unknown, f"fr:{fr}", threshold_warp=0.1)
                line.append(f"fr{fr}:{r['LOSO right&acc']:.3f}/{r['LOSO wrong&acc']:.3f}")
            print(f"{'+'.join(cols):22s} fit warp {fit_w} {'+'.join(k for k, _ in unknown):12s} " + " ".join(line), flush=True)
    print("== the same calibration (margin, fr 0.0225) on known voices: what --new-voices costs")
    _line("margin | oov0.1 | fr:0.0225", measure(DEV + ["robotdev"], ["margin"], [0.1], [("oov", 0.1)], "fr:0.0225"))


def _answers(names, cols):
    """Test evidence of LOSO right / wrong answers and dev07 / d07 unknown words."""
    right, wrong = [], []
    for s in LOSO:
        r, ok, lab, words = T.test_terms(s)
        lab = np.array(lab)[ok]
        truth = np.array([words.index(w) for w in lab])
        c = T.columns(r, cols)
        right.append(c[r["best"] == truth])
        wrong.append(c[r["best"] != truth])
    groups = {"loso right": np.vstack(right), "loso wrong": np.vstack(wrong)}
    for n in names:
        r, ok, lab, words = T.test_terms(n)
        lab = np.array(lab)[ok]
        groups[f"{n} unknown"] = T.columns(r, cols)[lab == L.UNK]
    return groups


def oracle() -> None:
    cols = ["llr", "margin", "loop", "seg_bg", "seg_max", "dur", "bgpf", "maxpf", "loop_other", "seg_other", "frac_own"]
    g = _answers(["dev07", "d07"], cols)
    print("== best linear rule fitted on the answers themselves: new voices' right answers rejected at 10 % of unknown digits accepted")
    for neg in ("dev07 unknown", "d07 unknown"):
        pos, nn = g["loso right"], g[neg]
        for k in (2, 3, 4):
            for combo in itertools.combinations(range(len(cols)), k):
                if k > 2 and 0 not in combo:
                    continue
                X = np.vstack([pos[:, combo], nn[:, combo]])
                ok = np.all(np.isfinite(X), axis=1)
                y = np.r_[np.ones(len(pos)), np.zeros(len(nn))]
                w, b = fit_logistic(X[ok], y[ok])
                sp, sn = pos[:, combo] @ w + b, nn[:, combo] @ w + b
                print(f"{neg:14s} {'+'.join(cols[i] for i in combo):40s} FR(new voices) {np.mean(sp < np.quantile(sn, 0.9)):.3f}")
    print("== leave-one-speaker-out alone: right and accepted at 6 % wrong and accepted")
    pos, neg = g["loso right"], g["loso wrong"]
    n = len(pos) + len(neg)
    for combo in ((0, 1), (0, 1, 2), (1,), (1, 2)):
        X = np.vstack([pos[:, combo], neg[:, combo]])
        w, b = fit_logistic(X, np.r_[np.ones(len(pos)), np.zeros(len(neg))])
        t = np.sort(neg[:, combo] @ w + b)[::-1][int(0.06 * n)]
        print(f"{'+'.join(cols[i] for i in combo):20s} right&acc {np.sum(pos[:, combo] @ w + b >= t) / n:.3f}")


def negatives() -> None:
    from wordrec.core.calibration import evidence_terms, fit, raw_evidence, scored_rows
    from wordrec.core import impostors
    from wordrec.core.openset import background_problem
    from wordrec.core.score import score
    from wordrec.core.train import TrainConfig
    from wordrec.jobs.training import fit_sets

    t = L.trained("robotdev_neg", folds=5)
    fcfg, bg = t["fcfg"], t["models"].background
    unk = t["negatives"].get("_unknown_", [])
    noise = [p for f in t["negatives"].get("_background_noise_", []) for p in impostors.pieces(f, fcfg)]
    feats, lab, _ = L.test_features("robotdev_neg", fcfg)
    ok = np.array([f is not None for f in feats])
    fs = [f for f in feats if f is not None]
    words = t["models"].words
    for bg_label, background in (("words", bg), ("words+negatives", None)):
        if background is None:
            data = dict(t["by_word"], negatives=unk + noise)
            background = fit_sets([background_problem(data, TrainConfig())], fcfg, jobs=2)[0].models[0]
        known, base, every, dealt = [], [], [], []
        for k, (fm, test) in enumerate(zip(t["folds"], t["fold_tests"])):
            kn, others = scored_rows(fm, background, [f for _, f in test], np.array([j for j, _ in test]))[:2]
            known.append(kn)
            base += [others, raw_evidence(fm, background, impostors.make(test, fcfg, k))]
            every.append(raw_evidence(fm, background, unk + noise))
            dealt.append(raw_evidence(fm, background, (unk + noise)[k :: len(t["folds"])]))
        test_raw = raw_evidence(t["models"], background, fs)
        for label, extra in (("no negatives", []), ("negatives, every fold", every), ("negatives dealt to folds", dealt)):
            cal = fit(np.vstack(known), np.vstack(base + extra), ("llr", "margin"), 0.05)
            c = cal.confidence(evidence_terms(test_raw, cal.terms))
            m = T.metrics("robotdev_neg", c, test_raw[:, 4].astype(int), ok, lab, words, cal.threshold)
            _line(f"background {bg_label} | {label}", {"unknown rejected": 1 - m["fa_unk"], "commands right&acc": m["right_acc"], "EER": m["eer"]})
        if bg_label == "words":
            base_cal = fit(np.vstack(known), np.vstack(base + dealt), ("llr", "margin"), 0.05)
            conf = base_cal.confidence(evidence_terms(test_raw, base_cal.terms))
            for kind, cfg in (("1-state 32-Gaussian", dict(n_states=1, n_mix=32, topology="ergodic")),
                              ("8-state left-to-right x3", {}), ("8-state ergodic x4", dict(n_mix=4, topology="ergodic"))):
                filler = fit_sets([({"<filler>": unk + noise}, dataclasses.replace(TrainConfig(), noise_copies=0, **cfg))], fcfg, jobs=2)[0]
                c2 = np.where(score(filler, fs)[:, 0] > test_raw[:, 0], 0.0, conf)
                m = T.metrics("robotdev_neg", c2, test_raw[:, 4].astype(int), ok, lab, words, base_cal.threshold)
                _line(f"garbage model {kind} competing with the words", {"unknown rejected": 1 - m["fa_unk"], "commands right&acc": m["right_acc"]})


if __name__ == "__main__":
    {"build": build, "default": default, "newvoices": newvoices, "oracle": oracle, "negatives": negatives}[sys.argv[1]]()
