"""The model-size caps (:mod:`wordrec.io.validate`) applied to a model before it is trained.

A vocabulary too large for a model file used to be found out at save, after
all the training; :func:`check_planned` names the cap the planned model would
break before any recording is read.
"""

from __future__ import annotations

from wordrec.errors import WordrecError
from wordrec.io.validate import (
    MAX_MIX,
    MAX_MOVES,
    MAX_PARAMETERS,
    MAX_STATES,
    MAX_WORD_MOVES,
    MAX_WORDS,
)


def planned_size_problem(n_words: int, n_states: int, n_mix: int, n_features: int, topology: str = "left-to-right",
                         background_mix: int | None = None) -> str | None:
    """Why a model of ``n_words`` words of (at most) ``n_states`` states and ``n_mix`` Gaussians a state
    would be refused by :func:`wordrec.io.validate.validate`, or None.

    ``background_mix``: Gaussians of the one-state background model, if one is trained.
    Counts as :func:`wordrec.io.validate.validate` does: every word's
    start, transition, weight, mean and variance arrays, and per frame its
    states times the jumps its transitions allow (two for left-to-right, ``2 n_states - 1`` for ergodic).
    """
    if n_words > MAX_WORDS:
        return f"{n_words:,} words, more than a model file may hold ({MAX_WORDS:,})"
    if n_states > MAX_STATES or n_mix > MAX_MIX:
        return f"{n_states} states of {n_mix} Gaussians, more than a model file may hold ({MAX_STATES}, {MAX_MIX})"
    per_word = n_states + n_states * n_states + n_states * n_mix * (1 + 2 * n_features)
    total = n_words * per_word + (2 + background_mix * (1 + 2 * n_features) if background_mix else 0)
    if total > MAX_PARAMETERS:
        most = (MAX_PARAMETERS - (total - n_words * per_word)) // per_word
        return (
            f"{n_words:,} words of {n_states} states x {n_mix} Gaussians would take {total:,} numbers, more than a "
            f"model file may hold ({MAX_PARAMETERS:,}): at most {most:,} such words (or fewer states or Gaussians)"
        )
    jumps = 2 if topology == "left-to-right" and n_states > 1 else (2 * n_states - 1)
    if n_states * jumps > MAX_WORD_MOVES:
        return f"{n_states} {topology} states allow {n_states * jumps:,} moves a frame, more than {MAX_WORD_MOVES:,}"
    moves = n_words * n_states * jumps + (1 if background_mix else 0)
    if moves > MAX_MOVES:
        return f"{n_words:,} words allow {moves:,} moves a frame in all, more than a model file may hold ({MAX_MOVES:,})"
    return None


def check_planned(*args, **kwargs) -> None:
    """Raise WordrecError with :func:`planned_size_problem`'s reason, if any ("nothing trained")."""
    problem = planned_size_problem(*args, **kwargs)
    if problem:
        raise WordrecError(f"the model would be too large: {problem}; nothing trained")
