"""Pictures of evaluation reports, of one decision and of a model file (matplotlib, optional).

::

    from wordrec.api import plots

    plots.eval_figure(report, "confusions.png")    # a report of wordrec.jobs.evaluation
    plots.model_figure(wordrec.core.explain.inspect(rec.model_), "model.png")

matplotlib is the ``[plot]`` extra: it is imported inside the functions
that draw, never when this module is imported, so that commands that do
not plot stay fast.  Figures are drawn on matplotlib's Agg canvas without
pyplot (no global state, no display needed) and written atomically.  The
output format follows the file name: ``.png`` (default), ``.svg`` or
``.pdf``.

Each ``draw_*`` function draws one panel on a given matplotlib ``Axes``;
each ``*_figure`` function lays out a whole picture and writes it.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from wordrec.errors import WordrecError
from wordrec.io.modelfile import check_writable, write_atomic

#: Output formats by file suffix.
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
#: Dots per inch of PNGs: a 7-inch-wide figure is 700 pixels, readable in a README.
DPI = 100
#: Rates marked on the DET curve's axes, as fractions (a probit scale), and
#: the range shown: rates of 0 and 1 are drawn on its edges.
_DET_TICKS = (0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99)
_DET_RANGE = (0.0005, 0.995)


def require() -> tuple:
    """matplotlib's ``(Figure, FigureCanvasAgg)``; WordrecError naming the extra when it is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise WordrecError("plotting needs matplotlib: pip install 'wordrec[plot]'") from None
    return Figure, FigureCanvasAgg


