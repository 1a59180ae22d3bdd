"""wordrec inspect: what is in a model file, for people, as text, JSON or a picture.

The numbers are :func:`wordrec.core.explain.inspect`'s and the picture
:mod:`wordrec.api.plots`'s, imported inside the command (matplotlib only
when a picture is asked for).
"""

from __future__ import annotations

import click

from wordrec.cli.common import dump_json, shown


@click.command(name="inspect")
@click.argument("model_path", metavar="MODEL", type=click.Path(readable=False))
@click.option("--plot", "plot", default=None, type=click.Path(dir_okay=False, readable=False), help="Draw the EM curves per word and the words the models confuse (.png, .svg or .pdf; needs matplotlib).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def inspect(model_path, plot, as_json):
    """Show what is in a model file: words, states and Gaussians, training, front end,
    rejection threshold, and which words the models confuse.

    \b
    Example:
      wordrec inspect words.model --plot words.png
    """
    from wordrec.core.explain import inspect as inspect_model
    from wordrec.io import modelfile

    if plot is not None:
        from wordrec.api.plots import check_picture

        check_picture(plot)
    info = inspect_model(modelfile.load(model_path))
    if plot is not None:
        from wordrec.api.plots import model_figure

        model_figure(info, plot)
    if as_json:
        dump_json(info)
    else:
        click.echo(_inspect_text(info))


def _inspect_text(info: dict) -> str:
    f, c = info["features"], info["calibration"]
    # The training record is free-form in the file: its values are shown escaped.
    t = {k: shown(v) for k, v in info["training"].items()}
    statics = f"{f['n_ceps'] - 1} cepstra + {'log energy' if f['use_energy'] else 'c0'}"
    deltas = ["", " + deltas", " + deltas + delta-deltas"][f["delta_order"]]
    lines = [
        f"words\t{len(info['words'])}\t{' '.join(info['words'])}",
        f"front end\t{f['sample_rate']} Hz, {f['win_length'] * 1000:g} ms {f['window']} window every {f['win_step'] * 1000:g} ms, "
        f"{f['n_filters']} mel filters, {statics}{deltas} = {f['n_ceps'] * (f['delta_order'] + 1)} features; "
        f"endpointing {'on' if f['trim'] else 'off'}",
    ]
    if t:
        lines.append(
            f"training\t{t.get('topology', '?')}, up to {t.get('n_states', '?')} states and {t.get('n_mix', '?')} Gaussians a state, "
            f"variance floor {t.get('var_floor', '?')}, seed {t.get('seed', '?')}, noisy copies {t.get('noise_copies', 0)}"
        )
    if info["outlier_weight"] is not None:
        lines.append(f"outlier\tone broad Gaussian shared by every state, weight {info['outlier_weight']:g}")
    if info["background"] is not None:
        lines.append(f"background\t{info['background']['n_gaussians']} Gaussians (generic speech, for the confidence)")
    if c is None:
        lines.append("rejection\tnone (trained with --no-reject: every answer is a word)")
    else:
        for name, point in (("known voices", c), ("new voices", c["new_voices"])):
            if point is not None:
                lines.append(_rejection_line(name, point, c["default"] == name.replace(" ", "_")))
    if info["adaptations"]:
        lines.append(f"adapted\t{info['adaptations']} time(s) to a speaker")
    if info["negatives"]:
        taught = ", ".join(f"{n} taken for {w}" for w, n in info["negatives"].items())
        lines.append(f"negatives\t{sum(info['negatives'].values())} taught false alarm(s) ({taught}): answered <unknown>")
    lines += ["", "word\tstates\tgaussians\trecordings\tnoisy_copies\tframes\tem_iterations\tlog_lik_per_frame"]
    for word, d in info["per_word"].items():
        em = d.get("em")
        cells = [d.get("n_recordings", "-"), d.get("n_noisy_copies", "-"), d.get("n_frames", "-"),
                 sum(len(s) for s in em) - 1 if em else "-",
                 f"{d['log_lik_per_frame']:.3f}" if "log_lik_per_frame" in d else "-"]
        lines.append("\t".join(str(x) for x in [word, d["n_states"], d["n_gaussians"], *cells]))
    conf = info["confusable"]
    lines.append("")
    if conf is None:
        lines.append("confusable\tnot recorded (a model trained before wordrec recorded it, or with --no-reject)")
    else:
        lines.append(f"confusable\theld-out recordings of a word that came within {conf['close_nats_per_frame']:g} nat per frame "
                     f"of another word's score ({100 * conf['min_share']:g} % or more):")
        if not conf["pairs"]:
            lines.append("\tnone")
        for p in conf["pairs"]:
            lines.append(f"\t{p['word']} -> {p['close_to']}\t{100 * p['share']:.0f} %\t({p['n_close']} of {p['n_held_out']})")
    return "\n".join(lines)


def _rejection_line(name: str, c: dict, default: bool) -> str:
    held = ""
    if c["held_out_false_rejection"] is not None:
        held = (f"; on held-out training recordings: false rejection {100 * c['held_out_false_rejection']:.1f} %, "
                f"false acceptance {100 * c['held_out_false_acceptance']:.1f} % "
                f"({'unknown words of known speakers' if name == 'known voices' else 'with formants moved'})")
    warp = f"; speaker warp {c['speaker_warp']:g}" if c["speaker_warp"] else ""
    return (f"rejection\t{name}{' (default)' if default else ''}: threshold {c['threshold']:.3f} on "
            f"{' and '.join(c['terms'])} (target false rejection {100 * c['target_false_rejection']:.1f} %{held}{warp})")
