"""
Kaplan-Meier curves
===================

:func:`multisurv.plotting.km.plot_km`: Kaplan-Meier curves of any grouping with 95% bands (log, log-log or
plain), the numbers at risk under the axes, the log-rank p, the hazard ratios against the first group and the
median survival of each group.
"""

import numpy as np
from sksurv.datasets import load_veterans_lung_cancer

from multisurv._validation import make_y
from multisurv.plotting.km import plot_km

data, outcome = load_veterans_lung_cancer()
y = make_y(outcome["Survival_in_days"] / 30.44, outcome["Status"])  # months
ax = plot_km(y, np.asarray(data["Celltype"], dtype=str), title="Survival by cell type", time_unit="months")
ax.set_xlim(0, 24)
