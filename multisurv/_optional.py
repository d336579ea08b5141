"""Optional imports that name the pip extra to install when they are missing."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, *, extra: str) -> ModuleType:
    """Import ``module`` or raise an ImportError telling which multisurv extra provides it.

    Examples
    --------
    >>> require("json", extra="all").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - message is tested with a fake module name
        raise ImportError(
            f"The optional dependency '{module}' is needed here but could not be imported ({exc}). "
            f'Install it with: pip install "multisurv[{extra}]"'
        ) from exc
