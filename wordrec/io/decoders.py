"""Living with libsndfile's decoders: the errors they raise, their own words, and their noise on stderr."""

from __future__ import annotations

import contextlib
import os
import sys
import threading

#: Errors libsndfile and the soundfile wrapper raise for unreadable input.
READ_ERRORS = (RuntimeError, ValueError, TypeError, OSError, EOFError, MemoryError)


# quiet_decoders: how many blocks are active in this process, and the saved descriptor 2.
_QUIET = {"depth": 0, "saved": None}
_QUIET_LOCK = threading.Lock()


@contextlib.contextmanager
def quiet_decoders():
    """Send what C libraries write to the standard error (file descriptor 2)
    to /dev/null for the duration: libsndfile's MP3 decoder prints "Note:
    Trying to resync..." lines for a corrupt file, which would stand beside
    the one error line that names it.  Python's own ``sys.stderr`` is flushed
    first and written to only after.  Blocks may nest and overlap (threads):
    the first to enter redirects, the last to leave restores."""
    with _QUIET_LOCK:
        active = _QUIET["depth"] > 0 or _redirect()
        _QUIET["depth"] += active
    if not active:
        yield
        return
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _QUIET["depth"] -= 1
            if _QUIET["depth"] == 0:
                os.dup2(_QUIET["saved"], 2)
                os.close(_QUIET["saved"])
                _QUIET["saved"] = None


def _redirect() -> bool:
    """Point descriptor 2 at /dev/null, keeping the old one; False if there is no descriptor 2."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no descriptor 2 (embedded, closed)
        return False
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
        finally:
            os.close(null)
    except OSError:
        os.close(saved)
        return False
    _QUIET["saved"] = saved
    return True


def decoder_message(exc: Exception) -> str:
    """libsndfile's own words for a failure, without the file name (the caller names it)."""
    text = getattr(exc, "error_string", None) or str(exc)
    lines = text.strip().splitlines()
    if lines and lines[-1].startswith("File does not exist or is not a regular file"):
        # What libsndfile says when its MP3 decoder gives up; the path was
        # checked to be a regular file before it was opened.
        return "unknown format or corrupt data"
    return lines[-1] if lines else type(exc).__name__
