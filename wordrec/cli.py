"""The command line: parse, call the pipeline, format.  No maths here.

stdout carries results (tab-separated, or JSON with ``--json``); stderr
carries progress and diagnostics.  Exit codes: 0 success, 1 error (nothing
useful done), 2 usage error, 3 some inputs failed (the others were
answered), 130 interrupted.  Heavy modules are imported inside the commands
so that ``--help`` stays fast.
"""

from __future__ import annotations

import json
import re
import sys

import click

from wordrec import __version__
from wordrec.errors import WordrecError

EXIT_ERROR = 1
EXIT_SOME_FAILED = 3
EXIT_INTERRUPTED = 130


# Control characters (a tab or newline in a file name) would break the one
# line per file and the tab-separated columns: they are shown escaped.
_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(32), *range(127, 160)]} | {9: "\\t", 10: "\\n", 13: "\\r"}


def _shown(text) -> str:
    return str(text).translate(_ESCAPES)


def _say(message: str) -> None:
    click.echo(_shown(message), err=True)


def _report_failures(failures) -> None:
    for f in failures:
        _say(f"Error: {f.message}")


def _progress(total: int, label: str, quiet: bool):
    """A progress bar on stderr (a no-op context when quiet)."""
    if quiet or total == 0:
        return _NoBar()
    return click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        pass


def _dump_json(obj) -> None:
    # A file name that is not UTF-8 holds lone surrogates (Python's stand-ins
    # for its bytes); written raw they would make the output invalid UTF-8,
    # so they are written as JSON escapes, as ensure_ascii would.
    text = json.dumps(obj, indent=2, ensure_ascii=False)
    click.echo(re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text))


def _fmt(x: float) -> str:
    return f"{x:.3f}"


