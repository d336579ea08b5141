"""Exceptions and warnings raised by multisurv.

Every error about the user's data is a ``ValueError`` subclass so that code written for
scikit-learn keeps working, and every message says what is wrong, where, and how to fix it.
"""

from __future__ import annotations

__all__ = ["MultisurvError", "ManifestError", "ExtractionError", "ResourceError", "ConvergenceWarning",
           "MultisurvWarning"]


class MultisurvError(Exception):
    """Base class of every multisurv error."""


class ManifestError(MultisurvError, ValueError):
    """A cohort manifest (or its clinical spec) does not satisfy its schema.

    Parameters
    ----------
    problems : list of str
        Every problem found, one sentence each; the message lists them all.
    source : str, optional
        The file the problems were found in.
    """

    def __init__(self, problems, source=None):
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        head = f"{len(self.problems)} problem(s) found{where}:"
        super().__init__("\n".join([head, *("  - " + p for p in self.problems)]))


class ExtractionError(MultisurvError, ValueError):
    """Feature extraction failed for one case (a patient's CT or slide)."""


class ResourceError(MultisurvError, RuntimeError):
    """A fault of the machine (disk full, permission denied, out of memory, GPU missing or failing), not of the data.

    Raised to stop a batch instead of recording the fault as a patient's failure; the message names the
    patient being processed, what was kept, and the fix. Not a ``ValueError``: the data are fine.
    """


class MultisurvWarning(UserWarning):
    """Base class of multisurv's warnings."""


class ConvergenceWarning(MultisurvWarning):
    """A model did not converge or a fit is numerically fragile; the message names the setting to change."""
