"""The model file: read an untrusted file into a ModelSet, write one atomically.

A model file is plain JSON (no pickle, nothing executable).  Reading parses
only JSON and names other kinds of file (pickles included) instead;
:mod:`wordrec.io.validate` checks every field.  Writing validates first,
writes a temporary file in the target folder and renames it, with floats in
their shortest round-trip form, so that the same model always gives the same
bytes and an interrupted save leaves any earlier file untouched.
"""

from __future__ import annotations

import json
import os
import pickletools
import stat
import tempfile
from pathlib import Path

from wordrec.core.model import ModelSet
from wordrec.errors import WordrecError
from wordrec.io.validate import from_dict, validate

#: Model files larger than this are refused before parsing.
MAX_FILE_BYTES = 256 * 1024 * 1024
# How other kinds of file start, to say what a file is when it is not a model.
_MAGIC = (
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"PK\x03\x04", "a zip archive, e.g. a NumPy .npz file"),
    (b"\x80", "a Python pickle"),
    (b"RIFF", "a WAV audio file"),
    (b"\x89HDF", "an HDF5 file"),
)



def load(path) -> ModelSet:
    """Read and validate a model file.

    Raises
    ------
    WordrecError
        Naming the file and the first problem found.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise WordrecError(f"{path}: is a directory, not a model file")
        if not p.is_file():
            raise WordrecError(f"{path}: not a regular file, not a model file")
        if size > MAX_FILE_BYTES:
            raise WordrecError(f"{path}: {size} bytes is too large for a model file")
        raw = p.read_bytes()
    except FileNotFoundError:
        raise WordrecError(f"{path}: no such model file") from None
    except OSError as exc:
        raise WordrecError(f"{path}: cannot read model file ({exc.strerror})") from None
    try:
        return loads(raw)
    except WordrecError as exc:
        raise WordrecError(f"{path}: {exc}") from None


def loads(raw: bytes) -> ModelSet:
    """Parse and validate a model file's bytes (see :func:`load`)."""
    # Only ever parsed as JSON: nothing in the file is executed, whatever it holds.
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte order mark left by an editor
    if not raw.strip():
        raise WordrecError("empty file, not a wordrec model")
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            raise WordrecError(f"not a wordrec model file ({kind}; wordrec model files are JSON)")
    if raw.lstrip()[:1] != b"{":
        if _is_pickle(raw):
            raise WordrecError("not a wordrec model file (a Python pickle; wordrec model files are JSON)")
        raise WordrecError("not a wordrec model file (expected JSON)")
    try:
        # NaN and Infinity (not JSON, but Python writes them) become floats here,
        # to be refused by the checks below, which name the field they are in.
        data = json.loads(raw.decode("utf-8"), parse_constant=float)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WordrecError(f"not a wordrec model file, or a damaged one (bad JSON: {str(exc)[:80]})") from None
    return from_dict(data)


def _is_pickle(raw: bytes, max_ops: int = 1000) -> bool:
    """Whether ``raw`` reads as a pickle (protocols 0 and 1 have no signature to look for).

    Its opcodes are only decoded, by ``pickletools``, never run: it is a
    pickle if it ends with STOP right after a well-formed opcode sequence,
    or if its first ``max_ops`` opcodes are well formed (text and other
    binary files meet an unknown opcode or a malformed argument within a
    few bytes).
    """
    try:
        for n, (opcode, _, pos) in enumerate(pickletools.genops(raw)):
            if opcode.name == "STOP":
                return not raw[pos + 1 :].strip()
            if n >= max_ops:
                return True
    except ValueError:  # pickletools' one error for unknown opcodes, bad arguments and a missing STOP
        return False
    return False


def dumps(models: ModelSet) -> str:
    """The model file's text (deterministic)."""
    validate(models)
    return json.dumps(models.to_dict(), sort_keys=True, allow_nan=False, separators=(",", ":")) + "\n"


def save(models: ModelSet, path) -> None:
    """Write a model file atomically: a temporary file in the same folder, then rename.

    The model is validated first, so an invalid model is never written.  An
    interrupted save leaves any earlier file at ``path`` untouched and no
    temporary file behind.
    """
    try:
        text = dumps(models)
    except WordrecError as exc:
        raise WordrecError(f"{path}: not written, the model is invalid: {exc}") from None
    write_atomic(path, text.encode("utf-8"))


def check_writable(path, what: str = "model file") -> None:
    """Raise WordrecError now if a model (or ``what`` else) could not be saved to ``path`` later.

    Checks that ``path`` names a regular file or none (not a folder, a
    pipe, a device or a link to one, which a model would replace), that its
    folder exists and is writable; writes nothing.  ``what`` names the
    file in the messages ("picture", "CSV file").
    """
    if str(path).endswith(("/", os.sep)):  # Path() would drop the slash
        raise WordrecError(f"{path}: names a folder; give a {what} name")
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    kind = _kind(path, target)
    if kind == "folder":
        raise WordrecError(f"{path}: is a folder; give a {what} name")
    if kind == "other":  # a device, a pipe, or a link to one: never replaced by a model
        raise WordrecError(f"{path}: not a regular file; give a {what} name")
    if _kind(path, folder) != "folder":
        raise WordrecError(f"{path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise WordrecError(f"{path}: folder {folder} is not writable")


def _kind(path, p: Path) -> str | None:
    """"folder", "file" (regular), "other" or None (missing) for ``p``; WordrecError naming
    ``path`` when the system refuses to tell (no permission, name too long)."""
    try:
        mode = p.stat().st_mode
        return "folder" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WordrecError(f"{path}: cannot write there ({exc.strerror or exc})") from None


def write_atomic(path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise WordrecError(f"{path}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise WordrecError(f"{path}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode(target))
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise WordrecError(f"{path}: cannot write ({exc.strerror})") from None
        raise


def _file_mode(target: Path) -> int:
    """Permissions for a new model file: an existing file's, else what the umask allows.

    (``mkstemp`` creates files readable by their owner only.)
    """
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