class _Group(click.Group):
    """Turns WordrecError and Ctrl-C into one line on stderr and an exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except WordrecError as exc:
            _say(f"Error: {exc}")
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            _say("Interrupted.")
            sys.exit(EXIT_INTERRUPTED)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wordrec")
def cli():
    """Isolated-word speech recognition with GMM-HMMs.

    Train one model per word from folders of recordings (one sub-folder per
    word), then recognise new recordings or evaluate on a labelled test set.
    """


def _refuse_given(why: str, *names: str) -> None:
    """A usage error if any of these options was given on the command line."""
    ctx = click.get_current_context()
    given = [p.opts[0] for p in ctx.command.params if p.name in names and ctx.get_parameter_source(p.name) == click.core.ParameterSource.COMMANDLINE]
    if given:
        raise click.UsageError(f"{why}: {' and '.join(given)} would have no effect")


class _Range(click.FloatRange):
    """click.FloatRange without NaN, which it lets through (every comparison
    with NaN is false)."""

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        if value != value:
            self.fail("must be a number, not nan", param, ctx)
        return value


SEEDS = click.IntRange(0, 2**32 - 1)


def _training_options(note: str):
    """The EM settings of 'train', which 'eval' also takes for cross-validation.

    Each defaults to None, meaning "TrainConfig's default"; see :func:`_train_config`.
    The help repeats those defaults as text (importing TrainConfig here
    would load numpy for every --help); a test checks that they agree.
    """
    options = [
        click.option("--states", default=None, type=click.IntRange(1, 100), help=f"{note}States per word model.  [default: 8]"),
        click.option("--mix", default=None, type=click.IntRange(1, 256), help=f"{note}Gaussians per state.  [default: 3]"),
        click.option("--iters", default=None, type=click.IntRange(0, 10000), help=f"{note}EM iterations at most at the final mixture size (and at most 8 at each smaller one).  [default: 14]"),
        click.option("--tol", default=None, type=_Range(0, 1, max_open=True), help=f"{note}Relative log-likelihood gain that ends EM early (0: never).  [default: 1e-3]"),
        click.option("--topology", default=None, type=click.Choice(["left-to-right", "ergodic"]), help=f"{note}State topology.  [default: left-to-right]"),
        click.option("--var-floor", default=None, type=_Range(0, 1, min_open=True, max_open=True), help=f"{note}Variance floor as a fraction of the global variance.  [default: 0.01]"),
        click.option("--seed", default=None, type=SEEDS, help=f"{note}Random seed (with cross-validation, also of the folds).  [default: 0]"),
        click.option("--noise-copies", default=None, type=_Range(0, 1), help=f"{note}Share of the recordings also trained on with noise added, 5-30 dB down (0: none).  [default: 0.25]"),
        click.option("--outlier-weight", default=None, type=_Range(0, 0.5, max_open=True), help=f"{note}Weight of the broad Gaussian shared by every state, which bounds what one frame no state explains can cost (0: none).  [default: 1e-4]"),
    ]

    def apply(command):
        for option in reversed(options):
            command = option(command)
        return command

    return apply


def _training_overrides(states, mix, iters, tol, topology, var_floor, seed, noise_copies, outlier_weight) -> dict:
    """The EM settings given on the command line, as TrainConfig fields."""
    given = dict(
        n_states=states, n_mix=mix, max_iter=iters, tol=tol, topology=topology, var_floor=var_floor, seed=seed,
        noise_copies=noise_copies, outlier_weight=outlier_weight,
    )
    return {k: v for k, v in given.items() if v is not None}


@cli.command()
@click.argument("data", type=click.Path(exists=True, readable=False))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, readable=False), help="Model file to write.")
@_training_options("")
@click.option("--sample-rate", default=None, type=click.IntRange(1000, 384000), help="Resample everything to this rate in Hz.  [default: the lowest rate in the data]")
@click.option("--jobs", "-j", default=0, type=click.IntRange(0, 256), help="Worker processes (0: one per CPU core).  Results do not depend on it.")
@click.option("--reject/--no-reject", default=True, help="Train a background model and calibrate a rejection threshold on held-out folds, so that 'recognize' can answer <unknown>.  [default: on]")
@click.option("--false-rejection", default=0.02, show_default=True, type=_Range(0, 0.5), help="Fraction of held-out in-vocabulary recordings the calibrated threshold may reject.")
@click.option("--speaker-warp", default=0.1, show_default=True, type=_Range(0, 0.3), help="Calibrate on held-out recordings whose formants are moved this fraction up or down, as if other speakers said them, so that new voices are not rejected as unknown words.  0: calibrate for the training speakers' voices (rejects more unknown words, and many answers for new speakers).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--no-trim", is_flag=True, help="Keep leading and trailing non-speech (by default it is cut, here and in recognition).")
def train(data, output, states, mix, iters, tol, topology, var_floor, seed, noise_copies, outlier_weight, sample_rate, jobs, reject, false_rejection, speaker_warp, quiet, no_trim):
    """Train one GMM-HMM per word on DATA and write the model file.

    DATA is a folder with one sub-folder per word (yes/ no/ stop/ ...), or a
    manifest file of 'path<TAB>word' lines.

    \b
    Example:
      wordrec train recordings/ -o words.model
    """
    import os

    from wordrec import corpus, model, pipeline
    from wordrec.augment import NoiseCopies
    from wordrec.features import FeatureConfig
    from wordrec.train import TrainConfig, fit_all

    if not reject:
        _refuse_given("--no-reject trains no rejection threshold", "false_rejection", "speaker_warp")
    train_cfg = TrainConfig(**_training_overrides(states, mix, iters, tol, topology, var_floor, seed, noise_copies, outlier_weight)).validated()
    found = corpus.load(data)
    for where, why in found.skipped:
        _say(f"Skipped: {where}: {why}")
    model.check_writable(output)
    rate, items, unreadable = pipeline.check_headers(found.items, sample_rate)
    _report_failures(unreadable)
    feature_cfg = FeatureConfig.for_rate(rate, trim=not no_trim)
    jobs = jobs or os.cpu_count() or 1
    with _progress(len(items), "Features", quiet) as bar:
        by_word, failures, copies = pipeline.features_by_word(
            items, feature_cfg, bar.update, words=found.words, jobs=jobs, noise=NoiseCopies.of(train_cfg)
        )
    _report_failures(failures)
    failures = unreadable + failures
    if not by_word:
        raise WordrecError(f"{data}: none of its {len(found.items)} recordings is usable (see above); no model written")
    if reject:
        # The rejection threshold is calibrated on models trained on
        # held-out folds; they train beside the final ones.
        from wordrec.openset import n_models, train_with_rejection

        with _progress(n_models(by_word), "Training and calibrating", quiet) as bar:
            models = train_with_rejection(
                by_word, feature_cfg, train_cfg, false_rejection, jobs=jobs, progress=lambda word: bar.update(1),
                copies=copies, speaker_warp=speaker_warp,
            )
    else:
        with _progress(len(by_word), "Training", quiet) as bar:
            models = fit_all(by_word, feature_cfg, train_cfg, jobs=jobs, progress=lambda word: bar.update(1), copies=copies)
    model.save(models, output)
    _print_train_summary(models)
    _say(f"Wrote {output}: {len(models.models)} words, {rate} Hz, {len(failures)} file(s) skipped.")


@cli.command(name="adapt")
@click.option("-m", "--model", "model_path", required=True, type=click.Path(readable=False), help="Model file from 'wordrec train'.")
@click.argument("data", type=click.Path(exists=True, readable=False))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, readable=False), help="Adapted model file to write.")
@click.option("--unlabelled", is_flag=True, help="DATA is a folder of recordings without labels (searched for audio files): each adapts the word it is recognised as, if the model accepts the answer.  Needs many recordings: about 10 a word.")
@click.option("--prior", default=10.0, show_default=True, type=_Range(0, 1e9, min_open=True), help="Weight of the trained means, in frames: larger keeps the model closer to its training voices.")
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
    import os

    from wordrec import corpus, loader, model, pipeline
    from wordrec.adapt import AdaptConfig

    models = loader.load(model_path)
    if unlabelled:
        files, skipped = corpus.expand([data])
    else:
        found = corpus.load(data)
        files, skipped = list(found.items), found.skipped
    for where, why in skipped:
        _say(f"Skipped: {where}: {why}")
    model.check_writable(output)
    with _progress(len(files), "Reading", quiet or len(files) < 50) as bar:
        feats, words, failures = pipeline.adaptation_features(
            models, files, bar.update, jobs or os.cpu_count() or 1, labelled=not unlabelled
        )
    _report_failures(failures)
    if unlabelled:
        adapted, used = pipeline.adapt_to_voice(models, feats, AdaptConfig(prior=prior))
    else:
        adapted, used = pipeline.adapt_to_speaker(models, feats, words, AdaptConfig(prior=prior))
    model.save(adapted, output)
    click.echo("word\trecordings")
    for word, n in used.items():
        click.echo(f"{word}\t{n}")
    _say(f"Wrote {output}: adapted on {sum(used.values())} recordings of {sum(n > 0 for n in used.values())} words, {len(failures)} file(s) skipped.")


def _print_train_summary(models) -> None:
    click.echo("word\trecordings\tnoisy_copies\tframes\tstates\titerations\tlog_lik_per_frame")
    for word, d in models.diagnostics["words"].items():
        # One log-likelihood per EM step at each mixture size, and the final one.
        iterations = sum(len(stage) for stage in d["log_lik"]) - 1
        click.echo(
            f"{word}\t{d['n_recordings']}\t{d.get('n_noisy_copies', 0)}\t{d['n_frames']}\t{d['n_states']}\t"
            f"{iterations}\t{d['log_lik_per_frame']:.3f}"
        )


@cli.command()
@click.option("-m", "--model", "model_path", required=True, type=click.Path(readable=False), help="Model file from 'wordrec train'.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(readable=False))
@click.option("--nbest", default=1, type=click.IntRange(1, 1000), help="List the best K words per file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list instead of tab-separated lines.")
@click.option("--threshold", default=None, type=_Range(0, 1), help="Reject answers whose confidence is below this.  [default: the model's calibrated threshold]")
@click.option("--no-reject", is_flag=True, help="Never answer <unknown> (the confidence is still printed).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--adapt", is_flag=True, help="The files are one speaker's: recognise them, adapt the models' means to them as recognised, and recognise them again.  Pays off from about 10 recordings a word; each answer then depends on the whole batch.")
@click.option("--segment", is_flag=True, help="Each file is a long take: find its words at the pauses and recognise each; one line per word, 'path<TAB>start_s<TAB>end_s<TAB>word<TAB>log-likelihood<TAB>confidence' (<unknown> below the threshold, as for single words).")
def recognize(model_path, paths, nbest, as_json, threshold, no_reject, quiet, adapt, segment):
    """Recognise the word spoken in each file (folders are searched for audio).

    Prints 'path<TAB>word<TAB>log-likelihood<TAB>confidence' per file.  The
    word is <unknown> when the confidence is below the model's rejection
    threshold (the log-likelihood is then the best word's).  With --nbest K
    (K > 1), the K best 'word<TAB>log-likelihood' pairs follow, best first.

    \b
    Examples:
      wordrec recognize -m words.model a.wav b.flac more/
      wordrec recognize -m words.model --adapt my_voice/    # one speaker's batch
    """
    from wordrec import corpus, loader, pipeline

    if adapt and segment:
        raise click.UsageError("--adapt works on a batch of single-word files, not with --segment")
    if no_reject:
        _refuse_given("--no-reject answers every file with a word", "threshold")

    models = loader.load(model_path)
    files, skipped = corpus.expand(paths)
    for where, why in skipped:
        _say(f"Skipped: {where}: {why}")
    if segment:
        return _recognize_segments(
            models, files, nbest, as_json, quiet, pipeline.rejection_threshold(models, threshold, not no_reject)
        )
    with _progress(len(files), "Recognising", quiet or len(files) < 50) as bar:
        answers = pipeline.recognize_files(models, files, nbest, bar.update, threshold, not no_reject, _adaptation(adapt))
    failed = [a.failure for a in answers if a.failure]
    _report_failures(failed)
    if as_json:
        _dump_json([_answer_json(a) for a in answers if a.failure is None])
    else:
        for a in answers:
            if a.failure is None:
                conf = "-" if a.confidence is None else f"{a.confidence:.3f}"
                line = f"{_shown(a.path)}\t{a.word}\t{_fmt(a.ranked.log_lik)}\t{conf}"
                if nbest > 1:
                    line += "".join(f"\t{w}\t{_fmt(s)}" for w, s in zip(a.ranked.words, a.ranked.log_liks))
                click.echo(line)
    if failed:
        sys.exit(EXIT_SOME_FAILED)


def _recognize_segments(models, files, nbest, as_json, quiet, threshold) -> None:
    """recognize --segment: stream each take, print each word as it is found."""
    from wordrec import segment

    failed, found = [], []
    for path in files:
        n_found = 0
        try:
            rate, total = segment.length(path)
            with _progress(total, f"Segmenting {path}", quiet or total < 60 * rate) as bar:
                for seg in segment.segment_file(models, path, nbest, bar.update):
                    n_found += 1
                    if as_json:
                        found.append(_segment_json(seg, threshold))
                    else:
                        click.echo(_segment_line(seg, nbest, threshold))
        except WordrecError as exc:
            failed.append(str(exc))
            _say(f"Error: {exc}")
            continue
        if n_found == 0:
            failed.append(f"{path}: no speech found")
            _say(f"Error: {path}: no speech found")
    if as_json:
        _dump_json(found)
    if failed:
        sys.exit(EXIT_SOME_FAILED)


def _adaptation(adapt: bool):
    """The AdaptConfig for --adapt, or None without it."""
    if not adapt:
        return None
    from wordrec.adapt import AdaptConfig

    return AdaptConfig()


def _segment_word(seg, threshold: float) -> str:
    from wordrec.confidence import UNKNOWN

    if seg.ranked is None or (seg.confidence is not None and seg.confidence < threshold):
        return UNKNOWN
    return seg.ranked.best


def _segment_line(seg, nbest: int, threshold: float) -> str:
    head = f"{_shown(seg.path)}\t{seg.start_s:.3f}\t{seg.end_s:.3f}"
    if seg.ranked is None:
        return f"{head}\t<unknown>\t-inf\t-"
    conf = "-" if seg.confidence is None else f"{seg.confidence:.3f}"
    line = f"{head}\t{_segment_word(seg, threshold)}\t{_fmt(seg.ranked.log_lik)}\t{conf}"
    if nbest > 1:
        line += "".join(f"\t{w}\t{_fmt(s)}" for w, s in zip(seg.ranked.words, seg.ranked.log_liks))
    return line


def _segment_json(seg, threshold: float) -> dict:
    ranked = seg.ranked
    return {
        "path": seg.path,
        "start_s": seg.start_s,
        "end_s": seg.end_s,
        "word": _segment_word(seg, threshold),
        "best_word": ranked.best if ranked else None,
        "log_lik": ranked.log_lik if ranked else None,
        "confidence": seg.confidence,
        "n_frames": seg.n_frames,
        "nbest": [{"word": w, "log_lik": s} for w, s in zip(ranked.words, ranked.log_liks)] if ranked else [],
    }


def _answer_json(a) -> dict:
    return {
        "path": a.path,
        "word": a.word,
        "best_word": a.ranked.best,
        "log_lik": a.ranked.log_lik,
        "confidence": a.confidence,
        "accepted": a.accepted,
        "n_frames": a.n_frames,
        "nbest": [{"word": w, "log_lik": s} for w, s in zip(a.ranked.words, a.ranked.log_liks)],
    }


def _group_regex(ctx, param, value):
    if value is None:
        return None
    from wordrec.crossval import compile_group_regex

    try:
        compile_group_regex(value)
    except WordrecError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@cli.command(name="eval")
@click.option("-m", "--model", "model_path", default=None, type=click.Path(readable=False), help="Model file from 'wordrec train'.  Not with --folds/--group-by.")
@click.argument("data", type=click.Path(exists=True, readable=False))
@click.option("--folds", default=None, type=click.IntRange(2, 100000), help="Cross-validate instead: K folds stratified by word, each trained here.")
@click.option("--group-by", "group_by", default=None, metavar="REGEX", callback=_group_regex, help="Cross-validate leaving one group out; a file's group is the first capture group of REGEX searched in its name, e.g. '_([a-z]+)_'.")
@_training_options("With cross-validation: ")
@click.option("--sample-rate", default=None, type=click.IntRange(1000, 384000), help="With cross-validation: resample to this rate in Hz.  [default: the lowest rate in the data]")
@click.option("--jobs", "-j", default=None, type=click.IntRange(0, 256), help="With cross-validation: worker processes (0: one per CPU core).  Results do not depend on it.")
@click.option("--oov", "oov_dir", default=None, type=click.Path(exists=True, file_okay=False, readable=False), help="With -m: a folder of out-of-vocabulary recordings; reports false rejections, false acceptances, the equal error rate and the DET points.")
@click.option("--threshold", default=None, type=_Range(0, 1), help="With --oov: the rejection threshold.  [default: the model's]")
@click.option("--adapt", is_flag=True, help="Adapt the models to the test files before they answer, as 'recognize --adapt' does: with -m, to all of DATA (and --oov) as one speaker; with --folds/--group-by, to each fold's test files in turn (fold models have no rejection calibration, so every answer adapts them).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def evaluate(model_path, data, folds, group_by, states, mix, iters, tol, topology, var_floor, seed, noise_copies, outlier_weight, sample_rate, jobs, oov_dir, threshold, adapt, as_json, quiet):
    """Report accuracy and confusions on a labelled set, or cross-validate.

    DATA is laid out as for 'wordrec train'.  With -m MODEL, recognises DATA
    with that model.  With --folds K or --group-by REGEX instead, trains on
    all folds but one with the training options of 'wordrec train' and
    tests on the one left out, in turn; prints each fold's accuracy, the
    mean and the worst, then the pooled report.  Reports hold overall and
    per-word accuracy, the confusion matrix (rows = truth, columns =
    recognised) and the misrecognised files.

    \b
    Examples:
      wordrec eval -m words.model test/
      wordrec eval recordings/ --folds 5 --seed 1
      wordrec eval recordings/ --group-by '_([a-z]+)_'    # leave one speaker out
      wordrec eval recordings/ --group-by '_([a-z]+)_' --adapt    # ... adapted to them
    """
    cv_options = _training_overrides(states, mix, iters, tol, topology, var_floor, seed, noise_copies, outlier_weight)
    if folds is not None and group_by is not None:
        raise click.UsageError("--folds and --group-by are two ways to cross-validate: give one")
    cross = folds is not None or group_by is not None
    if model_path is not None and cross:
        raise click.UsageError("-m/--model evaluates a trained model; --folds/--group-by train their own: give one or the other")
    if model_path is None and not cross:
        raise click.UsageError("give -m MODEL to evaluate a model, or --folds K / --group-by REGEX to cross-validate")
    if (oov_dir is not None or threshold is not None) and model_path is None:
        raise click.UsageError("--oov and --threshold need -m MODEL")
    if threshold is not None and oov_dir is None:
        raise click.UsageError("--threshold applies to the --oov report: give --oov DIR too")
    if model_path is not None and (cv_options or sample_rate is not None or jobs is not None):
        raise click.UsageError("training options (--states, --mix, --seed, -j, ...) apply only with --folds or --group-by")
    if cross:
        _cross_validate(data, folds, group_by, cv_options, sample_rate, jobs, as_json, quiet, _adaptation(adapt))
        return

    from wordrec import corpus, loader, pipeline

    models = loader.load(model_path)
    found = corpus.load(data)
    for where, why in found.skipped:
        _say(f"Skipped: {where}: {why}")
    if oov_dir is not None:
        oov_files, skipped = corpus.expand([oov_dir])
        for where, why in skipped:
            _say(f"Skipped: {where}: {why}")
        total = len(found.items) + len(oov_files)
        with _progress(total, "Evaluating", quiet or total < 50) as bar:
            rep, failures = pipeline.evaluate_open_set(
                models, list(found.items), oov_files, bar.update, threshold, _adaptation(adapt)
            )
    else:
        with _progress(len(found.items), "Evaluating", quiet or len(found.items) < 50) as bar:
            rep, failures = pipeline.evaluate_corpus(models, list(found.items), bar.update, _adaptation(adapt))
    _report_failures(failures)
    if as_json:
        _dump_json(rep)
    else:
        click.echo(_open_set_text(rep) if oov_dir is not None else _eval_text(rep))
    if failures:
        sys.exit(EXIT_SOME_FAILED)


def _cross_validate(data, folds, group_by, cv_options, sample_rate, jobs, as_json, quiet, adapt=None) -> None:
    import os

    from wordrec import corpus, crossval, pipeline
    from wordrec.features import FeatureConfig
    from wordrec.train import TrainConfig

    train_cfg = TrainConfig(**cv_options).validated()
    found = corpus.load(data)
    for where, why in found.skipped:
        _say(f"Skipped: {where}: {why}")
    items = list(found.items)
    if group_by is not None:
        for p, _ in crossval.ungrouped(items, group_by):
            _say(f"Skipped: {p}: file name does not match --group-by {group_by!r}")
        split = crossval.by_group(items, group_by)
        method = {"method": "group-by", "regex": group_by}
    else:
        split = crossval.kfold(items, folds, train_cfg.seed)
        method = {"method": "folds", "folds": folds, "seed": train_cfg.seed}
    used = sorted({str(p) for _, _, test in split for p, _ in test})
    rate, unreadable = pipeline.pick_rate(used, sample_rate)
    with _progress(len(used), "Features", quiet) as files_bar, _progress(len(split), "Folds", quiet) as folds_bar:
        rep, failures = crossval.cross_validate(
            split,
            FeatureConfig.for_rate(rate),
            train_cfg,
            jobs=jobs or os.cpu_count() or 1,
            progress=files_bar.update,
            fold_progress=lambda name: folds_bar.update(1),
            adapt=adapt,
        )
    for f in rep["folds"]:
        for w in f["missing_words"]:
            _say(f"Note: fold {f['name']}: no training recordings of {w!r}, so its test files count as errors")
    failures = unreadable + [f for f in failures if f.path not in {u.path for u in unreadable}]
    _report_failures(failures)
    rep["n_failed"] = len(failures)
    rep["cross_validation"] = method
    rep["adapted"] = adapt is not None
    if as_json:
        _dump_json(rep)
    else:
        click.echo(_cv_text(rep))
    if failures:
        sys.exit(EXIT_SOME_FAILED)


def _pct(x) -> str:
    return "-" if x is None else f"{x * 100:.2f}%"


def _cv_text(rep: dict) -> str:
    lines = ["fold\tfiles\tcorrect\taccuracy"]
    lines += [f"{f['name']}\t{f['n_files']}\t{f['n_correct']}\t{_pct(f['accuracy'])}" for f in rep["folds"]]
    worst = [f["name"] for f in rep["folds"] if f["accuracy"] is not None and f["accuracy"] == rep["worst_accuracy"]]
    lines += [f"mean\t\t\t{_pct(rep['mean_accuracy'])}", f"worst\t\t\t{_pct(rep['worst_accuracy'])}\t({', '.join(worst)})"]
    lines += ["", f"pooled over {len(rep['folds'])} folds", _eval_text(rep)]
    return "\n".join(lines)


def _open_set_text(rep: dict) -> str:
    lines = [
        f"in-vocabulary accuracy\t{_pct(rep['closed_set_accuracy'])}\t(closed set, {rep['n_in_vocabulary']} files)",
        f"false rejections\t{_pct(rep['false_rejection'])}\t(in-vocabulary files answered <unknown>)",
        f"false acceptances\t{_pct(rep['false_acceptance'])}\t({rep['n_out_of_vocabulary']} out-of-vocabulary files given a word)",
        f"threshold\t{rep['threshold']:.3f}",
        f"equal error rate\t{_pct(rep['eer'])}",
        "",
    ]
    return "\n".join(lines) + _eval_text(rep)


def _eval_text(rep: dict) -> str:
    from wordrec.evaluate import confusion_table

    lines = [f"accuracy\t{rep['accuracy'] * 100:.2f}%\t({rep['n_correct']}/{rep['n_files']})", ""]
    lines.append("word\tfiles\tcorrect\taccuracy")
    for w, d in rep["per_word"].items():
        lines.append(f"{w}\t{d['n_files']}\t{d['n_correct']}\t{d['accuracy'] * 100:.1f}%")
    lines += ["", "confusion (rows = truth, columns = recognised)", confusion_table(rep)]
    if rep["errors"]:
        lines += ["", "misrecognised"]
        lines += [f"{_shown(e['path'])}\t{e['truth']}\t->\t{e['recognized']}" for e in rep["errors"]]
    return "\n".join(lines)


def _terminate(signum, frame):
    # SIGTERM unwinds like Ctrl-C, so temporary files are removed on the way out.
    raise KeyboardInterrupt


def _one_blas_thread() -> None:
    # wordrec parallelises over words with processes; a multi-threaded BLAS in
    # each of them oversubscribes the cores (measured: 6x slower training on
    # 2 cores).  Must run before numpy is first imported; the user may override.
    import os

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def main() -> None:
    import signal

    _one_blas_thread()
    signal.signal(signal.SIGTERM, _terminate)
    cli(prog_name="wordrec")
