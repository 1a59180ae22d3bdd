"""wordrec adapt: a model adapted to one speaker's voice, or taught its false alarms, written as a new model file."""

from __future__ import annotations

import click

from wordrec.cli.common import (
    Range,
    cores,
    count,
    listed_above,
    progress,
    refuse_given,
    report_failures,
    report_skipped,
    say,
)


@click.command(name="adapt")
@click.option("-m", "--model", "model_path", required=True, type=click.Path(readable=False), help="Model file from 'wordrec train'.")
@click.argument("data", required=False, type=click.Path(exists=True, readable=False))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, readable=False), help="Adapted model file to write.")
@click.option("--negatives", "negatives_dir", default=None, type=click.Path(exists=True, readable=False), help="A folder (or file) of recorded false alarms: sounds the model answered with a word that it should answer <unknown>.  Each is taught to the model (a copy of the word it was taken for, moved to it); the words are not retrained.")
@click.option("--unlabelled", is_flag=True, help="DATA is a folder of recordings without labels (searched for audio files): each adapts the word it is recognised as, if the model accepts the answer.  Needs many recordings: about 10 a word.")
@click.option("--prior", default=10.0, show_default=True, type=Range(0, 1e9, min_open=True), help="Weight of the trained means, in frames: larger keeps the model closer to its training voices.")
@click.option("--jobs", "-j", default=0, type=click.IntRange(0, 256), help="Worker processes for reading (0: one per CPU core).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def adapt(model_path, data, output, unlabelled, prior, jobs, quiet, negatives_dir):
    """Adapt a model to one speaker from his recordings, or teach it its false alarms; write a new model.

    DATA is laid out as for 'wordrec train' (a folder per word, or a
    manifest), with recordings of the one speaker the new model is for;
    a few a word are enough.  Every Gaussian's mean moves towards that
    speaker's frames (MAP); words without recordings keep theirs.  With
    --negatives, recorded false alarms are taught (after DATA, if given).

    \b
    Examples:
      wordrec adapt -m words.model my_voice/ -o mine.model
      wordrec adapt -m words.model --unlabelled my_session/ -o mine.model
      wordrec adapt -m words.model --negatives false_alarms/ -o better.model
    """
    from wordrec.io import modelfile

    if data is None and negatives_dir is None:
        raise click.UsageError("give DATA (recordings to adapt to), --negatives DIR (false alarms to teach), or both")
    if data is None:
        refuse_given("--unlabelled and --prior adapt to DATA, which is not given", "unlabelled", "prior")
    models = modelfile.load(model_path)
    modelfile.check_writable(output)
    done = []
    if data is not None:
        models = _adapted(models, data, unlabelled, prior, jobs, quiet, done)
    if negatives_dir is not None:
        models = _taught(models, negatives_dir, jobs, quiet, done)
    modelfile.save(models, output)
    say(f"Wrote {output}: {'; '.join(done)}.")


def _adapted(models, data, unlabelled, prior, jobs, quiet, done: list):
    from wordrec.core.adapt import AdaptConfig
    from wordrec.io import corpus
    from wordrec.jobs.adaptation import (
        adapt_to_speaker,
        adapt_to_voice,
        adaptation_features,
    )

    if unlabelled:
        files, skipped = corpus.expand([data])
    else:
        found = corpus.load(data)
        files, skipped = list(found.items), found.skipped
    report_skipped(skipped)
    with progress(len(files), "Reading", quiet or len(files) < 50) as bar:
        feats, words, failures = adaptation_features(models, files, bar.update, cores(jobs), labelled=not unlabelled)
    report_failures(failures)
    if unlabelled:
        adapted, used = adapt_to_voice(models, feats, AdaptConfig(prior=prior))
    else:
        adapted, used = adapt_to_speaker(models, feats, words, AdaptConfig(prior=prior))
    click.echo("word\trecordings")
    for word, n in used.items():
        click.echo(f"{word}\t{n}")
    n_words = sum(n > 0 for n in used.values())
    done.append(f"adapted on {count(sum(used.values()), 'recording')} of {count(n_words, 'word')}"
                f"{listed_above(len(skipped), len(failures))}")
    return adapted


def _taught(models, negatives_dir, jobs, quiet, done: list):
    from wordrec.cli.common import fmt, shown
    from wordrec.io import corpus
    from wordrec.jobs.adaptation import teach_false_alarms

    files, skipped = corpus.expand([negatives_dir])
    report_skipped(skipped)
    with progress(len(files), "Reading", quiet or len(files) < 50) as bar:
        taught, rows, failures = teach_false_alarms(models, files, bar.update, cores(jobs))
    report_failures(failures)
    click.echo("false_alarm\ttaken_for\tconfidence_before\tconfidence_now")
    for path, word, before, after in rows:
        click.echo(f"{shown(path)}\t{word}\t{fmt(before)}\t{fmt(after)}")
    done.append(f"taught {count(len(rows), 'false alarm')} ({len(taught.negatives)} in the model)"
                f"{listed_above(len(skipped), len(failures))}")
    return taught
