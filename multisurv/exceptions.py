"""Exceptions and warnings raised by multisurv.

Every error about the user's data is a ``ValueError`` subclass so that code written for
scikit-learn keeps working, and every message says what is wrong, where, and how to fix it.
"""

from __future__ import annotations

__all__ = ["MultisurvError", "ManifestError", "ExtractionError", "ResourceError", "ConvergenceWarning",
           "MultisurvWarning"]


class MultisurvError(Exception):
    """Base class of every multisurv error.

    Examples
    --------
    >>> issubclass(ManifestError, MultisurvError), issubclass(ResourceError, MultisurvError)
    (True, True)
    """


class ManifestError(MultisurvError, ValueError):
    """A cohort manifest (or its clinical spec) does not satisfy its schema.

    Parameters
    ----------
    problems : list of str
        Every problem found, one sentence each; the message lists them all.
    source : str, optional
        The file the problems were found in.

    Examples
    --------
    >>> err = ManifestError(["row 17 (patient_id='GIST-042'), column 'time': must be a number > 0; got '-3'."],
    ...                     source="cohort.csv")
    >>> print(err)
    1 problem(s) found in cohort.csv:
      - row 17 (patient_id='GIST-042'), column 'time': must be a number > 0; got '-3'.
    >>> isinstance(err, ValueError), len(err.problems)
    (True, 1)
    """

    def __init__(self, problems, source=None):
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        head = f"{len(self.problems)} problem(s) found{where}:"
        super().__init__("\n".join([head, *("  - " + p for p in self.problems)]))


class ExtractionError(MultisurvError, ValueError):
    """Feature extraction failed for one case (a patient's CT or slide).

    Raised inside a batch stage's per-patient loop, which records it in ``failures.csv`` and goes on (build one
    with :func:`multisurv.features.batch.case_error` to name the file at fault).

    Examples
    --------
    >>> err = ExtractionError("Mask 'p1_mask.nrrd' is empty. Check the segmentation.")
    >>> isinstance(err, ValueError), str(err)
    (True, "Mask 'p1_mask.nrrd' is empty. Check the segmentation.")
    """


class ResourceError(MultisurvError, RuntimeError):
    """A fault of the machine (disk full, permission denied, out of memory, GPU missing or failing), not of the data.

    Raised to stop a batch instead of recording the fault as a patient's failure; the message names the
    patient being processed, what was kept, and the fix. Not a ``ValueError``: the data are fine.

    Examples
    --------
    >>> err = ResourceError("Disk full while writing the features of patient 'P7'. Free space and rerun.")
    >>> isinstance(err, RuntimeError), isinstance(err, ValueError)
    (True, False)
    """


class MultisurvWarning(UserWarning):
    """Base class of multisurv's warnings.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("Encoder 'resnet50' is randomly initialised.", category=MultisurvWarning, stacklevel=2)
    >>> caught[0].category.__name__
    'MultisurvWarning'
    """


class ConvergenceWarning(MultisurvWarning):
    """A model did not converge or a fit is numerically fragile; the message names the setting to change.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", ConvergenceWarning)  # silence it in a simulation loop
    ...     warnings.warn("The Cox model did not converge. Raise 'penalizer'.", ConvergenceWarning, stacklevel=2)
    >>> issubclass(ConvergenceWarning, MultisurvWarning)
    True
    """
