"""Find labelled recordings: a ``<word>/<file>`` folder tree or a manifest.

A corpus is a list of ``(path, word)`` pairs plus a list of ``(where, why)``
entries for what was passed over, so that callers can report them.
"""

from __future__ import annotations

import array
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wordrec.core.labels import word_problem
from wordrec.errors import WordrecError
from wordrec.io.items import Items, Paths, give_back_freed_memory

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
    items : Items
        ``(path, word)`` pairs, sorted by word, then path.
    skipped : tuple of (str, str)
        ``(where, why)`` for every file or manifest line that was passed over.
    """

    items: Items = field(default_factory=lambda: Items.of(()))
    skipped: tuple = field(default=())

    @property
    def words(self) -> list[str]:
        """The sorted distinct words."""
        return self.items.words


def is_folder(p) -> bool:
    """Whether ``p`` (a str or Path) is a folder; False where it cannot be told
    (no permission, a name too long): reading the path then reports the problem."""
    return os.path.isdir(p)


def _not_a_recording(path: str):
    """Why ``path`` named in a manifest cannot be a recording, as ``(why, None)``, or ``(None, stat result)``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "no such file", None
    except OSError as exc:
        return f"cannot access ({exc.strerror or exc})", None
    if stat.S_ISDIR(st.st_mode):
        return "is a folder, not an audio file", None
    return (None, st) if stat.S_ISREG(st.st_mode) else ("not a regular file", None)


def _entries(folder: str, skipped: list) -> list:
    """The contents of ``folder`` as ``(name, path, is a folder, is a link)``, sorted by name;
    an unreadable folder goes to ``skipped``."""
    out = []
    try:
        with os.scandir(folder) as it:
            for e in it:
                try:
                    is_dir = e.is_dir()
                except OSError:
                    is_dir = False
                out.append((e.name, os.path.join(folder, e.name), is_dir, is_dir and e.is_symlink()))
    except OSError as exc:
        skipped.append((folder, f"cannot list folder ({exc.strerror or exc}) (skipped)"))
        return []
    out.sort()
    return out


def _hidden(name: str, path: str, is_dir: bool, skipped: list) -> bool:
    """Whether a folder entry is hidden (``.DS_Store``, ``.git``); if it is, it goes to ``skipped``."""
    if not name.startswith("."):
        return False
    skipped.append((path, f"hidden {'folder' if is_dir else 'file'} (skipped)"))
    return True


def list_audio(folder, skipped: list) -> list[str]:
    """Audio files below ``folder`` (recursively), sorted, as paths (str); others go to ``skipped``.

    Hidden files and folders (``.DS_Store``, ``.git``) are listed in
    ``skipped`` and never searched.  Symbolic links to folders are not
    followed below ``folder`` (they could loop).
    """
    found = []
    for name, path, is_dir, is_link in _entries(str(Path(folder)), skipped):
        if _hidden(name, path, is_dir, skipped):
            continue
        if is_dir:
            if is_link:
                skipped.append((path, "link to a folder, not followed (skipped)"))
            else:
                found.extend(list_audio(path, skipped))
        elif os.path.splitext(name)[1].lower() in AUDIO_SUFFIXES:
            found.append(path)
        else:
            skipped.append((path, "not an audio file name (skipped)"))
    return found


def _word_items(word: str, paths) -> Items:
    """Items of one word's paths, sorted."""
    return Items.of((p, word) for p in sorted(paths))


def _sorted_items(by_word: dict) -> Items:
    """Items of ``{word: [path, ...]}``, sorted by word, then path."""
    return Items.concat(_word_items(w, by_word[w]) for w in sorted(by_word))


def from_folder(root: Path) -> Corpus:
    """One sub-folder per word; every audio file below it is a recording of it."""
    skipped: list = []
    items: dict = {}
    root = str(Path(root))
    unlisted: list = []
    entries = _entries(root, unlisted)
    if unlisted:
        raise WordrecError(f"{root}: {unlisted[0][1].removesuffix(' (skipped)')}")
    word_dirs = [(name, path) for name, path, is_dir, _ in entries if is_dir and not name.startswith(".")]
    if not word_dirs:
        raise WordrecError(
            f"{root}: no word folders found (expected one sub-folder per word, "
            "e.g. yes/ no/ stop/, or a manifest file of path<TAB>word lines)"
        )
    for name, path, is_dir, _ in entries:
        if not _hidden(name, path, is_dir, skipped) and not is_dir:
            skipped.append((path, "file outside any word folder (skipped)"))
    for word, d in word_dirs:
        problem = word_problem(word)
        if problem:
            skipped.append((d, f"folder name cannot be a word: {problem} (word skipped)"))
            continue
        files = list_audio(d, skipped)
        if not files:
            skipped.append((d, "word folder holds no audio files (word skipped)"))
        else:  # encoded at once: a word's paths as str are all that is held at a time
            items[word] = _word_items(word, files)
    return Corpus(Items.concat(items[w] for w in sorted(items)), tuple(skipped))


def _joined(base: str, p: str) -> str:
    """``str(Path(base) / p)``, without making Path objects for the usual, already clean paths."""
    if "//" in p or "/." in p or p.startswith(".") or p.endswith("/"):
        return str(Path(base) / p)
    return p if p.startswith("/") else (os.path.join(base, p) if base != "." else p)


