"""Find labelled recordings: a ``<word>/<file>`` folder tree or a manifest.

A corpus is a list of ``(path, word)`` pairs plus a list of ``(where, why)``
entries for what was passed over, so that callers can report them.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path

from wordrec.core.labels import word_problem
from wordrec.errors import WordrecError

#: File name endings read as audio (what libsndfile decodes).
AUDIO_SUFFIXES = frozenset(
    ".wav .wave .flac .ogg .oga .opus .aif .aiff .aifc .au .snd .caf .w64 .rf64 .mp3".split()
)


#: A manifest is a text file of path<TAB>word lines; 64 MB is about a million lines.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Corpus:
    """Labelled recordings.

    Attributes
    ----------
    items : tuple of (Path, str)
        ``(path, word)`` pairs, sorted by word, then path.
    skipped : tuple of (str, str)
        ``(where, why)`` for every file or manifest line that was passed over.
    """

    items: tuple = ()
    skipped: tuple = field(default=())

    @property
    def words(self) -> list[str]:
        """The sorted distinct words."""
        return sorted({w for _, w in self.items})


def is_hidden(p: Path) -> bool:
    return p.name.startswith(".")


def is_folder(p: Path) -> bool:
    """``p.is_dir()``, False where it cannot be told (no permission, a name
    too long): reading the path then reports the problem."""
    try:
        return p.is_dir()
    except OSError:
        return False


def _not_a_recording(path: Path) -> str | None:
    """Why ``path`` named in a manifest cannot be a recording, or None."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return f"cannot access ({exc.strerror or exc})"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not an audio file"
    return None if stat.S_ISREG(st.st_mode) else "not a regular file"


def _entries(folder: Path, skipped: list) -> list[Path]:
    """The sorted contents of ``folder``; an unreadable folder goes to ``skipped``."""
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        skipped.append((str(folder), f"cannot list folder ({exc.strerror or exc}) (skipped)"))
        return []


def list_audio(folder: Path, skipped: list) -> list[Path]:
    """Audio files below ``folder`` (recursively), sorted; others go to ``skipped``.

    Hidden files and folders (``.DS_Store``, ``.git``) are listed in
    ``skipped`` and never searched.  Symbolic links to folders are not
    followed below ``folder`` (they could loop).
    """
    found = []
    for p in _entries(folder, skipped):
        if is_hidden(p):
            kind = "folder" if is_folder(p) else "file"
            skipped.append((str(p), f"hidden {kind} (skipped)"))
        elif is_folder(p):
            if p.is_symlink():
                skipped.append((str(p), "link to a folder, not followed (skipped)"))
            else:
                found.extend(list_audio(p, skipped))
        elif p.suffix.lower() in AUDIO_SUFFIXES:
            found.append(p)
        else:
            skipped.append((str(p), "not an audio file name (skipped)"))
    return found


def from_folder(root: Path) -> Corpus:
    """One sub-folder per word; every audio file below it is a recording of it."""
    skipped: list = []
    items = []
    try:
        entries = sorted(root.iterdir())
    except OSError as exc:
        raise WordrecError(f"{root}: cannot list folder ({exc.strerror or exc})") from None
    word_dirs = [d for d in entries if is_folder(d) and not is_hidden(d)]
    if not word_dirs:
        raise WordrecError(
            f"{root}: no word folders found (expected one sub-folder per word, "
            "e.g. yes/ no/ stop/, or a manifest file of path<TAB>word lines)"
        )
    for p in entries:
        if is_hidden(p):
            skipped.append((str(p), f"hidden {'folder' if is_folder(p) else 'file'} (skipped)"))
        elif not is_folder(p):
            skipped.append((str(p), "file outside any word folder (skipped)"))
    for d in word_dirs:
        problem = word_problem(d.name)
        if problem:
            skipped.append((str(d), f"folder name cannot be a word: {problem} (word skipped)"))
            continue
        files = list_audio(d, skipped)
        if not files:
            skipped.append((str(d), "word folder holds no audio files (word skipped)"))
        items.extend((f, d.name) for f in files)
    return Corpus(tuple(items), tuple(skipped))


def from_manifest(manifest: Path) -> Corpus:
    """Lines ``path<TAB>word``; relative paths are taken from the manifest's folder.

    Blank lines and lines starting with ``#`` are ignored.  Bad lines,
    missing files and duplicates are skipped and reported as ``file:line``.
    """
    try:
        text = manifest.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise WordrecError(f"{manifest}: not a text manifest (not UTF-8)") from None
    except OSError as exc:
        raise WordrecError(f"{manifest}: cannot read ({exc.strerror})") from None
    base = manifest.parent
    seen: dict = {}
    items, skipped = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{manifest}:{number}"
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            skipped.append((where, "expected 'path<TAB>word'"))
            continue
        path = Path(parts[0].strip())
        path = path if path.is_absolute() else base / path
        word = parts[1].strip()
        problem = word_problem(word)
        if problem:
            skipped.append((where, f"word {word!r}: {problem}"))
            continue
        problem = _not_a_recording(path)
        if problem:
            skipped.append((where, f"{path}: {problem}"))
            continue
        key = path.resolve()
        if key in seen:
            first_line, first_word = seen[key]
            if first_word == word:
                why = f"{path}: listed twice (first on line {first_line}; duplicate skipped)"
            else:
                why = f"{path}: listed as {first_word!r} on line {first_line} and as {word!r} here (kept the first)"
            skipped.append((where, why))
            continue
        seen[key] = (number, word)
        items.append((path, word))
    items.sort(key=lambda pw: (pw[1], str(pw[0])))
    return Corpus(tuple(items), tuple(skipped))


def load(path) -> Corpus:
    """Read a folder tree or a manifest file into a :class:`Corpus`.

    Raises
    ------
    WordrecError
        If ``path`` does not exist or holds no usable recordings.
    """
    root = Path(path)
    try:
        st = root.stat()
    except FileNotFoundError:
        raise WordrecError(f"{path}: no such file or folder") from None
    except OSError as exc:
        raise WordrecError(f"{path}: cannot access ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        corpus = from_folder(root)
    elif not stat.S_ISREG(st.st_mode):
        # A pipe would block and /dev/zero would never end.
        raise WordrecError(f"{path}: not a folder or a manifest file (not a regular file)")
    elif st.st_size > MAX_MANIFEST_BYTES:
        raise WordrecError(f"{path}: a manifest of {st.st_size} bytes is larger than {MAX_MANIFEST_BYTES} (not a manifest?)")
    else:
        corpus = from_manifest(root)
    if not corpus.items:
        raise WordrecError(f"{path}: no recordings found")
    return corpus


def expand(paths) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand files and folders given on a command line into audio files.

    Folders are searched recursively for audio file names; files named
    explicitly are kept whatever their name (reading them tells).  A folder
    with no audio file in it is kept as itself, so that reading it reports
    the problem instead of the folder passing unnoticed.
    """
    files: list[Path] = []
    skipped: list = []
    for p in map(Path, paths):
        if is_folder(p):
            found = list_audio(p, skipped)
            files.extend(found or [p])
        else:
            files.append(p)
    return files, skipped
