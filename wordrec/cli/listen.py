"""wordrec listen: recognise words in a live stream, one line per word as soon as it has ended.

stdout carries one line per word (tab-separated, or JSON Lines with
``--json``), each written and flushed whole; stderr carries everything
else.  The end of the stream, Ctrl-C, SIGTERM and a closed stdout all end
the command with exit status 0, after the words already heard have been
answered (a closed stdout: quietly, as ``head`` users expect).  A broken
stream or device is an error (exit 1), also after the words heard before it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

import click

from wordrec.cli.common import Range, json_text, refuse_given, say, shown, voices_option
from wordrec.cli.text import detection_json, detection_line
from wordrec.errors import WordrecError


class _Signals:
    """Ctrl-C and SIGTERM raise KeyboardInterrupt while the command waits for
    audio, and right after the work in hand otherwise (inside :meth:`busy`):
    a line is always written whole, and the listener is never left half-updated."""

    def __init__(self):
        self._busy = False
        self._pending = False
        self._saved: dict = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
        return False

    def _handle(self, signum, frame):
        if self._busy:
            self._pending = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def busy(self):
        self._busy = True
        try:
            yield
        finally:
            self._busy = False
        if self._pending:  # only after the work in hand went well
            self._pending = False
            raise KeyboardInterrupt


class _StdoutClosed(Exception):
    pass


def _write(text: str) -> None:
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        raise _StdoutClosed from None


def _check_usage(input_, list_devices, model_path, no_reject, adapt) -> None:
    if list_devices:
        refuse_given("--list-devices only lists the input devices", "model_path", "input_", "fmt", "realtime", "as_json",
                     "adapt", "save_adapted")
        return
    if model_path is None:
        raise click.UsageError("Missing option '-m' / '--model'.")
    if input_ is None:
        refuse_given("the microphone delivers samples, not bytes", "fmt", "realtime")
    elif input_ == "-":
        refuse_given("--input - reads a stream as it comes", "realtime", "device")
    else:
        refuse_given(f"--input {input_} is a recording, whose header says how it is laid out", "rate", "fmt", "channels", "device")
    if no_reject:
        refuse_given("--no-reject answers every word", "threshold")
    if not adapt:
        refuse_given("there is no adapted model without --adapt", "save_adapted")


def _list_devices() -> None:
    from wordrec.io.mic import input_devices

    devices = input_devices()
    click.echo("index\tname\tchannels\tdefault_rate\tdefault")
    for d in devices:
        click.echo(f"{d['index']}\t{shown(d['name'])}\t{d['channels']}\t{d['rate']:g}\t{'yes' if d['default'] else ''}")


@click.command(name="listen")
@click.option("-m", "--model", "model_path", default=None, type=click.Path(readable=False), help="Model file from 'wordrec train'.")
@click.option("--input", "input_", default=None, metavar="-|FILE", help="'-' reads a stream on stdin (raw PCM, or WAV/FLAC with a header); FILE replays a recording.  [default: the microphone]")
@click.option("--rate", default=None, type=click.IntRange(1000, 768000), help="Sample rate of raw PCM on stdin, or to record at, in Hz.  [default: 16000 on stdin, the device's own for the microphone]")
@click.option("--format", "fmt", default=None, type=click.Choice(["s16le", "s32le", "f32le"]), help="Sample format of raw PCM on stdin.  [default: s16le]")
@click.option("--channels", default=None, type=click.IntRange(1, 256), help="Channels of raw PCM on stdin, or to record (mixed down to one).  [default: 1]")
@click.option("--realtime", is_flag=True, help="With --input FILE: replay it at the speed of the clock, as if it were heard live.")
@click.option("--device", default=None, metavar="NAME|INDEX", help="The input device to record from (see --list-devices).  [default: the system's default input]")
@click.option("--list-devices", is_flag=True, help="List the input devices and exit.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (JSON Lines) instead of tab-separated lines.")
@click.option("--nbest", default=1, type=click.IntRange(1, 1000), help="List the best K words per word heard.")
@click.option("--threshold", default=None, type=Range(0, 1), help="Answer <unknown> below this confidence.  [default: the model's calibrated threshold]")
@click.option("--no-reject", is_flag=True, help="Never answer <unknown> (the confidence is still printed).")
@click.option("--adapt", is_flag=True, help="Adapt the word models to the voice heard, from the words accepted so far; each answer depends only on what came before it.  Unknown words are then seldom rejected (docs/listening.md).")
@voices_option()
@click.option("--save-adapted", default=None, type=click.Path(dir_okay=False, readable=False), help="With --adapt: write the adapted model here when listening ends.")
@click.option("--quiet", "-q", is_flag=True, help="Say nothing on stderr but errors.")
def listen(model_path, input_, rate, fmt, channels, realtime, device, list_devices, as_json, nbest, threshold, no_reject,
           adapt, new_voices, save_adapted, quiet):
    """Recognise words as they are spoken: from the microphone, a stream on stdin, or a replayed file.

    Prints one line per word as soon as it has ended,
    'start_s<TAB>end_s<TAB>word<TAB>log-likelihood<TAB>confidence' (seconds
    from the start of the stream; <unknown> below the threshold), until the
    stream ends or Ctrl-C.  Silence and noise print nothing.

    \b
    Examples:
      wordrec listen -m words.model                      # the default microphone
      arecord -q -f S16_LE -r 16000 -c 1 -t raw | wordrec listen -m words.model --input -
      sox -q -d -t wav - | wordrec listen -m words.model --input - --json
      wordrec listen -m words.model --input take.wav --realtime
      wordrec listen -m words.model --adapt --save-adapted mine.model
    """
    _check_usage(input_, list_devices, model_path, no_reject, adapt)
    if list_devices:
        _list_devices()
        return

    from wordrec.api.listener import Listener
    from wordrec.io import modelfile
    from wordrec.io.sources import open_source

    listener = Listener(model_path, threshold=threshold, reject=not no_reject, nbest=nbest, adapt=adapt, new_voices=new_voices)
    if save_adapted:
        modelfile.check_writable(save_adapted)
    line = (lambda d: json_text(detection_json(d))) if as_json else (lambda d: detection_line(d, nbest))
    source, failure, closed, stopped = None, None, False, False
    with _Signals() as signals:
        words = None
        try:
            try:
                source = open_source(input_, rate, fmt, channels, realtime, device)
                if not quiet:
                    say(f"Listening to {source.describe()}; Ctrl-C to stop.")
                words = listener.listen_to(source, signals.busy)
                for d in words:
                    _write(line(d))
            except KeyboardInterrupt:  # before the stream began
                stopped = True
            except WordrecError as exc:
                failure = exc
        except _StdoutClosed:
            closed = True
            words.close()
        if source is not None and save_adapted:
            try:
                with signals.busy():  # written whole, whatever comes
                    listener.save(save_adapted)
            except KeyboardInterrupt:
                pass
    if closed:
        # Nobody reads any more: stop quietly, and keep Python from
        # complaining when it flushes stdout on the way out.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return
    if not quiet:
        if stopped or listener.stopped:
            say("Stopped.")
        for note in getattr(source, "notes", []):
            say(f"Note: {note}")
        if source is not None and save_adapted:
            say(f"Wrote {save_adapted}: adapted on {listener.n_adapted} word(s) heard.")
    if failure is not None:
        raise failure
