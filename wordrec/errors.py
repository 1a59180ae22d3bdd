"""The one exception type users see."""


class WordrecError(Exception):
    """A problem with the user's input, data or model file.

    The message says what failed, where (file, word, field) and, where it
    helps, what to do about it.  The CLI prints it as ``Error: <message>``.
    """


def check_settings(settings, checks, template: str) -> None:
    """Raise WordrecError for the first ``(name, ok)`` in ``checks`` that is not ok.

    ``template`` is formatted with the setting's ``name`` and its ``value``
    (read from ``settings``).
    """
    for name, ok in checks:
        if not ok:
            raise WordrecError(template.format(name=name, value=getattr(settings, name)))
