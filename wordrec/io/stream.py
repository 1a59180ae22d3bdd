"""Audio from a byte stream (stdin, a pipe, a socket) as blocks, as soon as the bytes arrive.

A :class:`ByteStream` is a source as :mod:`wordrec.io.sources` describes:
``name``, ``rate``, ``describe()``, ``notes`` and ``blocks()`` (mono
float64 blocks); every failure is a :class:`WordrecError` naming it.

Raw PCM (``s16le``, ``s32le``, ``f32le``; any rate and channel count), or a
stream that starts with a WAV or FLAC header, which is then read as such.
WAV is parsed here: libsndfile reads WAV from a pipe only when the header's
sizes are right, while streaming writers put 0 or 0xFFFFFFFF there (read to
the end of the stream, as is RF64's ds64 size of 0). FLAC goes through
libsndfile, whose FLAC reader wants to seek: it gets a file object that can
seek back over the bytes of the header (held while it is read), and
soundfile is kept from seeking after each read (it asks libsndfile where it
is, which for FLAC means a seek); libsndfile then decodes frame after frame
as the bytes arrive (see ``_PipeFile``). Other containers (Ogg, MP3, AIFF)
are refused with a pointer to a converter.
"""

from __future__ import annotations

import io
import struct
import sys
from typing import Iterator

import numpy as np

from wordrec.errors import WordrecError
from wordrec.io import audio

#: Raw PCM formats: numpy dtype and the value of full scale (None: float).
FORMATS = {"s16le": ("<i2", 32768.0), "s32le": ("<i4", 2147483648.0), "f32le": ("<f4", None)}
DEFAULT_RATE, DEFAULT_FORMAT, DEFAULT_CHANNELS = 16000, "s16le", 1
#: Largest block read at once, in seconds: a live stream is passed on as
#: it arrives (smaller blocks), a fast one in blocks this long.
MAX_BLOCK_SECONDS = 0.25
#: Float samples this far outside [-1, 1] mean the stream is not float audio.
MAX_FLOAT = 16.0
MAX_CHANNELS = 256
# WAV sample formats: (format tag, bits) -> (our name, numpy dtype, full scale).
_WAV = {
    (1, 8): ("u8", "u1", 128.0), (1, 16): ("s16le", "<i2", 32768.0), (1, 24): ("s24le", None, 8388608.0),
    (1, 32): ("s32le", "<i4", 2147483648.0), (3, 32): ("f32le", "<f4", None), (3, 64): ("f64le", "<f8", None),
}
_UNBOUNDED = (0, 0xFFFFFFFF)
_OTHER = ((b"OggS", "Ogg"), (b"ID3", "MP3"), (b"FORM", "AIFF"), (b".snd", "AU"), (b"caff", "CAF"))


def stdin(name: str = "-"):
    """The binary stdin, refused when it is a terminal (nothing would ever arrive but keystrokes)."""
    if sys.stdin is None:
        raise WordrecError(f"{name}: there is no standard input")
    if sys.stdin.isatty():
        raise WordrecError(f"{name}: standard input is a terminal, not audio; pipe a stream into it, "
                           "e.g. arecord -f S16_LE -r 16000 -t raw | wordrec listen -m MODEL --input -")
    return getattr(sys.stdin, "buffer", sys.stdin)


class _Reader:
    """A binary stream with put-back, exact reads (headers) and what-is-there reads (data)."""

    def __init__(self, stream, name: str):
        self.stream, self.name = stream, name
        self.head = b""
        self.pos = 0  # bytes consumed

    def some(self, n: int) -> bytes:
        """Up to ``n`` bytes, as soon as any are there; b"" at the end of the stream."""
        if self.head:
            out, self.head = self.head[:n], self.head[n:]
        else:
            try:
                read = getattr(self.stream, "read1", None) or self.stream.read
                out = read(n)
            except OSError as exc:
                raise WordrecError(f"{self.name}: cannot read the stream ({exc.strerror or exc})") from None
            out = out or b""
        self.pos += len(out)
        return out

    def exact(self, n: int) -> bytes:
        """``n`` bytes, fewer only at the end of the stream."""
        parts, got = [], 0
        while got < n:
            b = self.some(n - got)
            if not b:
                break
            parts.append(b)
            got += len(b)
        return b"".join(parts)

    def unread(self, data: bytes) -> None:
        self.head = data + self.head
        self.pos -= len(data)


