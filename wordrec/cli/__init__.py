"""The command line: parse, call the jobs, format.  No maths, no file logic here.

stdout carries results (tab-separated, or JSON with ``--json``); stderr
carries progress and diagnostics.  Exit codes: 0 success, 1 error (nothing
useful done), 2 usage error, 3 some inputs failed (the others were
answered), 130 interrupted.  Heavy modules are imported inside the commands
so that ``--help`` stays fast.
"""

from __future__ import annotations

import sys

import click

from wordrec import __version__
from wordrec.cli.adapt import adapt
from wordrec.cli.common import EXIT_ERROR, EXIT_INTERRUPTED, say
from wordrec.cli.evaluate import evaluate
from wordrec.cli.explain import explain
from wordrec.cli.inspect import inspect
from wordrec.cli.listen import listen
from wordrec.cli.recognize import recognize
from wordrec.cli.train import train
from wordrec.errors import WordrecError


class _Group(click.Group):
    """Turns WordrecError and Ctrl-C into one line on stderr and an exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except WordrecError as exc:
            say(f"Error: {exc}")
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            say("Interrupted.")
            sys.exit(EXIT_INTERRUPTED)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wordrec")
def cli():
    """Isolated-word speech recognition with GMM-HMMs.

    Train one model per word from folders of recordings (one sub-folder per
    word), then recognise new recordings or evaluate on a labelled test set.
    """


for _command in (train, adapt, recognize, listen, evaluate, explain, inspect):
    cli.add_command(_command)


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
