"""Where a stream comes from: stdin, a recording replayed, a microphone; and stdin read whole.

Every source (:class:`wordrec.io.stream.ByteStream`, :class:`FileSource`,
:class:`wordrec.io.mic.Microphone`) has ``name`` (for messages), ``rate``
(Hz), ``describe()`` (one line for the user), ``notes`` (diagnostics worth
showing, such as a truncated last sample) and ``blocks()``, which yields
mono float64 blocks of any length as soon as they are available.  Every
failure is a :class:`WordrecError` naming the source.
"""

from __future__ import annotations

import time
from typing import Iterator

import numpy as np

from wordrec.errors import WordrecError
from wordrec.io import audio


class FileSource:
    """A recording replayed block by block, as fast as it decodes or at the speed of the clock.

    Parameters
    ----------
    path : str or Path
    realtime : bool
        Deliver each block when it would have been heard live.
    block_seconds : float
    """

    def __init__(self, path, realtime: bool = False, block_seconds: float = 0.02):
        self.name = str(path)
        self.notes: list[str] = []
        self._h = audio.open_audio(path)
        self.rate, self.channels = int(self._h.samplerate), int(self._h.channels)
        self._realtime = realtime
        self._block = max(1, int(round(block_seconds * self.rate))) if realtime else max(1, self.rate // 4)

    def describe(self) -> str:
        pace = "at the speed of the clock" if self._realtime else "as fast as it decodes"
        return f"{self.name} ({self.rate} Hz, {self.channels} channel(s), {pace})"

    def blocks(self) -> Iterator[np.ndarray]:
        start, done = time.monotonic(), 0
        with self._h as h:
            for mono in decoded_blocks(h, self.name, self._block):
                done += len(mono)
                if self._realtime:
                    wait = start + done / self.rate - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                yield mono


def decoded_blocks(h, name: str, block: int) -> Iterator[np.ndarray]:
    """An open file's samples (:func:`wordrec.io.audio.open_audio`), mono float64, ``block`` frames at a time.

    A decoding error, or a NaN or infinite sample, is a :class:`WordrecError`
    naming ``name`` and how far in it happened (the blocks before it have
    been yielded by then).
    """
    done = 0
    while True:
        try:
            with audio.quiet_decoders():
                data = h.read(block, dtype="float64", always_2d=True)
        except audio._READ_ERRORS as exc:
            raise WordrecError(f"{name}: cannot decode audio after {done / h.samplerate:.2f} s "
                               f"({audio.decoder_message(exc)})") from None
        if len(data) == 0:
            return
        mono = audio.to_mono(data)
        if not np.all(np.isfinite(mono)):
            raise WordrecError(f"{name}: NaN or infinite sample values after {done / h.samplerate:.2f} s")
        done += len(mono)
        yield mono


def open_source(input_: str | None = None, rate: int | None = None, fmt: str | None = None,
                channels: int | None = None, realtime: bool = False, device=None):
    """The source ``wordrec listen`` reads.

    Parameters
    ----------
    input_ : str or None
        ``"-"``: the stream on stdin (raw PCM laid out by ``rate``, ``fmt``
        and ``channels``, or WAV/FLAC with a header); a path: the recording,
        replayed (at the speed of the clock with ``realtime``); None: the
        microphone ``device`` (default: the system's), recording at ``rate``
        Hz and ``channels``.
    """
    if input_ == "-":
        from wordrec.io.stream import ByteStream, stdin

        return ByteStream(stdin(), "-", rate, fmt, channels)
    if input_ is not None:
        return FileSource(input_, realtime=realtime)
    from wordrec.io.mic import Microphone

    return Microphone(device, rate, channels)


def read_stdin(rate: int | None = None, fmt: str | None = None, channels: int | None = None,
               max_seconds: float = audio.MAX_WORD_SECONDS) -> audio.Samples:
    """The one recording on stdin, read to its end, as :class:`wordrec.io.audio.Samples` named ``-``.

    ``rate``, ``fmt`` and ``channels`` describe raw PCM (see
    :class:`wordrec.io.stream.ByteStream`).  Reading stops with a
    WordrecError beyond ``max_seconds``: longer takes are read in blocks by
    ``recognize --segment``.  The samples are checked as a file's are when
    they are recognised (none at all, no sound).
    """
    from wordrec.io.stream import ByteStream, stdin

    source = ByteStream(stdin(), "-", rate, fmt, channels)
    parts, total, most = [], 0, int(max_seconds * source.rate)
    for block in source.blocks():
        parts.append(block)
        total += len(block)
        if total > most:
            raise WordrecError(f"{source.name}: recording is longer than the {max_seconds:g} s allowed for a single "
                               "word (use 'recognize --segment' for long takes)")
    return audio.Samples(np.concatenate(parts) if parts else np.zeros(0), source.rate, source.name)
