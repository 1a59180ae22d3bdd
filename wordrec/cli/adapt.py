"""wordrec adapt: a model adapted to one speaker's voice, written as a new model file."""

from __future__ import annotations

import click

from wordrec.cli.common import (
    Range,
    cores,
    count,
    listed_above,
    progress,
    report_failures,
    report_skipped,
    say,
)


@click.command(name="adapt")
@click.option("-m", "--model", "model_path", required=True, type=click.Path(readable=False), help="Model file from 'wordrec train'.")
@click.argument("data", type=click.Path(exists=True, readable=False))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, readable=False), help="Adapted model file to write.")
@click.option("--unlabelled", is_flag=True, help="DATA is a folder of recordings without labels (searched for audio files): each adapts the word it is recognised as, if the model accepts the answer.  Needs many recordings: about 10 a word.")
@click.option("--prior", default=10.0, show_default=True, type=Range(0, 1e9, min_open=True), help="Weight of the trained means, in frames: larger keeps the model closer to its training voices.")
@click.option("--jobs", "-j", default=0, type=click.IntRange(0, 256), help="Worker processes for reading (0: one per CPU core).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def adapt(model_path, data, output, unlabelled, prior, jobs, quiet):
    """Adapt a model to one speaker from his recordings; write it as a new model.

    DATA is laid out as for 'wordrec train' (a folder per word, or a
    manifest), with recordings of the one speaker the new model is for;
    a few a word are enough.  Every Gaussian's mean moves towards that
    speaker's frames (MAP); words without recordings keep theirs.

    \b
    Examples:
      wordrec adapt -m words.model my_voice/ -o mine.model
      wordrec adapt -m words.model --unlabelled my_session/ -o mine.model
    """
    from wordrec.core.adapt import AdaptConfig
    from wordrec.io import corpus, modelfile
    from wordrec.jobs.adaptation import (
        adapt_to_speaker,
        adapt_to_voice,
        adaptation_features,
    )

    models = modelfile.load(model_path)
    if unlabelled:
        files, skipped = corpus.expand([data])
    else:
        found = corpus.load(data)
        files, skipped = list(found.items), found.skipped
    report_skipped(skipped)
    modelfile.check_writable(output)
    with progress(len(files), "Reading", quiet or len(files) < 50) as bar:
        feats, words, failures = adaptation_features(models, files, bar.update, cores(jobs), labelled=not unlabelled)
    report_failures(failures)
    if unlabelled:
        adapted, used = adapt_to_voice(models, feats, AdaptConfig(prior=prior))
    else:
        adapted, used = adapt_to_speaker(models, feats, words, AdaptConfig(prior=prior))
    modelfile.save(adapted, output)
    click.echo("word\trecordings")
    for word, n in used.items():
        click.echo(f"{word}\t{n}")
    n_words = sum(n > 0 for n in used.values())
    say(
        f"Wrote {output}: adapted on {count(sum(used.values()), 'recording')} of {count(n_words, 'word')}"
        f"{listed_above(len(skipped), len(failures))}."
    )
