"""What a job tells its caller while it runs: stages, progress, recordings passed over, warnings.

Jobs never print.  They call an :class:`Events` object, whose methods do
nothing by default; the command line shows them as progress bars and lines
on stderr, the Python API as a progress callback and attributes.
"""

from __future__ import annotations


class Events:
    """Receives a job's events; subclass and override what you need."""

    def stage(self, name: str, total: int) -> None:
        """A stage of ``total`` units (files, models) begins."""

    def advance(self, n: int = 1) -> None:
        """``n`` more units of the current stage are done."""

    def skipped(self, where: str, why: str) -> None:
        """An input was passed over on purpose (hidden file, non-audio name, ...)."""

    def failed(self, failure) -> None:
        """An input could not be used (a :class:`wordrec.jobs.featurise.Failure`)."""

    def warn(self, message: str) -> None:
        """Something the user should know about the result."""


#: The caller that wants to hear nothing.
QUIET = Events()
