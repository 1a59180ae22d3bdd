"""wordrec explain: why one recording (or a span of a take) got its answer, as text, JSON or a picture.

The numbers are :func:`wordrec.core.explain.explain`'s, the file side is
:mod:`wordrec.jobs.show`'s and the picture :mod:`wordrec.api.plots`'s,
all imported inside the command (matplotlib only when a picture is asked
for), so that ``wordrec --help`` stays fast.
"""

from __future__ import annotations

import click

from wordrec.cli.common import Range, dump_json, shown

PICTURE = click.Path(dir_okay=False, readable=False)


@click.command(name="explain")
@click.option("-m", "--model", "model_path", required=True, type=click.Path(readable=False), help="Model file from 'wordrec train'.")
@click.argument("file", type=click.Path(readable=False))
@click.option("-o", "--output", "output", default=None, type=PICTURE, help="Write the picture here (.png, .svg or .pdf; needs matplotlib).")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as one JSON object.")
@click.option("--start", default=None, type=Range(0, 1e7), help="Explain the span from here (seconds) of a take; with --end.")
@click.option("--end", default=None, type=Range(0, 1e7), help="... to here (seconds).")
@click.option("--nbest", default=5, show_default=True, type=click.IntRange(1, 1000), help="Words explained, best first.")
def explain(model_path, file, output, as_json, start, end, nbest):
    """Show why FILE got its answer: endpoints, state alignments, where the decision was made.

    Prints the answer, its confidence, the endpoints the detector chose and
    the N best words with their forward and best-path (Viterbi)
    log-likelihoods; -o draws it all (waveform and spectrogram, the best
    two words' states over time, the running log-likelihood difference,
    the N-best); --json gives the same as data (frame times, state per
    frame, per-frame log-likelihoods).

    \b
    Examples:
      wordrec explain -m words.model six.wav -o six.png
      wordrec explain -m words.model take.wav --start 12.3 --end 13.1 --json
    """
    from wordrec.io import modelfile
    from wordrec.jobs.show import explain_file

    if (start is None) != (end is None):
        raise click.UsageError("--start and --end give a span together: give both")
    if start is not None and end <= start:
        raise click.UsageError(f"--end {end:g} must be after --start {start:g}")
    if output is not None:
        from wordrec.api.plots import check_picture

        check_picture(output)
    models = modelfile.load(model_path)
    expl, signal, offset = explain_file(models, file, start, end, nbest)
    if output is not None:
        from wordrec.api.plots import explain_figure

        name = click.format_filename(file, shorten=True)
        explain_figure(expl, signal, models.features.sample_rate, output, name=name, offset=offset)
    if as_json:
        dump_json({"path": str(file), **expl})
    else:
        click.echo(_explain_text(expl, shown(file)))


def _explain_text(e: dict, path: str) -> str:
    conf = "-" if e["confidence"] is None else f"{e['confidence']:.3f}"
    lines = [
        f"file\t{path}",
        f"answer\t{e['answer']}\tconfidence {conf}\tthreshold {e['threshold']:.3f}",
        f"endpoints\t{e['endpoints']['start_s']:.3f}\t{e['endpoints']['end_s']:.3f}\t({e['n_frames']} frames)",
        "",
        "word\tlog_lik\tper_frame\tviterbi\tstates (first frame of each)",
    ]
    for w in e["nbest"]:
        firsts = " ".join(f"{s['state'] + 1}@{s['start_s']:.2f}" for s in w["segments"])
        lines.append(f"{w['word']}\t{w['log_lik']:.3f}\t{w['log_lik_per_frame']:.3f}\t{w['viterbi_log_lik']:.3f}\t{firsts}")
    d = e["difference"]
    if d is not None:
        running = d["running"]
        behind = [k for k, r in enumerate(running) if r <= 0]
        lead = e["frame_times_s"][behind[-1] + 1] if behind and behind[-1] + 1 < len(running) else None
        top = int(max(range(len(d["per_frame"])), key=lambda k: d["per_frame"][k]))
        when = "all along" if not behind else f"from {lead:.2f} s on" if lead is not None else "never (a tie at the end)"
        lines += [
            "",
            f"decided\t{d['best']} over {d['runner_up']} by {d['total']:.1f} nats on their best paths; ahead {when}; "
            f"its largest gain in one frame at {e['frame_times_s'][top]:.2f} s ({d['per_frame'][top]:+.1f} nats)",
        ]
    return "\n".join(lines)
