"""The public Python API: :class:`Recognizer` for recordings, on arrays or files; :class:`Listener` for streams.

Re-exported by ``import wordrec``; see :mod:`wordrec.api.recognizer` and :mod:`wordrec.api.listener`.
"""

from wordrec.api.common import Result, recordings_of
from wordrec.api.listener import Detection, Listener
from wordrec.api.recognizer import TRAIN_OPTIONS, Recognizer

__all__ = ["Recognizer", "Result", "Listener", "Detection", "TRAIN_OPTIONS", "recordings_of"]
