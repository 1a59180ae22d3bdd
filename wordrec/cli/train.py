"""wordrec train: one GMM-HMM per word, a background model and a calibrated rejection threshold."""

from __future__ import annotations

import click

from wordrec.cli.common import (
    SEEDS,
    Bars,
    Range,
    count,
    listed_above,
    memory_option,
    refuse_given,
    say,
    scheduler_option,
    workers,
)
from wordrec.core.defaults import FALSE_REJECTION, SPEAKER_WARP


def training_options(note: str):
    """The EM settings of 'train', which 'eval' also takes for cross-validation.

    Each defaults to None, meaning "TrainConfig's default"; see :func:`training_overrides`.
    The help repeats those defaults as text (importing TrainConfig here
    would load numpy for every --help); a test checks that they agree.
    """
    options = [
        click.option("--states", default=None, type=click.IntRange(1, 100), help=f"{note}States per word model.  [default: 8]"),
        click.option("--mix", default=None, type=click.IntRange(1, 256), help=f"{note}Gaussians per state.  [default: 3]"),
        click.option("--iters", default=None, type=click.IntRange(0, 10000), help=f"{note}EM iterations at most at the final mixture size (and at most 8 at each smaller one).  [default: 14]"),
        click.option("--tol", default=None, type=Range(0, 1, max_open=True), help=f"{note}Relative log-likelihood gain that ends EM early (0: never).  [default: 1e-3]"),
        click.option("--topology", default=None, type=click.Choice(["left-to-right", "ergodic"]), help=f"{note}State topology.  [default: left-to-right]"),
        click.option("--var-floor", default=None, type=Range(0, 1, min_open=True, max_open=True), help=f"{note}Variance floor as a fraction of the global variance.  [default: 0.01]"),
        click.option("--seed", default=None, type=SEEDS, help=f"{note}Random seed (with cross-validation, also of the folds).  [default: 0]"),
        click.option("--noise-copies", default=None, type=Range(0, 1), help=f"{note}Share of the recordings also trained on with noise added, 5-30 dB down (0: none).  [default: 0.25]"),
        click.option("--outlier-weight", default=None, type=Range(0, 0.5, max_open=True), help=f"{note}Weight of the broad Gaussian shared by every state, which bounds what one frame no state explains can cost (0: none).  [default: 1e-4]"),
    ]

    def apply(command):
        for option in reversed(options):
            command = option(command)
        return command

    return apply


def training_overrides(states, mix, iters, tol, topology, var_floor, seed, noise_copies, outlier_weight) -> dict:
    """The EM settings given on the command line, as TrainConfig fields."""
    given = dict(
        n_states=states, n_mix=mix, max_iter=iters, tol=tol, topology=topology, var_floor=var_floor, seed=seed,
        noise_copies=noise_copies, outlier_weight=outlier_weight,
    )
    return {k: v for k, v in given.items() if v is not None}


@click.command()
@click.argument("data", type=click.Path(exists=True, readable=False))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, readable=False), help="Model file to write.")
@training_options("")
@click.option("--sample-rate", default=None, type=click.IntRange(1000, 384000), help="Resample everything to this rate in Hz.  [default: the lowest rate in the data]")
@click.option("--jobs", "-j", default=0, type=click.IntRange(0, 256), help="Worker processes (0: one per CPU core).  Results do not depend on it.")
@click.option("--reject/--no-reject", default=True, help="Train a background model and calibrate a rejection threshold on held-out folds, so that 'recognize' can answer <unknown>.  [default: on]")
@click.option("--false-rejection", default=FALSE_REJECTION, show_default=True, type=Range(0, 0.5), help="Fraction of held-out recordings of known words the calibrated threshold may reject.")
@click.option("--speaker-warp", default=SPEAKER_WARP, show_default=True, type=Range(0, 0.3), help="Also calibrate for new voices ('recognize --new-voices') on held-out recordings whose formants are moved this fraction up or down, as if other speakers said them.  0: no new-voices calibration.")
@click.option("--negatives", "negatives_dir", default=None, type=click.Path(exists=True, file_okay=False, readable=False), help="A folder of recordings that are no word (other words, noise, silence): unknown examples for the calibration, as DATA's _unknown_/ and _background_noise_/ folders are.")
@memory_option
@scheduler_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--no-trim", is_flag=True, help="Keep leading and trailing non-speech (by default it is cut, here and in recognition).")
def train(data, output, states, mix, iters, tol, topology, var_floor, seed, noise_copies, outlier_weight, sample_rate, jobs, reject, false_rejection, speaker_warp, negatives_dir, memory, scheduler, quiet, no_trim):
    """Train one GMM-HMM per word on DATA and write the model file.

    DATA is a folder with one sub-folder per word (yes/ no/ stop/ ...), or a
    manifest file of 'path<TAB>word' lines.  Sub-folders (or words) named
    like _unknown_ and _background_noise_ hold recordings of no word: they
    train no word, and teach the rejection what to answer <unknown>.

    \b
    Example:
      wordrec train recordings/ -o words.model
    """
    from wordrec.api import Recognizer
    from wordrec.cli.text import rejection_summary, train_summary
    from wordrec.core import confusable
    from wordrec.io import modelfile

    if not reject:
        refuse_given("--no-reject trains no rejection threshold", "false_rejection", "speaker_warp", "negatives_dir")
    rec = Recognizer(
        **training_overrides(states, mix, iters, tol, topology, var_floor, seed, noise_copies, outlier_weight),
        sample_rate=sample_rate, trim=not no_trim, reject=reject, false_rejection=false_rejection,
        speaker_warp=speaker_warp, jobs=workers(jobs, memory),
    )
    modelfile.check_writable(output)
    from wordrec.jobs.parallel import cluster

    with cluster(scheduler), Bars(quiet) as bars:
        rec.fit_folder(data, progress=bars.events, negatives=negatives_dir)
    rec.save(output)
    click.echo(train_summary(rec.model_))
    for line in confusable.warnings(rec.model_):  # words the models may confuse: pick others before deploying
        say(line)
    for line in rejection_summary(rec.model_):
        say(line)
    used = sum(d["n_recordings"] for d in rec.model_.diagnostics["words"].values())
    say(
        f"Wrote {output}: {count(len(rec.words_), 'word')} at {rec.sample_rate_} Hz from "
        f"{count(used, 'recording')}{listed_above(len(rec.skipped_), len(rec.failures_))}."
    )
