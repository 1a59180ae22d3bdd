"""The answers that are not words: what recognition says when no word is the answer.

Kept apart from the models (and numpy) so that the command line can name
them without loading anything.  Which strings can name a word follows.
"""

import unicodedata

#: What recognition answers for a rejected recording; no word may be called so.
UNKNOWN = "<unknown>"
#: What recognition answers for a recording with no speech in it; no word may be called so.
SILENCE = "<silence>"


def word_problem(word) -> str | None:
    """Why ``word`` cannot name a word model, or None if it can.

    Words are printed as a column of tab-separated output, one line per
    recording; ``<unknown>`` is the answer for a rejected recording and
    ``<silence>`` for one without speech.  So a word must be a non-empty
    string other than those two, without
    control characters (tab, newline, the escape that starts a terminal
    colour sequence, ...), line or paragraph separators, or lone
    surrogates (which cannot be printed as UTF-8).

    Returns
    -------
    str or None
        E.g. ``"contains the control character '\\x1b'"``.
    """
    if not isinstance(word, str) or not word:
        return "must be a non-empty string"
    if word == UNKNOWN:
        return f"{UNKNOWN} is the answer for rejected recordings, not a word"
    if word == SILENCE:
        return f"{SILENCE} is the answer for recordings without speech, not a word"
    for c in word:
        kind = unicodedata.category(c)
        if kind == "Cc":
            return f"contains the control character {c!r}"
        if kind in ("Zl", "Zp"):
            return f"contains a line break {c!r}"
        if kind == "Cs":
            return f"contains a lone surrogate {c!r}, not text"
    return None
