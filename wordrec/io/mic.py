"""Microphone input through sounddevice (PortAudio): the optional extra ``wordrec[mic]``.

sounddevice is imported only inside :func:`sounddevice_module`, so that
everything else works without it; tests put a stand-in module in its place
(``sys.modules["sounddevice"]``).  PortAudio calls back from its own thread
with each block; the callback only copies it into a queue, and
:meth:`Microphone.blocks` hands the blocks on in the caller's thread.
"""

from __future__ import annotations

import queue
from typing import Iterator

import numpy as np

from wordrec.errors import WordrecError
from wordrec.io import audio

#: Seconds of audio PortAudio delivers per callback.
BLOCK_SECONDS = 0.02
#: Seconds without a block from an active stream after which the device is
#: taken for gone.
SILENT_DEVICE_SECONDS = 5.0
#: The rate asked for when the device states none, in Hz.
FALLBACK_RATE = 16000

INSTALL = "pip install 'wordrec[mic]'"


def sounddevice_module():
    """The sounddevice module, or a WordrecError saying what to install."""
    try:
        import sounddevice
    except ImportError:
        raise WordrecError(f"microphone input needs the sounddevice package: {INSTALL} "
                           "(or read a stream with --input -)") from None
    except OSError:  # sounddevice is there, the PortAudio library is not
        raise WordrecError("microphone input needs the PortAudio library (e.g. 'apt install libportaudio2' or "
                           f"'brew install portaudio'), then {INSTALL} (or read a stream with --input -)") from None
    return sounddevice


def parse_device(device: str | int | None):
    """A device given on the command line: an index (digits) or (part of) a name."""
    if isinstance(device, str) and device.strip().isdigit():
        return int(device)
    return device


def input_devices() -> list[dict]:
    """The devices that can record: dicts with ``index``, ``name``, ``channels``,
    ``rate`` (default, Hz) and ``default`` (bool)."""
    sd = sounddevice_module()
    try:
        devices = sd.query_devices()
        default = sd.default.device[0] if isinstance(sd.default.device, (list, tuple)) else sd.default.device
    except Exception as exc:  # PortAudio's errors are its own type; any of them means no device list
        raise WordrecError(f"cannot list the audio devices ({exc})") from None
    return [
        {"index": i, "name": d["name"], "channels": int(d["max_input_channels"]),
         "rate": float(d["default_samplerate"]), "default": i == default}
        for i, d in enumerate(devices) if d["max_input_channels"] > 0
    ]


class Microphone:
    """Blocks from an input device as they are recorded.

    Parameters
    ----------
    device : int, str or None
        Index or (part of) a name; None: the default input device.
    rate : int, optional
        Hz; default: the device's own rate.
    channels : int, optional
        Default 1 (mixed down to mono anyway).
    block_seconds : float
    """

    def __init__(self, device=None, rate: int | None = None, channels: int | None = None,
                 block_seconds: float = BLOCK_SECONDS):
        self._sd = sd = sounddevice_module()
        self.device = parse_device(device)
        self.name = "microphone" if self.device is None else f"microphone {self.device!r}"
        self.notes: list[str] = []
        try:
            info = sd.query_devices(self.device, "input")
        except Exception as exc:  # an unknown device or no input at all
            raise WordrecError(f"{self.name}: no such input device ({exc}); see --list-devices") from None
        self.device_name = str(info.get("name", self.device))
        self.rate = int(rate or info.get("default_samplerate") or FALLBACK_RATE)
        self.channels = int(channels or 1)
        self._block = max(1, int(round(block_seconds * self.rate)))
        self._queue: queue.Queue | None = None

    def describe(self) -> str:
        return f"{self.name} ({self.device_name}, {self.rate} Hz, {self.channels} channel(s))"

    def remaining(self) -> list[np.ndarray]:
        """The blocks recorded but not yet handed out (after Ctrl-C, they are still answered)."""
        out = []
        while self._queue is not None:
            try:
                data = self._queue.get_nowait()
            except queue.Empty:
                break
            if data is not None:
                out.append(np.clip(audio.to_mono(data if data.ndim == 2 else data[:, None]), -1.0, 1.0))
        return out

    def blocks(self) -> Iterator[np.ndarray]:
        """Mono float64 blocks until the device goes away (WordrecError) or the caller stops."""
        self._queue = blocks = queue.Queue()
        overflows = [0]

        def on_block(indata, frames, when, status):
            if status and getattr(status, "input_overflow", False):
                overflows[0] += 1
            blocks.put(np.array(indata, dtype=float, copy=True))

        def on_end():
            blocks.put(None)

        try:
            stream = self._sd.InputStream(samplerate=self.rate, blocksize=self._block, device=self.device,
                                          channels=self.channels, dtype="float32", callback=on_block,
                                          finished_callback=on_end)
            stream.start()
        except Exception as exc:  # PortAudio refuses the rate, the channels or the device
            raise WordrecError(f"{self.name}: cannot record ({exc})") from None
        try:
            waited = 0.0
            while True:
                try:
                    data = blocks.get(timeout=0.5)
                except queue.Empty:
                    waited += 0.5
                    if waited >= SILENT_DEVICE_SECONDS or not stream.active:
                        raise WordrecError(f"{self.name}: the device stopped delivering audio (disconnected?)") from None
                    continue
                if data is None:
                    raise WordrecError(f"{self.name}: the device stopped delivering audio (disconnected?)")
                waited = 0.0
                if data.ndim == 1:
                    data = data[:, None]
                yield np.clip(audio.to_mono(data), -1.0, 1.0)
        finally:
            if overflows[0]:
                self.notes.append(f"{self.name}: {overflows[0]} block(s) were lost (input overflow: the machine was too busy)")
            try:
                stream.stop()  # our stop may call finished_callback: the queue is no longer read
                stream.close()
            except Exception:  # a device that is gone may fail to stop; nothing left to do
                pass
