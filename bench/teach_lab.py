"""Lab: ways to teach a trained robot model its recorded false alarms (what became ``adapt --negatives``).

Run after ``bench/teach.py`` (its work folder holds the robot corpus, the
commands-only model and the fresh takes)::

    python bench/teach_lab.py WORK ALARMS_DIR

Prints, for the robot's test recordings: commands right and accepted, other
words rejected (and those accepted), non-speech accepted, for (A) the
calibration refitted with the false alarms among the unknown examples
(weighted 1, 10, 50 times), (B) the same with a mixture of the false alarms
mixed into the background model, (C) word models trained on the false
alarms (per word they were taken for, or one) that reject what they win,
(D) MAP copies of the word per group of false alarms, (E) MAP copies per
false alarm (what ``adapt --negatives`` does), and the margins (E2).
docs/rejection.md has the numbers.
"""
import dataclasses, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from wordrec.core import calibration as calib
from wordrec.core.confidence import DEFAULT_TERMS, evidence, spectral_variation
from wordrec.core.openset import background_scores, top_two, held_out_folds, CALIBRATION_ITERS
from wordrec.core.score import score
from wordrec.core.train import TrainConfig, fit_word, frame_moments
from wordrec.io import modelfile
from wordrec.jobs.featurise import extract_files, features_by_word, Failure
from wordrec.jobs.negatives import negative_features
from wordrec.jobs.training import fit_sets, held_out_evidence

W = Path(sys.argv[1]); R = W / "robot"
model = modelfile.load(W / "teach_commands.model")
cfg = model.features
cmds = list(model.words)
items = [(p, c) for c in cmds for p in sorted((R / "train" / c).glob("*.wav"))]
by_word, _, _ = features_by_word(items, cfg, jobs=2)
tcfg = TrainConfig(**{k: v for k, v in model.training["config"].items() if k in TrainConfig.__dataclass_fields__})
splits = held_out_folds(by_word, calib.fold_count(by_word))
fold_cfg = dataclasses.replace(tcfg, max_iter=min(tcfg.max_iter, CALIBRATION_ITERS))
folds = fit_sets([(tr, fold_cfg) for tr, _ in splits], cfg, jobs=2)
data, _ = held_out_evidence(folds, [te for _, te in splits], model.background, cfg, (), 0.1, jobs=2)
print("held out", {k: len(getattr(data, k)) for k in ("known", "unknown", "known_warped", "unknown_warped")})
base = calib.calibrate_both(data, 0.05, 0.1)
print("refit threshold", base.threshold, "stored", model.calibration.threshold)

tests = [(p, c) for c in cmds for p in sorted((R / "test" / c).glob("*.wav"))]
others = sorted((R / "test_other").glob("*.wav"))
nons = sorted((R / "test_nonspeech").glob("*.wav"))
def feats_of(paths):
    out = extract_files(paths, cfg, silence=True)
    return out
tf = feats_of([p for p, _ in tests]); of = feats_of(others); nf = feats_of(nons)
alarms_dir = Path(sys.argv[2])
neg, _ = negative_features(sorted(alarms_dir.glob("*.wav")), cfg)
neg_whole = [f for f in extract_files(sorted(alarms_dir.glob("*.wav")), cfg, labelled=True) if not isinstance(f, Failure)]

def conf_of(models, cal, feats, neg_models=None):
    ok = [i for i, f in enumerate(feats) if isinstance(f, np.ndarray)]
    F = [feats[i] for i in ok]
    S = score(models, F)
    best, l1, l2 = top_two(S)
    bg = background_scores(models.background, F, models.outlier)
    ev = evidence(l1, l2, bg, np.array([len(f) for f in F]), cal.terms)
    c = cal.confidence(ev, spectral_variation(F, cfg.n_ceps))
    if neg_models is not None:
        NS = score(neg_models, F)
        c = np.where(NS.max(axis=1) > l1, 0.0, c)
    out = [None] * len(feats)
    for k, i in enumerate(ok):
        out[i] = (models.words[best[k]], float(c[k]))
    return out

