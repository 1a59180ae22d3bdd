"""What every command shares: exit codes, stderr lines, progress bars, JSON output, option types."""

from __future__ import annotations

import json
import re
import sys

import click

EXIT_ERROR = 1
EXIT_SOME_FAILED = 3
EXIT_INTERRUPTED = 130

# Control characters (a tab or newline in a file name) would break the one
# line per file and the tab-separated columns: they are shown escaped.
_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(32), *range(127, 160)]} | {9: "\\t", 10: "\\n", 13: "\\r"}


def shown(text) -> str:
    """``text`` with control characters escaped, fit for one line of output."""
    return str(text).translate(_ESCAPES)


def say(message: str) -> None:
    """One line on stderr."""
    click.echo(shown(message), err=True)


def report_failures(failures) -> None:
    for f in failures:
        say(f"Error: {f.message}")


def report_skipped(skipped) -> None:
    for where, why in skipped:
        say(f"Skipped: {where}: {why}")


def progress(total: int, label: str, quiet: bool):
    """A progress bar on stderr (a no-op context when quiet or empty)."""
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


class Bars:
    """A job's events (:class:`wordrec.jobs.events.Events`) shown on stderr.

    Each stage gets a progress bar (none when ``quiet``, or for stages of
    fewer than ``least`` units); failures are printed as ``Error:`` lines,
    passed-over inputs as ``Skipped:`` lines and warnings as ``Warning:``
    lines, as they happen.  Use as a context manager, so that the last bar
    is closed.  Counts what it printed.
    """

    def __init__(self, quiet: bool = False, least: int = 1):
        from wordrec.jobs.events import Events

        self.quiet, self.least = quiet, least
        self._bar = None
        self.n_failed = self.n_skipped = 0
        outer = self

        class _Shown(Events):
            def stage(self, name, total):
                outer._close()
                if not outer.quiet and total >= max(1, outer.least):
                    outer._bar = progress(total, name, False).__enter__()

            def advance(self, n=1):
                if outer._bar is not None:
                    outer._bar.update(n)

            def skipped(self, where, why):
                outer.n_skipped += 1
                outer._line(f"Skipped: {where}: {why}")

            def failed(self, failure):
                outer.n_failed += 1
                outer._line(f"Error: {failure.message}")

            def warn(self, message):
                outer._line(f"Warning: {message}")

        self.events = _Shown()

    def _line(self, text: str) -> None:
        if self._bar is not None:
            click.echo("", err=True)  # below the bar, not inside it
        say(text)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._close()
        return False


def dump_json(obj) -> None:
    """``obj`` as indented JSON on stdout, always valid UTF-8."""
    click.echo(json_text(obj, indent=2))


def json_text(obj, indent: int | None = None) -> str:
    # A file name that is not UTF-8 holds lone surrogates (Python's stand-ins
    # for its bytes); written raw they would make the output invalid UTF-8,
    # so they are written as JSON escapes, as ensure_ascii would.
    text = json.dumps(obj, indent=indent, ensure_ascii=False)
    return re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text)


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 word``, ``2 words``."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def listed_above(n_skipped: int, n_errors: int) -> str:
    """``; 2 files skipped and 1 error, listed above`` for the lines printed on stderr, or ``""``."""
    parts = ([count(n_skipped, "file") + " skipped"] if n_skipped else []) + ([count(n_errors, "error")] if n_errors else [])
    return f"; {' and '.join(parts)}, listed above" if parts else ""


def fmt(x: float) -> str:
    return f"{x:.3f}"


def refuse_given(why: str, *names: str) -> None:
    """A usage error if any of these options was given on the command line."""
    ctx = click.get_current_context()
    given = [p.opts[0] for p in ctx.command.params if p.name in names and ctx.get_parameter_source(p.name) == click.core.ParameterSource.COMMANDLINE]
    if given:
        raise click.UsageError(f"{why}: {' and '.join(given)} would have no effect")


class Range(click.FloatRange):
    """click.FloatRange without NaN, which it lets through (every comparison
    with NaN is false)."""

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        if value != value:
            self.fail("must be a number, not nan", param, ctx)
        return value


SEEDS = click.IntRange(0, 2**32 - 1)


def adaptation(adapt: bool):
    """The AdaptConfig for --adapt, or None without it."""
    if not adapt:
        return None
    from wordrec.core.adapt import AdaptConfig

    return AdaptConfig()


def cores(jobs: int | None) -> int:
    """Worker processes for ``-j``: 0 or None means one per core."""
    import os

    return jobs or os.cpu_count() or 1


def memory_bytes(text: str | None) -> int | None:
    """``--memory``: a size such as ``1500M``, ``2G`` or ``2GiB`` (bytes without a unit), or None."""
    import re

    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([kmgt]?)(?:i?b)?\s*", text, flags=re.IGNORECASE)
    value = float(m.group(1)) * 1024 ** " kmgt".index(m.group(2).lower() or " ") if m else 0
    if not 1 <= value < 2**50:
        raise click.BadParameter(f"{text!r} is not a size (e.g. 1500M, 2G)", param_hint="'--memory'")
    return int(value)


def memory_option(command):
    """``--memory SIZE`` for commands that run worker processes."""
    return click.option(
        "--memory", default=None, metavar="SIZE",
        help="Memory for the worker processes, e.g. 2G or 1500M: it caps how many run (each holds a bounded amount "
        "whatever the corpus, and the parent's index of the corpus is on disk).  "
        "[default: a quarter of the machine's memory]",
    )(command)


def workers(jobs: int | None, memory: str | None) -> int:
    """``-j`` and ``--memory`` as a number of worker processes."""
    from wordrec.jobs.parallel import jobs_within

    return jobs_within(cores(jobs), memory_bytes(memory))


def scheduler_option(command):
    """``--scheduler ADDRESS`` for commands whose work can go to a Dask cluster."""
    return click.option(
        "--scheduler", default=None, metavar="ADDRESS",
        help="Send the work to a dask.distributed cluster: a scheduler's address (tcp://host:8786), or local:N "
        "for N worker processes on this machine.  Needs wordrec[dask]; the workers read the files, so on several "
        "machines they must be on shared storage (and TMPDIR too, for train's feature cache).",
    )(command)


def voices_option(note: str = ""):
    """``--new-voices/--known-voices``: which calibrated operating point answers (None: the default)."""
    from wordrec.core.defaults import NEW_VOICES_BY_DEFAULT

    default = "--new-voices" if NEW_VOICES_BY_DEFAULT else "--known-voices"
    return click.option(
        "--new-voices/--known-voices", "new_voices", default=None,
        help=f"{note}The speakers are not among the training speakers (--new-voices): answer with the model's "
             "calibration for new voices, which accepts more of their words and more unknown words; or they are "
             f"(--known-voices): the calibration for voices like the training ones.  [default: {default}]",
    )
