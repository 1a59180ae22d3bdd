"""wordrec recognize: the word of each file, or the words of long takes (--segment)."""

from __future__ import annotations

import sys

import click

from wordrec.cli.common import (
    EXIT_SOME_FAILED,
    Bars,
    Range,
    dump_json,
    memory_option,
    progress,
    refuse_given,
    report_skipped,
    say,
    scheduler_option,
    shown,
    voices_option,
    workers,
)
from wordrec.cli.text import (
    answer_json,
    answer_line,
    segment_json,
    segment_line,
    silent_segment,
)
from wordrec.core.labels import SILENCE
from wordrec.errors import WordrecError


@click.command()
@click.option("-m", "--model", "model_path", required=True, type=click.Path(readable=False), help="Model file from 'wordrec train'.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(readable=False))
@click.option("--nbest", default=1, type=click.IntRange(1, 1000), help="List the best K words per file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list instead of tab-separated lines.")
@click.option("--threshold", default=None, type=Range(0, 1), help="Reject answers whose confidence is below this.  [default: the model's calibrated threshold]")
@click.option("--no-reject", is_flag=True, help="Never answer <unknown> (the confidence is still printed).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--adapt", is_flag=True, help="The files are one speaker's: recognise them, adapt the models' means to them as recognised, and recognise them again.  Pays off from about 10 recordings a word; each answer then depends on the whole batch.")
@voices_option()
@click.option("--jobs", "-j", default=0, type=click.IntRange(0, 256), help="Worker processes (0: one per CPU core).  Answers do not depend on it.")
@memory_option
@scheduler_option
@click.option("--segment", is_flag=True, help="Each file is a long take: find its words at the pauses and recognise each; one line per word, 'path<TAB>start_s<TAB>end_s<TAB>word<TAB>log-likelihood<TAB>confidence' (<unknown> below the threshold, as for single words).")
@click.option("--rate", default=None, type=click.IntRange(1000, 768000), help="With '-' (a recording on stdin) in raw PCM: its sample rate in Hz.  [default: 16000]")
@click.option("--format", "fmt", default=None, type=click.Choice(["s16le", "s32le", "f32le"]), help="With '-' in raw PCM: its sample format.  [default: s16le]")
@click.option("--channels", default=None, type=click.IntRange(1, 256), help="With '-' in raw PCM: its channels.  [default: 1]")
def recognize(model_path, paths, nbest, as_json, threshold, no_reject, quiet, adapt, new_voices, jobs, memory, scheduler, segment, rate, fmt, channels):
    """Recognise the word spoken in each file (folders are searched for audio).

    Prints 'path<TAB>word<TAB>log-likelihood<TAB>confidence' per file.  The
    word is <unknown> when the confidence is below the model's rejection
    threshold (the log-likelihood is then the best word's).  With --nbest K
    (K > 1), the K best 'word<TAB>log-likelihood' pairs follow, best first.

    \b
    Examples:
      wordrec recognize -m words.model a.wav b.flac more/
      wordrec recognize -m words.model --adapt my_voice/    # one speaker's batch
      sox word.flac -t wav - | wordrec recognize -m words.model -    # stdin: WAV, FLAC or raw PCM
    """
    from wordrec.api import Recognizer
    from wordrec.io import corpus
    from wordrec.jobs.recognition import rejection_threshold

    if adapt and segment:
        raise click.UsageError("--adapt works on a batch of single-word files, not with --segment")
    if no_reject:
        refuse_given("--no-reject answers every file with a word", "threshold")

    stdin = "-" in paths
    if stdin and (len(paths) > 1 or adapt):
        raise click.UsageError("'-' (a recording on stdin) is read alone, without --adapt")
    if not stdin:
        refuse_given("--rate, --format and --channels describe raw audio on stdin ('-')", "rate", "fmt", "channels")
    rec = Recognizer.load(model_path)
    if stdin:
        files = [_stdin(segment, rate, fmt, channels)]
    else:
        files, skipped = corpus.expand(paths)
        report_skipped(skipped)
    if segment:
        models = rec.model_
        limit = rejection_threshold(models, threshold, not no_reject, new_voices)
        return _recognize_segments(models, files, nbest, as_json, quiet, limit, new_voices)
    rec.jobs = workers(jobs, memory)
    from wordrec.jobs.parallel import cluster

    with cluster(scheduler):
        _recognize_files(rec, files, nbest, as_json, threshold, no_reject, quiet, adapt, new_voices)


def _recognize_files(rec, files, nbest, as_json, threshold, no_reject, quiet, adapt, new_voices) -> None:
    """recognize without --segment: one line per file (all at the end with --adapt or --json)."""
    if adapt or as_json:
        with Bars(quiet, least=50) as bars:
            results = rec.recognize(files, nbest=nbest, threshold=threshold, reject=not no_reject, adapt=adapt,
                                    progress=bars.events, new_voices=new_voices)
        failed = [r.failure for r in results if r.failure]
        for message in failed:
            say(f"Error: {message}")
        for r in results:
            if r.note:
                say(f"Note: {r.note}")
        if as_json:
            dump_json([answer_json(r) for r in results if r.failure is None])
        else:
            for r in results:
                if r.failure is None:
                    click.echo(answer_line(r, nbest))
    else:
        # One line per file as soon as it and those before it are answered.
        failed = []
        with Bars(quiet, least=50) as bars:
            for r in rec.iter_recognize(files, nbest=nbest, threshold=threshold, reject=not no_reject,
                                        progress=bars.events, new_voices=new_voices):
                if r.failure:
                    failed.append(r.failure)
                    say(f"Error: {r.failure}")
                    continue
                if r.note:
                    say(f"Note: {r.note}")
                click.echo(answer_line(r, nbest))
    if failed:
        sys.exit(EXIT_SOME_FAILED)


def _stdin(segment: bool, rate, fmt, channels):
    """The recording on stdin (read whole), or with --segment the take on it as a stream."""
    from wordrec.io import sources

    try:
        return sources.open_source("-", rate, fmt, channels) if segment else sources.read_stdin(rate, fmt, channels)
    except WordrecError as exc:  # the one input failed, as a file that cannot be read does
        say(f"Error: {exc}")
        sys.exit(EXIT_SOME_FAILED)


def _recognize_segments(models, files, nbest, as_json, quiet, threshold, new_voices=None) -> None:
    """recognize --segment: stream each take, print each word as it is found."""
    from wordrec.jobs import segmenting

    failed, found = [], []
    for path in files:
        n_found, seen = 0, [0]
        try:
            rate, total = segmenting.length(path)  # a stream's is unknown: 0
            with progress(total, f"Segmenting {path}", quiet or total < 60 * rate) as bar:
                def advance(n: int) -> None:
                    seen[0] += n
                    bar.update(n)

                for seg in segmenting.segment_file(models, path, nbest, advance, new_voices=new_voices):
                    n_found += 1
                    if as_json:
                        found.append(segment_json(seg, threshold))
                    else:
                        click.echo(segment_line(seg, nbest, threshold))
        except WordrecError as exc:
            failed.append(str(exc))
            say(f"Error: {exc}")
            continue
        if n_found == 0:  # a take with no speech in it is answered as a recording would be
            quiet_take = silent_segment(path, seen[0] / rate)
            if as_json:
                found.append(quiet_take)
            else:
                click.echo(f"{shown(path)}\t0.000\t{quiet_take['end_s']:.3f}\t{SILENCE}\t-\t-")
    if as_json:
        dump_json(found)
    if failed:
        sys.exit(EXIT_SOME_FAILED)
