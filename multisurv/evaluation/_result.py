"""to_dict / to_frame shared by the evaluation layer's frozen result dataclasses."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd

__all__ = ["ResultRecord", "PerTimeResult"]


class ResultRecord:
    """Mixin for a result dataclass: its fields as a dict, and as a one-row DataFrame (override for other shapes)."""

    def to_dict(self) -> dict:
        """Return the fields as a plain dict."""
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """Return a one-row DataFrame with one column per field."""
        return pd.DataFrame([self.to_dict()])


class PerTimeResult(ResultRecord):
    """Mixin for a result with one estimate per time (fields ``times``, the estimate, ``lower``, ``upper``).

    ``_value`` (a class attribute, not a field) names the estimate's field, e.g. ``"brier"`` or ``"auc"``.
    """

    _value = "value"

    def to_frame(self) -> pd.DataFrame:
        """Return one row per time: ``time``, the estimate, ``lower``, ``upper``, plus the shared fields."""
        frame = pd.DataFrame({"time": self.times, self._value: getattr(self, self._value), "lower": self.lower,
                              "upper": self.upper})
        for name in ("n", "n_events", "n_bootstrap", "confidence", "method"):
            frame[name] = getattr(self, name)
        return frame
