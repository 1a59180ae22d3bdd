"""Choosing the prior and margin of ``adapt --negatives`` on training data only.

The robot corpus's training takes: commands' takes 0-6 train a model
(``wordrec train`` on them: MODEL), takes 7-9 are dev commands; the
``_unknown_`` words that model accepts are the false alarms, take 0
recorded (taught), take 1 fresh.  Prints, per prior, the margins of the
nearest copy over the dev commands, the recorded and the fresh false alarms,
and per margin what is kept and rejected::

    python bench/teach_dev.py WORK      # WORK/robot: the corpus of bench/robot.py
"""
import dataclasses, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from wordrec.core.adapt import AdaptConfig, adapt_supervised
from wordrec.core.model import ModelSet
from wordrec.core.openset import confidences
from wordrec.core.score import score
from wordrec.io import modelfile
from wordrec.jobs.featurise import extract_files

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rejection import train  # noqa: E402

W = Path(sys.argv[1]); R = W / "robot"
commands = sorted(d.name for d in (R / "train").iterdir() if d.is_dir() and not d.name.startswith("_"))
manifest = W / "teach_dev.tsv"
manifest.write_text("".join(f"{p}\t{c}\n" for c in commands for p in sorted((R / "train" / c).glob("*.wav")) if int(p.stem[-2:]) < 7))
train(manifest, W / "teach_dev.model", [])
model = modelfile.load(W / "teach_dev.model")
cfg = model.features
dev = [(p, c) for c in model.words for p in sorted((R / "train" / c).glob("*.wav")) if int(p.stem[-2:]) >= 7]
unk = sorted((R / "train" / "_unknown_").glob("*.wav"))
F = lambda ps: extract_files(ps, cfg, silence=True)
df = F([p for p, _ in dev]); uf = F(unk)
thr = model.calibration.threshold
def answers(feats):
    S = score(model, feats); c = confidences(model, feats, S)
    return S, c
S_dev, c_dev = answers(df); S_unk, c_unk = answers(uf)
acc = [i for i in range(len(unk)) if c_unk[i] >= thr]
print("dev commands right+acc", np.mean([model.words[S_dev[i].argmax()] == c and c_dev[i] >= thr for i, (_, c) in enumerate(dev)]))
print("unknown takes accepted:", [unk[i].stem for i in acc])
# Recorded false alarms: the accepted takes; "fresh": the other take of the same word.
words_acc = sorted({unk[i].stem.rsplit("_", 1)[0] for i in acc})
rec_idx = [i for i in acc if unk[i].stem.endswith("_0")] or acc
fresh_idx = [i for i, p in enumerate(unk) if p.stem.rsplit("_", 1)[0] in words_acc and i not in rec_idx]
print("recorded", len(rec_idx), "fresh others", [unk[i].stem for i in fresh_idx])
def gaps(sh, feats, S):
    Ss = score(sh, feats)
    return (Ss.max(axis=1) - S.max(axis=1)) / np.array([len(f) for f in feats])
for prior in (0.25, 1.0, 3.0):
    shadows = []
    for i in rec_idx:
        j = int(S_unk[i].argmax())
        one = dataclasses.replace(model, models=(model.models[j],))
        ad = adapt_supervised(one, [uf[i]], [model.words[j]], AdaptConfig(prior=prior).validated())
        shadows.append(dataclasses.replace(ad.models[0], word=f"<not {model.words[j]} {i}>"))
    sh = ModelSet(cfg, tuple(shadows), outlier=model.outlier)
    g_dev = gaps(sh, df, S_dev); g_unk = gaps(sh, uf, S_unk)
    print(f"prior {prior}: dev commands gap max {g_dev.max():.2f} top3 {np.round(np.sort(g_dev)[-3:], 2)}; recorded min {g_unk[rec_idx].min():.2f}; "
          f"fresh {dict((unk[i].stem, round(float(g_unk[i]), 2)) for i in fresh_idx)}; other unknown takes max {np.max(np.delete(g_unk, rec_idx)):.2f}")
    for delta in (0.0, 1.0, 2.0, 4.0):
        keep = np.mean([model.words[S_dev[i].argmax()] == c and c_dev[i] >= thr and g_dev[i] <= delta for i, (_, c) in enumerate(dev)])
        fresh_rej = np.mean([g_unk[i] > delta or c_unk[i] < thr for i in fresh_idx]) if fresh_idx else float("nan")
        print(f"   delta {delta}: dev commands right+acc {keep:.3f}, recorded rejected {np.mean(g_unk[rec_idx] > delta):.3f}, fresh takes rejected {fresh_rej:.3f}")
