"""The answers that are not words: what recognition says when no word is the answer.

Kept apart from the models (and numpy) so that the command line can name
them without loading anything.
"""

#: What recognition answers for a rejected recording; no word may be called so.
UNKNOWN = "<unknown>"
#: What recognition answers for a recording with no speech in it; no word may be called so.
SILENCE = "<silence>"
