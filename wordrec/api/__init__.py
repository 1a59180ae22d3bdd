"""The public Python API: :class:`Recognizer` for recordings, on arrays or files.

Re-exported by ``import wordrec``; see :mod:`wordrec.api.recognizer`.
"""

from wordrec.api.common import Result, recordings_of
from wordrec.api.recognizer import TRAIN_OPTIONS, Recognizer

__all__ = ["Recognizer", "Result", "TRAIN_OPTIONS", "recordings_of"]
