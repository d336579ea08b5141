"""Save a figure in several formats, atomically and reproducibly."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from multisurv._atomic import write_atomic
from multisurv._validation import check_param

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["save_figure"]

#: Metadata that makes repeated saves byte-identical (no creation date) for the vector formats.
_METADATA = {
    "pdf": {"CreationDate": None, "ModDate": None},
    "svg": {"Date": None},
    "ps": {"CreationDate": None},
    "eps": {"CreationDate": None},
}


def save_figure(fig: Figure, stem: str | Path, *, formats: Sequence[str] = ("png", "pdf"), dpi: int = 300,
                bbox_inches: str | None = "tight") -> list[Path]:
    """Save ``fig`` as ``<stem>.<format>`` for each format.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure; it is neither modified nor closed.
    stem : str or Path
        Output path without extension; the extension is appended (``"figs/km.v2"`` gives
        ``figs/km.v2.png``). Missing parent folders are created.
    formats : sequence of str, default=("png", "pdf")
        Formats supported by the figure's canvas (``fig.canvas.get_supported_filetypes()``).
    dpi : int, default=300
        Resolution for raster formats, also stored in the PNG header.
    bbox_inches : "tight" or None, default="tight"
        ``"tight"`` crops (or grows) the saved area to every artist, so content outside the axes, such as
        the numbers-at-risk table of :func:`~multisurv.plotting.km.plot_km`, is kept. None saves the
        figure at exactly its ``figsize``.

    Returns
    -------
    list of Path
        The written files, in the order of ``formats``.

    Raises
    ------
    ValueError
        If a format is not supported or ``dpi`` is not a positive int.

    Notes
    -----
    Each file is written to a temporary file in the target folder and then moved into place, so an
    interrupted run never leaves a truncated figure. PDF, SVG and PS files carry no creation date and SVG
    element ids are salted with a fixed string, so saving the same figure twice gives identical bytes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import tempfile, matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([0, 1], [1, 0])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     [p.suffix for p in save_figure(fig, Path(d) / "figure")]
    ['.png', '.pdf']
    >>> plt.close(fig)
    """
    import matplotlib

    check_param("save_figure", "dpi", dpi, kind="int", low=1)
    if bbox_inches not in ("tight", None):
        raise ValueError(f"The 'bbox_inches' parameter of save_figure must be one of 'tight', None. "
                         f"Got {bbox_inches!r} instead.")
    if isinstance(formats, str):
        formats = (formats,)
    supported = fig.canvas.get_supported_filetypes()
    unknown = [f for f in formats if f not in supported]
    if unknown:
        raise ValueError(
            f"Unknown figure format(s) {', '.join(repr(f) for f in unknown)}. "
            f"Choose from: {', '.join(repr(f) for f in sorted(supported))}."
        )
    written = []
    with matplotlib.rc_context({"svg.hashsalt": "multisurv"}):
        for fmt in formats:
            path = Path(f"{stem}.{fmt}")
            write_atomic(path, lambda p, fmt=fmt: fig.savefig(p, format=fmt, dpi=dpi, metadata=_METADATA.get(fmt),
                                                              bbox_inches=bbox_inches))
            written.append(path)
    return written
