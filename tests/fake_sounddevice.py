"""A stand-in for the sounddevice module: an input stream that plays a given signal.

Install it with ``monkeypatch.setitem(sys.modules, "sounddevice", FakeSoundDevice(signal, rate))``.
PortAudio's thread is a Python thread that calls the stream's callback with
float32 blocks of ``(blocksize, channels)``; at the end of the signal the
stream does what ``end`` says: ``"vanish"`` (the device goes away: the
finished callback is called), or ``"interrupt"`` (Ctrl-C in the main thread).
"""

from __future__ import annotations

import _thread
import threading
import types

import numpy as np


class PortAudioError(Exception):
    pass


class FakeSoundDevice(types.ModuleType):
    def __init__(self, signal: np.ndarray, rate: int = 16000, end: str = "vanish", devices=None):
        super().__init__("sounddevice")
        self.signal, self.rate, self.end = np.asarray(signal, dtype=np.float32), rate, end
        self.devices = devices if devices is not None else [
            {"name": "Fake Mic", "max_input_channels": 2, "default_samplerate": float(rate)},
            {"name": "Fake Speaker", "max_input_channels": 0, "default_samplerate": 48000.0},
        ]
        self.default = types.SimpleNamespace(device=(0, 1))
        self.PortAudioError = PortAudioError
        self.opened: list[dict] = []
        fake = self

        class InputStream:
            def __init__(self, samplerate=None, blocksize=None, device=None, channels=None, dtype=None,
                         callback=None, finished_callback=None, **kw):
                if samplerate != fake.rate:
                    raise PortAudioError(f"Invalid sample rate {samplerate}")
                fake.opened.append(dict(samplerate=samplerate, blocksize=blocksize, device=device, channels=channels))
                self.blocksize, self.channels = blocksize or 160, channels or 1
                self.callback, self.finished_callback = callback, finished_callback
                self.active = False
                self._stop = threading.Event()

            def start(self):
                self.active = True
                threading.Thread(target=self._run, daemon=True).start()

            def _run(self):
                x = fake.signal
                for a in range(0, len(x) - self.blocksize + 1, self.blocksize):
                    if self._stop.is_set():
                        return
                    block = np.repeat(x[a : a + self.blocksize, None], self.channels, axis=1)
                    self.callback(block, self.blocksize, None, None)
                if fake.end == "vanish":
                    self.active = False
                    self.finished_callback()
                elif fake.end == "interrupt":
                    _thread.interrupt_main()

            def stop(self):
                self._stop.set()
                self.active = False

            def close(self):
                self._stop.set()

        self.InputStream = InputStream

    def query_devices(self, device=None, kind=None):
        if device is None and kind is None:
            return self.devices
        if device is None:
            device = self.default.device[0]
        if isinstance(device, str):
            matches = [i for i, d in enumerate(self.devices) if device.lower() in d["name"].lower()]
            if not matches:
                raise ValueError(f"No input device matching {device!r}")
            device = matches[0]
        if not 0 <= device < len(self.devices) or (kind == "input" and self.devices[device]["max_input_channels"] == 0):
            raise PortAudioError(f"Error querying device {device}")
        return self.devices[device]