def report(name, models, cal, neg_models=None):
    t = conf_of(models, cal, tf, neg_models); o = conf_of(models, cal, of, neg_models); n = conf_of(models, cal, nf, neg_models)
    right = np.mean([a is not None and a[0] == c and a[1] >= cal.threshold for a, (_, c) in zip(t, tests)])
    acc_other = {p.stem: round(a[1], 3) for a, p in zip(o, others) if a is not None and a[1] >= cal.threshold}
    rej_other = 1 - len(acc_other) / len(others)
    ns = sum(a is not None and a[1] >= cal.threshold for a in n)
    minc = min(a[1] for a in t if a is not None)
    print(f"{name:40s} thr {cal.threshold:.3f} cmds right+acc {right:.3f} (min conf {minc:.3f}) other rejected {rej_other:.3f} {acc_other} nonspeech acc {ns}")

m0 = dataclasses.replace(model, calibration=dataclasses.replace(base, min_variation=model.calibration.min_variation, background_outlier=True))
report("stored model", model, model.calibration)
report("refit (no negatives)", m0, m0.calibration)
neg_rows = calib.raw_evidence(model, model.background, neg)
for k in (1, 10, 50):
    cal = calib.fit(data.known, np.vstack([data.unknown] + [neg_rows] * k), DEFAULT_TERMS, 0.05)
    cal = dataclasses.replace(cal, min_variation=model.calibration.min_variation, background_outlier=True)
    report(f"(A) refit, negatives x{k}", model, cal)
# (B) background + negatives GMM mixed in with weight w; stored rows' Lb shifted by T log(1-w)
for w in (0.1, 0.3):
    g_cfg = dataclasses.replace(tcfg, n_states=1, n_mix=8, topology="ergodic", max_iter=10, state_frames=0)
    mean, var = frame_moments(neg)
    g = fit_word("<g>", neg, g_cfg, g_cfg.var_floor * var)[0]
    bg = model.background
    lw = np.concatenate([np.log(1 - w) + bg.log_weights, np.log(w) + g.log_weights], axis=1)
    nb = dataclasses.replace(bg, weights=np.exp(lw), means=np.concatenate([bg.means, g.means], axis=1), variances=np.concatenate([bg.variances, g.variances], axis=1))
    m2 = dataclasses.replace(model, background=nb)
    def shifted(rows):
        r = rows.copy(); r[:, 2] += r[:, 3] * np.log(1 - w); return r
    nrows = calib.raw_evidence(m2, nb, neg)
    for k in (1, 10):
        cal = calib.fit(shifted(data.known), np.vstack([shifted(data.unknown)] + [nrows] * k), DEFAULT_TERMS, 0.05)
        cal = dataclasses.replace(cal, min_variation=model.calibration.min_variation, background_outlier=True)
        report(f"(B) bg w={w}, negatives x{k}", m2, cal)
# (C) negative models per confused word, trained on the whole alarms
S = score(model, neg_whole)
groups = {}
for f, j in zip(neg_whole, S.argmax(axis=1)):
    groups.setdefault(model.words[j], []).append(f)
print("groups", {k: len(v) for k, v in groups.items()})
_, var = frame_moments([s for w in by_word for s in by_word[w]])
from wordrec.core.model import ModelSet
for n_states, n_mix in ((8, 3), (8, 1), (4, 2)):
    c2 = dataclasses.replace(tcfg, n_states=n_states, n_mix=n_mix)
    nm = tuple(fit_word(f"<not {w}>", fs, c2, c2.var_floor * var)[0] for w, fs in sorted(groups.items()))
    neg_set = ModelSet(cfg, nm, outlier=model.outlier)
    report(f"(C) negative models {n_states}x{n_mix}", model, model.calibration, neg_set)
    one = (fit_word("<negatives>", neg_whole, c2, c2.var_floor * var)[0],)
    report(f"(C1) one negative model {n_states}x{n_mix}", model, model.calibration, ModelSet(cfg, one, outlier=model.outlier))

print("---- D: MAP shadows, G: negatives as runner-up in the margin")
from wordrec.core.adapt import AdaptConfig, adapt_supervised

