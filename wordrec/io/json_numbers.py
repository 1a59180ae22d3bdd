"""JSON numbers from a model file, which may be hostile: only numbers, finite, within bounds.

Shared by the checks of :mod:`wordrec.io.validate` and
:mod:`wordrec.io.validate_calibration`; every refusal names the field.
"""

from __future__ import annotations

import json
import math

from wordrec.errors import WordrecError

#: Numbers of a model file must lie within this magnitude: far outside what
#: a trained model holds, but safe from overflow in the log densities and in
#: the confidence.
MAX_MAGNITUDE = 1e30


def number(value, name: str, low: float = -MAX_MAGNITUDE, high: float = MAX_MAGNITUDE, below: bool = False) -> float:
    """A number from parsed JSON as a float in ``[low, high]`` (``[low, high)`` with ``below``).

    Only JSON numbers are numbers: strings ("1.5"), booleans and null are
    refused, not converted, as are NaN, infinities and integers too large
    for a float.

    Raises
    ------
    WordrecError
        Naming the field ``name``, the range and what the file holds.
    """
    if type(value) in (int, float) and number_problem(value) is None:
        if low <= value <= high and not (below and value == high):
            return float(value)
    span = f"from {low:g} to {high:g}" + (" (exclusive)" if below else "")
    raise WordrecError(f"field {name!r}: must be a number {span}, got {shown_value(value)}")


def number_problem(value, limit: float = math.inf) -> str | None:
    """What is wrong with a JSON number (NaN, an infinity, too large), or None."""
    if type(value) is float and not math.isfinite(value):
        return f"{shown_value(value)} is not a finite number"
    if type(value) is int:
        try:
            x = float(value)
        except OverflowError:
            return f"{shown_value(value)} is too large"
    elif type(value) is float:
        x = value
    else:
        return None
    return f"{shown_value(value)} is beyond +-{limit:g}" if abs(x) > limit else None


def shown_value(value) -> str:
    """A short, printable rendering of a JSON value for a message."""
    if type(value) is int and value.bit_length() > 100:
        return f"an integer of {len(str(abs(value)))} digits"
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    text = json.dumps(value)  # escapes control characters; NaN and Infinity as Python writes them
    return text if len(text) <= 40 else text[:37] + "..."


def check_numbers(value, name: str, limit: float = math.inf) -> None:
    """Refuse NaN, infinities and numbers beyond ``limit`` (or a float's range) anywhere in parsed JSON.

    Such numbers cannot be written back as JSON (``wordrec adapt`` saves
    the model again), and overflow wherever a float is needed.  Containers
    are walked with a stack, not recursion, so that nesting depth is no
    problem.

    Raises
    ------
    WordrecError
        Naming the field, e.g. ``training.adaptation[0].prior``.
    """
    stack = [(value, name)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            children, template = node.items(), "{}.{}"
        elif isinstance(node, (list, tuple)):
            children, template = enumerate(node), "{}[{}]"
        else:
            children, template = [(None, node)], "{}"
        for key, child in children:
            if isinstance(child, (dict, list, tuple)):
                stack.append((child, template.format(where, key)))
            elif type(child) in (int, float):
                problem = number_problem(child, limit)
                if problem:
                    name = template.format(where, key)
                    name = name if len(name) <= 80 else f"{name[:50]}...{name[-25:]}"  # deep nesting
                    raise WordrecError(f"field {name!r}: {problem}")
