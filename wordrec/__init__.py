"""wordrec: isolated-word speech recognition with GMM-HMMs, from Python and the command line.

::

    import wordrec

    rec = wordrec.Recognizer().fit(recordings, words, sample_rate=16000)
    rec.predict(new_recordings, sample_rate=16000)

The names below are loaded on first use, so that ``import wordrec`` (and
``wordrec --help``) stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Recognizer", "Result", "Listener", "Detection", "Events", "WordrecError", "UNKNOWN", "SILENCE", "__version__"]

_WHERE = {
    "Recognizer": "wordrec.api.recognizer",
    "Result": "wordrec.api.common",
    "Listener": "wordrec.api.listener",
    "Detection": "wordrec.api.listener",
    "UNKNOWN": "wordrec.core.labels",
    "SILENCE": "wordrec.core.labels",
    "Events": "wordrec.jobs.events",
    "WordrecError": "wordrec.errors",
}


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'wordrec' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