def report_margin(name, neg_models):
    # negative models compete as runners-up: margin = (L1 - max(L2, Lneg)) / T
    def conf(feats):
        ok = [i for i, f in enumerate(feats) if isinstance(f, np.ndarray)]
        F = [feats[i] for i in ok]
        S = score(model, F); best, l1, l2 = top_two(S)
        NS = score(neg_models, F).max(axis=1)
        bg = background_scores(model.background, F, model.outlier)
        ev = evidence(l1, np.maximum(l2, NS), bg, np.array([len(f) for f in F]), model.calibration.terms)
        c = model.calibration.confidence(ev, spectral_variation(F, cfg.n_ceps))
        c = np.where(NS > l1, 0.0, c)
        out = [None] * len(feats)
        for k, i in enumerate(ok):
            out[i] = (model.words[best[k]], float(c[k]), float((l1[k] - NS[k]) / len(F[k])))
        return out
    thr = model.calibration.threshold
    t, o = conf(tf), conf(of)
    right = np.mean([a[0] == c and a[1] >= thr for a, (_, c) in zip(t, tests)])
    acc = {p.stem: round(a[1], 3) for a, p in zip(o, others) if a[1] >= thr}
    print(f"{name:40s} cmds right+acc {right:.3f} min conf {min(a[1] for a in t):.3f} min (L1-Lneg)/T cmds {min(a[2] for a in t):.2f}; "
          f"other rejected {1 - len(acc) / len(others):.3f} {acc}; alarms' (L1-Lneg)/T {[round(a[2], 2) for a, p in zip(o, others) if p.stem in ('top', 'ride', 'bright')]}")

for n_states, n_mix in ((8, 3), (8, 1)):
    c2 = dataclasses.replace(tcfg, n_states=n_states, n_mix=n_mix)
    nm = tuple(fit_word(f"<not {w}>", fs, c2, c2.var_floor * var)[0] for w, fs in sorted(groups.items()))
    report_margin(f"(G/C) trained {n_states}x{n_mix}", ModelSet(cfg, nm, outlier=model.outlier))
for prior in (0.5, 2.0, 10.0):
    shadows = []
    for w, fs in sorted(groups.items()):
        j = model.words.index(w)
        one = dataclasses.replace(model, models=(model.models[j],))
        ad = adapt_supervised(one, fs, [w] * len(fs), AdaptConfig(prior=prior).validated())
        shadows.append(dataclasses.replace(ad.models[0], word=f"<not {w}>"))
    sh = ModelSet(cfg, tuple(shadows), outlier=model.outlier)
    report("(D) MAP shadow prior %g (hard)" % prior, model, model.calibration, sh)
    report_margin("(G/D) MAP shadow prior %g" % prior, sh)

print("---- E: one MAP shadow per negative recording")
S = score(model, neg_whole)
for prior in (1.0, 3.0, 10.0):
    shadows = []
    for k, (f, j) in enumerate(zip(neg_whole, S.argmax(axis=1))):
        one = dataclasses.replace(model, models=(model.models[j],))
        ad = adapt_supervised(one, [f], [model.words[j]], AdaptConfig(prior=prior).validated())
        shadows.append(dataclasses.replace(ad.models[0], word=f"<not {model.words[j]} {k}>"))
    sh = ModelSet(cfg, tuple(shadows), outlier=model.outlier)
    report("(E) per-recording shadow prior %g" % prior, model, model.calibration, sh)

print("---- E2: (max shadow - L1)/T, commands vs test alarms vs other words")
def gap(sh, feats):
    ok = [f for f in feats if isinstance(f, np.ndarray)]
    Sw = score(model, ok); Ss = score(sh, ok)
    return (Ss.max(axis=1) - Sw.max(axis=1)) / np.array([len(f) for f in ok])
for prior in (0.25, 1.0):
    shadows = []
    for k, (f, j) in enumerate(zip(neg_whole, S.argmax(axis=1))):
        one = dataclasses.replace(model, models=(model.models[j],))
        ad = adapt_supervised(one, [f], [model.words[j]], AdaptConfig(prior=prior).validated())
        shadows.append(dataclasses.replace(ad.models[0], word=f"<not {model.words[j]} {k}>"))
    sh = ModelSet(cfg, tuple(shadows), outlier=model.outlier)
    g_cmd = gap(sh, tf); g_oth = gap(sh, of)
    names = [p.stem for p, f in zip(others, of) if isinstance(f, np.ndarray)]
    al = {n: round(float(g), 2) for n, g in zip(names, g_oth) if n in ("top", "ride", "bright")}
    print(f"prior {prior}: commands max {g_cmd.max():.2f} (sorted top 4 {np.round(np.sort(g_cmd)[-4:], 2)}), alarms {al}, other words min {np.min([g for n, g in zip(names, g_oth) if n not in al]):.2f}")
    # also the shadows' own training recordings
    print("   own recordings min", round(float(gap(sh, neg_whole).min()), 2))
