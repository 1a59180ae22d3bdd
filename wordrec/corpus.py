"""Find labelled recordings: a ``<word>/<file>`` folder tree or a manifest.

A corpus is a list of ``(path, word)`` pairs plus a list of ``(where, why)``
entries for what was passed over, so that callers can report them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wordrec.errors import WordrecError

#: File name endings read as audio (what libsndfile decodes).
AUDIO_SUFFIXES = frozenset(
    ".wav .wave .flac .ogg .oga .opus .aif .aiff .aifc .au .snd .caf .w64 .rf64 .mp3".split()
)


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


def list_audio(folder: Path, skipped: list) -> list[Path]:
    """Audio files below ``folder`` (recursively), sorted; others go to ``skipped``."""
    found = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue  # hidden files and folders (.DS_Store, .git) are never data
        if p.is_dir():
            continue
        if p.suffix.lower() in AUDIO_SUFFIXES:
            found.append(p)
        else:
            skipped.append((str(p), "not an audio file name (skipped)"))
    return found


def from_folder(root: Path) -> Corpus:
    """One sub-folder per word; every audio file below it is a recording of it."""
    skipped: list = []
    items = []
    word_dirs = [d for d in sorted(root.iterdir()) if d.is_dir() and not is_hidden(d)]
    if not word_dirs:
        raise WordrecError(
            f"{root}: no word folders found (expected one sub-folder per word, "
            "e.g. yes/ no/ stop/, or a manifest file of path<TAB>word lines)"
        )
    for p in sorted(root.iterdir()):
        if p.is_file() and not is_hidden(p):
            skipped.append((str(p), "file outside any word folder (skipped)"))
    for d in word_dirs:
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
        text = manifest.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise WordrecError(f"{manifest}: not a text manifest (not UTF-8)") from None
    except OSError as exc:
        raise WordrecError(f"{manifest}: cannot read ({exc.strerror})") from None
    base = manifest.parent
    seen: set = set()
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
        if not path.is_file():
            skipped.append((where, f"{path}: no such file"))
            continue
        key = path.resolve()
        if key in seen:
            skipped.append((where, f"{path}: listed twice (duplicate skipped)"))
            continue
        seen.add(key)
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
    if not root.exists():
        raise WordrecError(f"{path}: no such file or folder")
    corpus = from_folder(root) if root.is_dir() else from_manifest(root)
    if not corpus.items:
        raise WordrecError(f"{path}: no recordings found")
    return corpus


def expand(paths) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand files and folders given on a command line into audio files.

    Folders are searched recursively for audio file names; files named
    explicitly are kept whatever their name (reading them tells).
    """
    files: list[Path] = []
    skipped: list = []
    for p in map(Path, paths):
        if p.is_dir():
            found = list_audio(p, skipped)
            if not found:
                skipped.append((str(p), "folder holds no audio files"))
            files.extend(found)
        else:
            files.append(p)
    return files, skipped