def from_manifest(manifest: Path) -> Corpus:
    """Lines ``path<TAB>word``; relative paths are taken from the manifest's folder.

    Blank lines and lines starting with ``#`` are ignored.  Bad lines,
    missing files and duplicates (the same file named twice, by any path)
    are skipped and reported as ``file:line``.  Paths are kept as str (a
    million of them as Path objects would take about 700 MB), and what is
    kept per line while reading is its path and five numbers in arrays;
    duplicates are found once all lines are read.
    """
    reader = _ManifestReader(manifest)
    try:
        with open(manifest, encoding="utf-8-sig") as f:
            for number, line in enumerate(f, start=1):
                reader.line(number, line)
    except UnicodeDecodeError:
        raise WordrecError(f"{manifest}: not a text manifest (not UTF-8)") from None
    except OSError as exc:
        raise WordrecError(f"{manifest}: cannot read ({exc.strerror})") from None
    items, skipped = reader.finish()
    return Corpus(_sorted_items(items), skipped)


class _ManifestReader:
    """The items and skipped lines of a manifest, a line at a time."""

    def __init__(self, manifest):
        self.manifest = manifest
        self.base = str(Path(manifest).parent)
        self.words: dict = {}  # word -> (the word's one str object, its problem or None, its number)
        self.names: list = []  # the words by number
        # Per kept line, in arrays (a dict keyed by file took about 120 bytes a line):
        # its file's device and inode, line number, word number and place in its word's list.
        self.keys = (array.array("Q"), array.array("Q"), array.array("I"), array.array("I"), array.array("I"))
        self.items: dict = {}  # word -> paths
        self.skipped: list = []  # (line number, why)

    def skip(self, number: int, why: str) -> None:
        self.skipped.append((number, why))

    def line(self, number: int, line: str) -> None:
        """Take one line: an item, a skipped line, or nothing (blank, a comment)."""
        if not line.strip() or line.lstrip().startswith("#"):
            return
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            return self.skip(number, "expected 'path<TAB>word'")
        path = _joined(self.base, parts[0].strip())
        word = parts[1].strip()
        if word not in self.words:
            self.words[word] = (word, word_problem(word), len(self.names))
            self.names.append(word)
        word, problem, index = self.words[word]
        if problem:
            return self.skip(number, f"word {word!r}: {problem}")
        problem, st = _not_a_recording(path)
        if problem:
            return self.skip(number, f"{path}: {problem}")
        paths = self.items.setdefault(word, [])
        for column, value in zip(self.keys, (st.st_dev, st.st_ino, number, index, len(paths))):
            column.append(value)
        paths.append(path)

    def finish(self) -> tuple[dict, tuple]:
        """``(word -> paths, skipped)``: the files named more than once kept on their first line only,
        and every skipped line as ``(file:line, why)``, in line order."""
        dev, ino, number, word, place = (np.frombuffer(c, dtype=f"u{c.itemsize}") if len(c) else np.zeros(0, np.uint64)
                                         for c in self.keys)
        order = np.lexsort((number, ino, dev))  # by file, then line
        dev, ino = dev[order], ino[order]
        new_file = np.ones(len(order), dtype=bool)
        new_file[1:] = (dev[1:] != dev[:-1]) | (ino[1:] != ino[:-1])
        first = np.maximum.accumulate(np.where(new_file, np.arange(len(order)), 0))  # each file's first line
        drop: dict = {}  # word -> places of its duplicates
        for k in np.flatnonzero(~new_file):  # the later lines of a file, only
            i, j = int(order[first[k]]), int(order[k])  # the file's first line, and this later one
            w, first_word = self.names[int(word[j])], self.names[int(word[i])]
            path = self.items[w][int(place[j])]
            drop.setdefault(w, set()).add(int(place[j]))
            if first_word == w:
                why = f"{path}: listed twice (first on line {int(number[i])}; duplicate skipped)"
            else:
                why = f"{path}: listed as {first_word!r} on line {int(number[i])} and as {w!r} here (kept the first)"
            self.skipped.append((int(number[j]), why))
        items = {w: [p for k, p in enumerate(v) if k not in drop[w]] if w in drop else v for w, v in self.items.items()}
        self.skipped.sort(key=lambda s: s[0])  # one entry a line at most: in line order
        return items, tuple((f"{self.manifest}:{n}", why) for n, why in self.skipped)


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
    give_back_freed_memory()  # what reading a large corpus used and freed
    return corpus


def expand(paths) -> tuple[Paths, list[tuple[str, str]]]:
    """Expand files and folders given on a command line into audio files.

    Folders are searched recursively for audio file names; files named
    explicitly are kept whatever their name (reading them tells).  A folder
    with no audio file in it is kept as itself, so that reading it reports
    the problem instead of the folder passing unnoticed.  The files come as
    a sequence of str held compactly (:class:`wordrec.io.items.Paths`): a
    folder of a million files is about the bytes of their paths.
    """
    parts, pending = [], []
    skipped: list = []

    def flush():
        parts.append(Items.of((f, "") for f in pending))
        pending.clear()

    for p in map(str, paths):
        if is_folder(p):
            found = list_audio(p, skipped)
            pending.extend(found or [str(Path(p))])
        else:
            pending.append(str(Path(p)))
        if len(pending) >= 1 << 16:
            flush()
    flush()
    return Items.concat(parts).paths, skipped