class ByteStream:
    """Audio from a binary stream: raw PCM, or a stream with a WAV or FLAC header.

    Parameters
    ----------
    stream : binary file object
        Read in order, never sought (a pipe, a socket, a file).
    name : str
        For messages (``"-"`` for stdin).
    rate, fmt, channels : optional
        How raw PCM is laid out; None means not given (raw PCM then gets
        ``DEFAULT_RATE`` Hz, ``DEFAULT_FORMAT``, ``DEFAULT_CHANNELS``).
        With a header, each one given must agree with it.
    max_block_seconds : float
    """

    def __init__(self, stream, name: str = "-", rate: int | None = None, fmt: str | None = None,
                 channels: int | None = None, max_block_seconds: float = MAX_BLOCK_SECONDS):
        if fmt is not None and fmt not in FORMATS:
            raise WordrecError(f"{name}: unknown raw format {fmt!r} (one of {', '.join(FORMATS)})")
        self.name = name
        self.notes: list[str] = []
        self._r = _Reader(stream, name)
        self._given = {"rate": rate, "format": fmt, "channels": channels}
        self._max_block = max_block_seconds
        self._flac = None
        self._limit = None  # data bytes the header promises (None: to the end)
        magic = self._r.exact(12)
        self._r.unread(magic)
        if magic[:4] in (b"RIFF", b"RF64", b"BW64") and magic[8:12] == b"WAVE":
            self.container = "WAV"
            self._read_wav_header()
        elif magic[:4] == b"fLaC":
            self.container = "FLAC"
            self._open_flac()
        else:
            for start, what in _OTHER:
                if magic.startswith(start):
                    raise WordrecError(f"{name}: the stream is {what}; read from a stream are WAV, FLAC and raw PCM "
                                       "(convert it, e.g. with sox or ffmpeg)")
            self.container = "raw"
            self.format = fmt or DEFAULT_FORMAT
            self.rate = int(rate or DEFAULT_RATE)
            self.channels = int(channels or DEFAULT_CHANNELS)
            self._dtype, self._scale = FORMATS[self.format]

    def __str__(self) -> str:
        return self.name

    def describe(self) -> str:
        ch = f"{self.channels} channel{'s' if self.channels != 1 else ''}"
        return f"{self.name} ({self.container} {self.format}, {self.rate} Hz, {ch})"

    # -- headers -----------------------------------------------------------

    def _check_given(self, rate: int, fmt: str, channels: int) -> None:
        found = {"rate": rate, "format": fmt, "channels": channels}
        for key, value in self._given.items():
            if value is not None and value != found[key]:
                said = f"{rate} Hz, {channels} channel(s), {fmt}"
                raise WordrecError(f"{self.name}: the {self.container} header says {said}, "
                                   f"which disagrees with the {key} given (--{key} {value})")
        if not audio.MIN_RATE <= rate <= audio.MAX_RATE:
            raise WordrecError(f"{self.name}: corrupt {self.container} header (sample rate {rate} Hz is outside "
                               f"{audio.MIN_RATE}-{audio.MAX_RATE} Hz)")
        if not 1 <= channels <= MAX_CHANNELS:
            raise WordrecError(f"{self.name}: corrupt {self.container} header ({channels} channels)")

    def _chunk(self) -> tuple[bytes, int]:
        head = self._r.exact(8)
        if len(head) < 8:
            raise WordrecError(f"{self.name}: the WAV stream ended inside its header (no 'data' chunk)")
        return head[:4], struct.unpack("<I", head[4:])[0]

    def _body(self, size: int) -> bytes:
        body = self._r.exact(size + (size & 1))
        if len(body) < size:
            raise WordrecError(f"{self.name}: the WAV stream ended inside its header (no 'data' chunk)")
        return body

    def _skip(self, n: int) -> None:
        while n > 0:
            got = self._r.some(min(n, 1 << 16))
            if not got:
                raise WordrecError(f"{self.name}: the WAV stream ended inside its header (no 'data' chunk)")
            n -= len(got)

    def _read_wav_header(self) -> None:
        riff = self._r.exact(12)[:4]
        fmt, ds64_data = None, None
        while True:
            cid, size = self._chunk()
            if cid == b"data":
                break
            if cid == b"fmt " and 16 <= size <= 1024:
                fmt = self._wav_format(self._body(size))
            elif cid == b"ds64" and riff != b"RIFF" and 28 <= size <= 1 << 20:
                body = self._body(size)
                ds64_data = struct.unpack("<Q", body[8:16])[0]
            else:
                self._skip(size + (size & 1))
        if fmt is None:
            raise WordrecError(f"{self.name}: corrupt WAV header (no 'fmt ' chunk before the data)")
        if riff != b"RIFF" and size == 0xFFFFFFFF:
            size = ds64_data or 0
        self._limit = None if size in _UNBOUNDED else size

    def _wav_format(self, body: bytes) -> tuple:
        tag, channels, rate, _, align, bits = struct.unpack("<HHIIHH", body[:16])
        if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
            tag = struct.unpack("<H", body[24:26])[0]
        if (tag, bits) not in _WAV:
            raise WordrecError(f"{self.name}: WAV sample format {tag} with {bits} bits is not read from a stream "
                               "(PCM 8/16/24/32 bits and float 32/64 are)")
        name, self._dtype, self._scale = _WAV[tag, bits]
        if align != channels * bits // 8:
            raise WordrecError(f"{self.name}: corrupt WAV header (block align is {align} bytes, but {channels} "
                               f"channel(s) of {bits} bits need {channels * bits // 8})")
        self._check_given(rate, name, channels)
        self.format, self.rate, self.channels = name, int(rate), int(channels)
        return name

    def _open_flac(self) -> None:
        import soundfile as sf

        class _NoSeek(sf.SoundFile):
            # soundfile asks libsndfile for the position around every read
            # of a seekable file, which makes libFLAC seek; a pipe cannot.
            def seekable(self):
                return False

        self._pipe = _PipeFile(self._r)
        try:
            with audio.quiet_decoders():
                h = _NoSeek(self._pipe)
        except (RuntimeError, ValueError, TypeError, OSError, EOFError) as exc:
            raise WordrecError(f"{self.name}: cannot read the FLAC stream ({audio.decoder_message(exc)})") from None
        self._pipe.streaming = True
        subtype = {"PCM_16": "s16le", "PCM_24": "s24le", "PCM_S8": "s8"}.get(h.subtype, h.subtype)
        self._check_given(int(h.samplerate), subtype, int(h.channels))
        self._flac, self.format, self.rate, self.channels = h, subtype, int(h.samplerate), int(h.channels)

    # -- data --------------------------------------------------------------

    def blocks(self) -> Iterator[np.ndarray]:
        """Mono float64 blocks in [-1, 1], each as soon as its bytes have arrived."""
        if self._flac is not None:
            yield from self._flac_blocks()
            return
        width = np.dtype(self._dtype).itemsize if self._dtype else 3
        frame = width * self.channels
        most = max(1, int(self._max_block * self.rate)) * frame
        left, rest, sniff, done = self._limit, b"", b"", 0
        while left is None or left > 0:
            data = self._r.some(most - len(rest) if left is None else min(most - len(rest), left))
            if not data:
                break
            if left is not None:
                left -= len(data)
            if len(sniff) < 256:
                sniff += data[: 256 - len(sniff)]
                self._check_not_text(sniff, final=False)
            data = rest + data if rest else data
            whole = len(data) - len(data) % frame
            rest = data[whole:]
            if whole:
                x = self._decode(data[:whole] if rest else data, done)
                done += len(x)
                yield x
        self._check_not_text(sniff, final=True)
        if not sniff and self.container == "raw":
            self.notes.append(f"{self.name}: the stream ended before any audio")
        elif rest:
            self.notes.append(f"{self.name}: the stream ended inside a sample; its last {len(rest)} byte(s) were ignored")
        elif left:
            self.notes.append(f"{self.name}: the stream ended {left} bytes before the end its WAV header gives")

    def _check_not_text(self, head: bytes, final: bool) -> None:
        if self.container != "raw" or not head or (len(head) < 256 and not final) or len(head) < 4:
            return
        if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
            raise WordrecError(f"{self.name}: the stream looks like text, not audio")

    def _decode(self, data: bytes, done: int) -> np.ndarray:
        if self._dtype is None:  # 24-bit: three bytes, little-endian, sign-extended
            b = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
            v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            x = (v - ((v & 0x800000) << 1)).astype(float)
        else:
            with np.errstate(invalid="ignore"):  # NaN in a float stream is reported below
                x = np.frombuffer(data, self._dtype).astype(float)
        if self._dtype == "u1":
            x -= 128.0
        x = x.reshape(-1, self.channels)
        if self._scale is not None:
            x /= self._scale
        else:
            self._check_floats(x, done)
        return audio.to_mono(x)

    def _check_floats(self, x: np.ndarray, done: int) -> None:
        at = done / self.rate
        if not np.all(np.isfinite(x)):
            raise WordrecError(f"{self.name}: NaN or infinite sample values after {at:.2f} s"
                               f"{' (is the stream really ' + self.format + '?)' if self.container == 'raw' else ''}")
        peak = float(np.abs(x).max()) if x.size else 0.0
        if peak > MAX_FLOAT:
            raise WordrecError(f"{self.name}: float samples should be within [-1, 1], found {peak:.3g} after "
                               f"{at:.2f} s (is the stream really {self.format}?)")

    def _flac_blocks(self) -> Iterator[np.ndarray]:
        h, block, done = self._flac, max(1, int(0.02 * self.rate)), 0
        try:
            while True:
                try:
                    with audio.quiet_decoders():
                        data = h.read(block, dtype="float64", always_2d=True)
                except (RuntimeError, ValueError, TypeError, OSError, EOFError) as exc:
                    raise WordrecError(f"{self.name}: cannot decode the FLAC stream after "
                                       f"{done / self.rate:.2f} s ({audio.decoder_message(exc)})") from None
                if len(data) == 0:
                    return
                done += len(data)
                yield audio.to_mono(data)
        finally:
            h.close()


