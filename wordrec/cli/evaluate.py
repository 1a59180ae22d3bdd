"""wordrec eval: accuracy and confusions of a model on labelled data, open-set rates, or cross-validation."""

from __future__ import annotations

import sys

import click

from wordrec.cli.common import (
    EXIT_SOME_FAILED,
    Range,
    adaptation,
    cores,
    count,
    dump_json,
    memory_option,
    progress,
    report_failures,
    report_skipped,
    say,
    scheduler_option,
    voices_option,
    workers,
)
from wordrec.cli.text import cv_text, eval_text, open_set_text
from wordrec.cli.train import training_options, training_overrides
from wordrec.errors import WordrecError


def _group_regex(ctx, param, value):
    if value is None:
        return None
    from wordrec.jobs.crossval import compile_group_regex

    try:
        compile_group_regex(value)
    except WordrecError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@click.command(name="eval")
@click.option("-m", "--model", "model_path", default=None, type=click.Path(readable=False), help="Model file from 'wordrec train'.  Not with --folds/--group-by.")
@click.argument("data", type=click.Path(exists=True, readable=False))
@click.option("--folds", default=None, type=click.IntRange(2, 100000), help="Cross-validate instead: K folds stratified by word, each trained here.")
@click.option("--group-by", "group_by", default=None, metavar="REGEX", callback=_group_regex, help="Cross-validate leaving one group out; a file's group is the first capture group of REGEX searched in its name, e.g. '_([a-z]+)_'.")
@training_options("With cross-validation: ")
@click.option("--sample-rate", default=None, type=click.IntRange(1000, 384000), help="With cross-validation: resample to this rate in Hz.  [default: the lowest rate in the data]")
@click.option("--jobs", "-j", default=None, type=click.IntRange(0, 256), help="Worker processes (0: one per CPU core).  Results do not depend on it.  [default: 0]")
@click.option("--oov", "oov_dir", default=None, type=click.Path(exists=True, file_okay=False, readable=False), help="With -m: a folder of out-of-vocabulary recordings; reports false rejections, false acceptances, the equal error rate and the DET points.")
@click.option("--threshold", default=None, type=Range(0, 1), help="With --oov: the rejection threshold.  [default: the model's]")
@voices_option("With --oov: ")
@click.option("--adapt", is_flag=True, help="Adapt the models to the test files before they answer, as 'recognize --adapt' does: with -m, to all of DATA (and --oov) as one speaker; with --folds/--group-by, to each fold's test files in turn (fold models have no rejection calibration, so every answer adapts them).")
@memory_option
@scheduler_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--plot", "plot", default=None, type=click.Path(dir_okay=False, readable=False), help="Draw the confusion matrix, with --oov the DET curve beside it, with --folds/--group-by the accuracy per fold (.png, .svg or .pdf; needs matplotlib).")
@click.option("--csv", "csv_path", default=None, type=click.Path(dir_okay=False, readable=False), help="Write the confusion matrix as CSV (rows = truth).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def evaluate(model_path, data, folds, group_by, states, mix, iters, tol, topology, var_floor, seed, noise_copies, outlier_weight, sample_rate, jobs, oov_dir, threshold, new_voices, adapt, memory, scheduler, as_json, plot, csv_path, quiet):
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
    cv_options = training_overrides(states, mix, iters, tol, topology, var_floor, seed, noise_copies, outlier_weight)
    if folds is not None and group_by is not None:
        raise click.UsageError("--folds and --group-by are two ways to cross-validate: give one")
    cross = folds is not None or group_by is not None
    if model_path is not None and cross:
        raise click.UsageError("-m/--model evaluates a trained model; --folds/--group-by train their own: give one or the other")
    if model_path is None and not cross:
        raise click.UsageError("give -m MODEL to evaluate a model, or --folds K / --group-by REGEX to cross-validate")
    if (oov_dir is not None or threshold is not None or new_voices is not None) and model_path is None:
        raise click.UsageError("--oov, --threshold and --new-voices/--known-voices need -m MODEL")
    if (threshold is not None or new_voices is not None) and oov_dir is None:
        raise click.UsageError("--threshold and --new-voices/--known-voices apply to the --oov report: give --oov DIR too")
    if model_path is not None and (cv_options or sample_rate is not None):
        raise click.UsageError("training options (--states, --mix, --seed, ...) apply only with --folds or --group-by")
    _check_report_files(plot, csv_path)
    from wordrec.jobs.parallel import cluster

    with cluster(scheduler):
        if cross:
            _cross_validate(data, folds, group_by, cv_options, sample_rate, workers(jobs, memory), as_json, quiet,
                            adaptation(adapt), plot, csv_path)
        else:
            _evaluate_model(model_path, data, oov_dir, threshold, new_voices, adapt, workers(jobs, memory), as_json,
                            quiet, plot, csv_path)


def _evaluate_model(model_path, data, oov_dir, threshold, new_voices, adapt, jobs, as_json, quiet, plot, csv_path) -> None:
    """eval -m MODEL: the report of the model on DATA (and --oov)."""
    from wordrec.io import corpus, modelfile
    from wordrec.jobs.evaluation import (
        evaluate_corpus,
        evaluate_open_set,
        words_not_in_model,
    )

    models = modelfile.load(model_path)
    found = corpus.load(data)
    report_skipped(found.skipped)
    missing = words_not_in_model(models, found.items)
    if missing:
        which = ", ".join(f"{w!r} ({count(n, 'file')})" for w, n in missing.items())
        say(f"Note: the model has no word {which}: those files can only count as errors")
    if oov_dir is not None:
        oov_files, skipped = corpus.expand([oov_dir])
        report_skipped(skipped)
        total = len(found.items) + len(oov_files)
        with progress(total, "Evaluating", quiet or total < 50) as bar:
            rep, failures = evaluate_open_set(
                models, list(found.items), oov_files, bar.update, threshold, adaptation(adapt), new_voices, jobs
            )
    else:
        with progress(len(found.items), "Evaluating", quiet or len(found.items) < 50) as bar:
            rep, failures = evaluate_corpus(models, found.items, bar.update, adaptation(adapt), jobs)
    report_failures(failures)
    _write_report_files(rep, plot, csv_path)
    if as_json:
        dump_json(rep)
    else:
        click.echo(open_set_text(rep) if oov_dir is not None else eval_text(rep))
    if failures:
        sys.exit(EXIT_SOME_FAILED)


def _cross_validate(data, folds, group_by, cv_options, sample_rate, jobs, as_json, quiet, adapt=None, plot=None, csv_path=None) -> None:
    from wordrec.core.features import FeatureConfig
    from wordrec.core.train import TrainConfig
    from wordrec.io import corpus
    from wordrec.jobs import crossval
    from wordrec.jobs.featurise import pick_rate

    train_cfg = TrainConfig(**cv_options).validated()
    found = corpus.load(data)
    report_skipped(found.skipped)
    items = list(found.items)
    if group_by is not None:
        split = crossval.by_group(items, group_by)  # fails first if the pattern finds too few groups
        for p, _ in crossval.ungrouped(items, group_by):
            say(f"Skipped: {p}: file name does not match --group-by {group_by!r}")
        method = {"method": "group-by", "regex": group_by}
    else:
        split = crossval.kfold(items, folds, train_cfg.seed)
        method = {"method": "folds", "folds": folds, "seed": train_cfg.seed}
    used = sorted({str(p) for _, _, test in split for p, _ in test})
    rate, unreadable = pick_rate(used, sample_rate)
    with progress(len(used), "Features", quiet) as files_bar, progress(len(split), "Folds", quiet) as folds_bar:
        rep, failures = crossval.cross_validate(
            split,
            FeatureConfig.for_rate(rate),
            train_cfg,
            jobs=cores(jobs),
            progress=files_bar.update,
            fold_progress=lambda name: folds_bar.update(1),
            adapt=adapt,
        )
    for f in rep["folds"]:
        for w in f["missing_words"]:
            say(f"Note: fold {f['name']}: no training recordings of {w!r}, so its test files count as errors")
    failures = unreadable + [f for f in failures if f.path not in {u.path for u in unreadable}]
    report_failures(failures)
    rep["n_failed"] = len(failures)
    rep["cross_validation"] = method
    rep["adapted"] = adapt is not None
    _write_report_files(rep, plot, csv_path)
    if as_json:
        dump_json(rep)
    else:
        click.echo(cv_text(rep))
    if failures:
        sys.exit(EXIT_SOME_FAILED)


def _check_report_files(plot, csv_path) -> None:
    """--plot/--csv: refuse unusable names (and a missing matplotlib) before the evaluation runs."""
    if plot is not None:
        from wordrec.api.plots import check_picture

        check_picture(plot)
    if csv_path is not None:
        from wordrec.jobs.show import check_output

        check_output(csv_path)


def _write_report_files(rep: dict, plot, csv_path) -> None:
    """--plot/--csv: the picture and the CSV of a finished report."""
    if csv_path is not None:
        from wordrec.jobs.show import write_confusion_csv

        write_confusion_csv(rep, csv_path)
    if plot is not None:
        from wordrec.api.plots import eval_figure

        eval_figure(rep, plot)
