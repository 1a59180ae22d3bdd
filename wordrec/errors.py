"""The one exception type users see."""


class WordrecError(Exception):
    """A problem with the user's input, data or model file.

    The message says what failed, where (file, word, field) and, where it
    helps, what to do about it.  The CLI prints it as ``Error: <message>``.
    """