def _figure(width: float, height: float):
    """A matplotlib Figure on the Agg canvas, ``width`` x ``height`` inches."""
    Figure, FigureCanvasAgg = require()
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def output_format(path) -> str:
    """The format for ``path`` by its suffix; WordrecError for others."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise WordrecError(f"{path}: give a picture file name ending in .png, .svg or .pdf")
    return fmt


def check_picture(path) -> None:
    """Before the work: a picture name with a known suffix, a place to write it, and matplotlib there.

    Raises
    ------
    WordrecError
        One line naming the file or the missing extra.
    """
    output_format(path)
    check_writable(path, "picture file")
    require()


def save(fig, path) -> None:
    """Write a figure to ``path`` atomically, in the format its suffix names."""
    buf = io.BytesIO()
    fmt = output_format(path)
    if fmt == "png":
        _save_png(fig, buf)
    else:
        fig.savefig(buf, format=fmt, dpi=DPI)
    write_atomic(path, buf.getvalue())


def _save_png(fig, buf) -> None:
    """A figure as a PNG of at most 256 colours: a third of the bytes of a true-colour one, and
    the same to the eye for plots.  No version stamp: the same picture gives the same bytes."""
    from PIL import Image  # a dependency of matplotlib

    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    image = Image.fromarray(np.ascontiguousarray(rgb)).quantize(colors=256, dither=Image.Dither.NONE)
    image.save(buf, format="png", optimize=True)


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def draw_confusion(ax, rep: dict, title: str | None = None) -> None:
    """The confusion matrix of a :func:`wordrec.core.metrics.report`: counts in the cells, shaded by row share."""
    labels = rep["labels"]
    counts = np.asarray(rep["confusion"], dtype=float).reshape(len(labels), len(labels))
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    size = 9 if len(labels) <= 12 else 7 if len(labels) <= 20 else 5
    for i in range(len(labels)):
        for j in range(len(labels)):
            if counts[i, j]:
                ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=size,
                        color="white" if share[i, j] > 0.5 else "black")
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, labels, rotation=90 if max(map(len, labels)) > 3 else 0, fontsize=size)
    ax.set_yticks(ticks, labels, fontsize=size)
    ax.set_xlabel("recognised as")
    ax.set_ylabel("spoken word (truth)")
    done = f"accuracy {_pct(rep['accuracy'])} ({rep['n_correct']}/{rep['n_files']})"
    if title is None:
        title = "Open-set confusion matrix" if "points" in rep else "Confusion matrix"
        if rep.get("folds"):
            title += f", pooled over {len(rep['folds'])} folds"
    ax.set_title(f"{title}: {done}", fontsize=11)
    # Per-word accuracy on the right, so that the weak rows stand out.
    right = ax.secondary_yaxis("right")
    per_word = rep.get("per_word", {})
    right.set_yticks(ticks, [_pct(per_word[w]["accuracy"]) if w in per_word else "" for w in labels], fontsize=size - 1)
    right.set_ylabel("right, per word", fontsize=9)


def _probit(p) -> np.ndarray:
    from scipy.special import ndtri

    return ndtri(np.clip(np.asarray(p, dtype=float), *_DET_RANGE))


def draw_det(ax, rep: dict) -> None:
    """The DET curve of an open-set report (``points``), with its threshold and equal error rate marked."""
    pts = rep.get("points") or []
    if not pts:
        ax.text(0.5, 0.5, "no DET curve:\nneeds in- and out-of-vocabulary recordings", ha="center", va="center")
        ax.set_axis_off()
        return
    fa = np.array([p["false_acceptance"] for p in pts])
    fr = np.array([p["false_rejection"] for p in pts])
    ax.plot(_probit(fa), _probit(fr), color="tab:blue", lw=1.5, label="every threshold", clip_on=False)
    lim = _probit(_DET_RANGE)
    ax.plot(lim, lim, color="0.6", lw=0.8, ls=":")
    if rep.get("eer") is not None:
        ax.plot(_probit(rep["eer"]), _probit(rep["eer"]), "x", color="black", ms=8, mew=2, clip_on=False,
                label=f"equal error rate {100 * rep['eer']:.2f} %")
    if rep.get("false_acceptance") is not None and rep.get("false_rejection") is not None:
        ax.plot(_probit(rep["false_acceptance"]), _probit(rep["false_rejection"]), "o", color="tab:red", ms=8, clip_on=False,
                label=f"threshold {rep['threshold']:.2f}: FA {_pct(rep['false_acceptance'])}, FR {_pct(rep['false_rejection'])}")
    ticks = _probit(_DET_TICKS)
    names = [f"{100 * t:g}" for t in _DET_TICKS]
    ax.set_xticks(ticks, names)
    ax.set_yticks(ticks, names)
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    ax.set_xlabel("false acceptance (%): unknown words given a word")
    ax.set_ylabel("false rejection (%): known words answered <unknown>")
    ax.set_title("DET curve: the rejection trade-off", fontsize=11)
    ax.grid(True, color="0.9")
    ax.legend(loc="upper right", fontsize=8)


def draw_folds(ax, rep: dict) -> None:
    """Accuracy of each fold of a cross-validation report, with the mean."""
    folds = rep["folds"]
    names = [str(f["name"]) for f in folds]
    acc = [100 * f["accuracy"] if f["accuracy"] is not None else 0.0 for f in folds]
    x = np.arange(len(folds))
    ax.bar(x, acc, color="tab:blue", width=0.6)
    for k, f in enumerate(folds):
        ax.text(k, acc[k] + 1, f"{acc[k]:.1f}\n({f['n_correct']}/{f['n_files']})", ha="center", va="bottom", fontsize=8)
    if rep.get("mean_accuracy") is not None:
        ax.axhline(100 * rep["mean_accuracy"], color="tab:red", ls="--", lw=1, label=f"mean {_pct(rep['mean_accuracy'])}")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xticks(x, names, rotation=90 if len(folds) > 8 or max(map(len, names)) > 8 else 0)
    ax.set_ylim(0, 115)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("accuracy (%)")
    ax.set_xlabel("held-out group" if (rep.get("cross_validation") or {}).get("method") == "group-by" else "held-out fold")
    ax.set_title(f"Accuracy per fold: worst {_pct(rep.get('worst_accuracy'))}", fontsize=11)


def eval_figure(rep: dict, path) -> None:
    """The confusion matrix of an eval report; beside it the DET curve (``points``, open set) or the
    accuracy per fold (``folds``, cross-validation).  Writes ``path``."""
    extra = draw_det if "points" in rep else draw_folds if rep.get("folds") else None
    n = len(rep["labels"])
    side = min(9.0, max(4.5, 0.4 * n + 2.0))
    fig = _figure(side + (5.5 if extra else 0.0), side)
    if extra is None:
        draw_confusion(fig.add_subplot(1, 1, 1), rep)
    else:
        grid = fig.add_gridspec(1, 2, width_ratios=[side, 5.5])
        draw_confusion(fig.add_subplot(grid[0, 0]), rep)
        extra(fig.add_subplot(grid[0, 1]), rep)
    save(fig, path)


def spectrogram(signal: np.ndarray, rate: int, window_s: float = 0.025, hop_s: float = 0.004,
                floor_db: float = 60.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power spectrogram in dB (relative to its loudest cell, floored ``floor_db`` below).

    Frames are centred on multiples of the hop (the signal is padded with
    zeros by half a window at both ends), so the picture covers it all.

    Returns
    -------
    times : ndarray, shape (n_frames,)
        Seconds from the start of ``signal`` (frame centres, from 0).
    freqs : ndarray, shape (n_bins,)
        Hz.
    db : ndarray, shape (n_bins, n_frames)
    """
    flen = max(8, int(round(window_s * rate)))
    hop = max(1, int(round(hop_s * rate)))
    nfft = 1 << int(flen - 1).bit_length()
    x = np.pad(np.asarray(signal, dtype=float), (flen // 2, flen - flen // 2))
    frames = np.lib.stride_tricks.sliding_window_view(x, flen)[::hop]
    power = np.abs(np.fft.rfft(frames * np.hanning(flen), nfft)) ** 2
    db = 10 * np.log10(power + 1e-20)
    db = np.maximum(db - db.max(), -floor_db)
    times = np.arange(len(frames)) * hop / rate
    return times, np.arange(nfft // 2 + 1) * rate / nfft, db.T


def _state_colours(n: int):
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(0.1 + 0.8 * k / max(1, n - 1)) for k in range(n)]


def draw_alignment(ax, word: dict, row: float, label: str) -> None:
    """One word's Viterbi states (from :func:`wordrec.core.explain.explain`) as coloured bands on ``row``."""
    n_states = max(s["state"] for s in word["segments"]) + 1
    colours = _state_colours(n_states)
    for s in word["segments"]:
        ax.broken_barh([(s["start_s"], s["end_s"] - s["start_s"])], (row - 0.4, 0.8),
                       facecolors=colours[s["state"]], edgecolors="white", linewidth=0.5)
        ax.text((s["start_s"] + s["end_s"]) / 2, row, str(s["state"] + 1), ha="center", va="center", fontsize=7,
                color="white" if s["state"] < n_states / 2 else "black")
    ax.text(-0.01, row, label, transform=ax.get_yaxis_transform(), ha="right", va="center", fontsize=9)


def explain_figure(expl: dict, signal: np.ndarray, sample_rate: int, path, name: str = "", offset: float = 0.0) -> None:
    """One decision: waveform, spectrogram and endpoints; the best two words' state alignments;
    where along the recording the best word pulled ahead; the N-best.  Writes ``path``.

    Parameters
    ----------
    expl : dict
        :func:`wordrec.core.explain.explain` of ``signal``.
    signal : ndarray, shape (n_samples,)
        At the model's rate (``expl["sample_rate"]``), as given to ``explain``.
    sample_rate : int
        Hz.
    name : str
        The recording's name, for the title.
    offset : float
        As given to ``explain`` (seconds of the take before ``signal[0]``).
    """
    span, ends = expl["span"], expl["endpoints"]
    a, b = (int(round((span[k] - offset) * sample_rate)) for k in ("start_s", "end_s"))
    piece = np.asarray(signal, dtype=float)[a:b]
    t = span["start_s"] + np.arange(len(piece)) / sample_rate
    fig = _figure(9.0, 7.0)
    grid = fig.add_gridspec(4, 2, height_ratios=[1.0, 2.0, 0.9, 1.6], width_ratios=[3.2, 1.0])
    wave = fig.add_subplot(grid[0, 0])
    spec = fig.add_subplot(grid[1, 0], sharex=wave)
    align = fig.add_subplot(grid[2, 0], sharex=wave)
    diff = fig.add_subplot(grid[3, 0], sharex=wave)
    nbest = fig.add_subplot(grid[:, 1])

    wave.plot(t, piece, color="0.3", lw=0.5)
    wave.set_ylabel("amplitude")
    heard = f"answer {expl['answer']!r}"
    if expl["confidence"] is not None:
        heard += f", confidence {expl['confidence']:.2f} (threshold {expl['threshold']:.2f})"
    wave.set_title(f"Why {name or 'this recording'} was answered {expl['answer']!r}", fontsize=11, loc="left")
    times, freqs, db = spectrogram(piece, sample_rate)
    half = (times[1] - times[0]) / 2 if len(times) > 1 else 0.0
    spec.imshow(db, origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
                extent=(span["start_s"] - half, span["start_s"] + times[-1] + half, 0, freqs[-1] / 1000))
    spec.set_ylabel("frequency (kHz)")
    for ax in (wave, spec):
        for x in (ends["start_s"], ends["end_s"]):
            ax.axvline(x, color="tab:cyan" if ax is spec else "tab:blue", ls="--", lw=1.2)
    wave.axvspan(span["start_s"], ends["start_s"], color="0.85", lw=0)
    wave.axvspan(ends["end_s"], span["end_s"], color="0.85", lw=0)
    box = {"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1}
    wave.text(0.995, 0.95, heard, transform=wave.transAxes, ha="right", va="top", fontsize=8, bbox=box)
    wave.text(0.005, 0.05, "dashed: endpoints kept", transform=wave.transAxes, fontsize=7, color="tab:blue", bbox=box)

    words = expl["nbest"]
    rows = words[:2]
    for k, w in enumerate(rows):
        draw_alignment(align, w, -k, f"{w['word']!r}" + (" best" if k == 0 else " 2nd"))
    # The best word's state boundaries over the spectrogram too.
    for s in words[0]["segments"][1:]:
        spec.axvline(s["start_s"], color="white", lw=0.6, alpha=0.7)
    align.set_yticks([])
    align.set_ylim(-len(rows) + 0.4, 0.6)
    below = ", and the runner-up's below" if len(rows) > 1 else ""
    align.set_title(f"Viterbi states (1 = first) of the best word{below}", fontsize=9, loc="left")

    d = expl["difference"]
    if d is not None:
        ft = np.asarray(expl["frame_times_s"])
        per = np.asarray(d["per_frame"])
        diff.bar(ft, per, width=expl["frame_step_s"], color=np.where(per >= 0, "tab:green", "tab:red"), alpha=0.5,
                 label="per frame")
        diff.plot(ft, d["running"], color="black", lw=1.5, label="running sum")
        diff.axhline(0, color="0.5", lw=0.8)
        diff.legend(loc="upper left", fontsize=8)
        diff.set_title(f"log-likelihood of {d['best']!r} minus {d['runner_up']!r} along their Viterbi paths: "
                       f"{d['total']:+.1f} nats in all", fontsize=9, loc="left")
    if d is None:
        diff.text(0.5, 0.5, "one word only: no runner-up to compare with", ha="center", va="center", transform=diff.transAxes)
    diff.set_ylabel("nats" if d is None else f"nats (> 0: {d['best']!r} ahead)", fontsize=9)
    diff.set_xlabel("time (s)")
    diff.set_xlim(span["start_s"], span["end_s"])

    # N-best: how far below the best word each scored, per frame (forward log-likelihoods).
    best = words[0]["log_lik_per_frame"]
    gap = [w["log_lik_per_frame"] - best for w in words]
    y = np.arange(len(words))
    nbest.barh(y, gap, color=["tab:green"] + ["tab:gray"] * (len(words) - 1))
    nbest.set_yticks(y, [repr(w["word"]) for w in words])
    nbest.invert_yaxis()
    nbest.axvline(0, color="black", lw=0.8)
    for k, g in enumerate(gap):
        nbest.text(g, k, f"{g:.2f} ", va="center", ha="right", fontsize=8)
    nbest.set_xlabel("nats per frame\nbelow the best")
    nbest.set_title(f"{len(words)} best words\n(forward log-likelihood)", fontsize=10)
    lo = min(gap) if min(gap) < 0 else -1.0
    nbest.set_xlim(lo * 1.4, -lo * 0.05)
    save(fig, path)


def model_figure(info: dict, path) -> None:
    """A model file at a glance (:func:`wordrec.core.explain.inspect`): EM curves per word and, when the
    file records them, the pairs of words whose held-out recordings came close.  Writes ``path``."""
    pairs = (info.get("confusable") or {}).get("pairs")
    fig = _figure(10.0 if pairs is not None else 7.0, 4.8)
    grid = fig.add_gridspec(1, 2 if pairs is not None else 1, width_ratios=[1.6, 1.0] if pairs is not None else [1])
    ax = fig.add_subplot(grid[0, 0])
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(info["per_word"]) <= 10 else "tab20"]
    drawn = 0
    for k, (word, d) in enumerate(info["per_word"].items()):
        if "em" not in d:
            continue
        values = [v for stage in d["em"] for v in stage]
        colour = cmap(k % cmap.N)
        ax.plot(np.arange(len(values)), values, marker=".", ms=3, lw=1, color=colour, label=word)
        # The first iteration after each split of the Gaussians (the likelihood may dip there).
        firsts = [i for i in np.cumsum([len(stage) for stage in d["em"]])[:-1] if i < len(values)]
        ax.plot(firsts, [values[i] for i in firsts], "o", mfc="white", mec=colour, ms=5)
        drawn += 1
    if not drawn:
        ax.text(0.5, 0.5, "no training record in this model file", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("EM iteration, all mixture sizes in turn (o: first after a split)")
    ax.set_ylabel("training log-likelihood (nats per frame)")
    ax.set_title("EM training per word", fontsize=11)
    if 0 < drawn <= 20:
        ax.legend(fontsize=7, ncol=2 if drawn > 10 else 1, loc="lower right", title="word", title_fontsize=8)
    if pairs is not None:
        conf = info["confusable"]
        bars = fig.add_subplot(grid[0, 1])
        if pairs:
            y = np.arange(len(pairs))
            bars.barh(y, [100 * p["share"] for p in pairs], color="tab:orange")
            bars.set_yticks(y, [f"{p['word']} \u2192 {p['close_to']}" for p in pairs], fontsize=9)
            bars.invert_yaxis()
            for k, p in enumerate(pairs):
                bars.text(100 * p["share"], k, f" {100 * p['share']:.0f} %", va="center", fontsize=8)
            bars.set_xlim(0, max(100 * p["share"] for p in pairs) * 1.3)
        else:
            bars.text(0.5, 0.5, "no pair of words came close", ha="center", va="center", transform=bars.transAxes)
        bars.set_xlabel(f"held-out recordings of a word within {conf['close_nats_per_frame']:g} nat/frame\nof the other word's score (%)")
        bars.set_title("Words the models confuse", fontsize=11)
    save(fig, path)