class _PipeFile:
    """What soundfile's virtual I/O needs of a file, over a stream that cannot seek.

    While the header is read, every byte stays so that libsndfile can seek
    back over it, and reads are exact; once ``streaming`` is set, only a
    little is kept and a read returns what has arrived (libFLAC takes short
    reads), so that frames are decoded as soon as their bytes are there.
    The length is unknown: it says a very large one.
    """

    UNKNOWN_LENGTH = 1 << 62
    KEEP = 1 << 16

    def __init__(self, reader: _Reader):
        self.r = reader
        self.kept = bytearray()  # bytes from offset base on
        self.base = 0
        self.at = 0
        self.streaming = False

    def tell(self):
        return self.at

    def seek(self, offset, whence=io.SEEK_SET):
        target = {io.SEEK_SET: offset, io.SEEK_CUR: self.at + offset, io.SEEK_END: self.UNKNOWN_LENGTH + offset}[whence]
        if whence != io.SEEK_END and target < self.base:
            raise OSError("cannot seek back in a stream")
        self.at = target
        return target

    def read(self, n=-1):
        if self.at >= self.UNKNOWN_LENGTH // 2:  # only the length was asked for
            return b""
        n = 1 << 16 if n is None or n < 0 else n
        want = self.at + n
        while self.base + len(self.kept) < want:
            if self.streaming and self.base + len(self.kept) > self.at:
                break  # some of it is here: a short read
            more = self.r.some(want - self.base - len(self.kept))
            if not more:
                break
            self.kept += more
        out = bytes(self.kept[self.at - self.base : self.at - self.base + n])
        self.at += len(out)
        if self.streaming and self.at - self.base > 2 * self.KEEP:
            drop = self.at - self.base - self.KEEP
            del self.kept[:drop]
            self.base += drop
        return out
