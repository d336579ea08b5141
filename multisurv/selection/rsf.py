"""Random-survival-forest permutation importance as a feature selector."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.utils import check_random_state
from sksurv.ensemble import RandomSurvivalForest

from multisurv._validation import check_consistent_length, check_param, check_survival_y
from multisurv.selection._base import ColumnSelectorMixin

__all__ = ["RSFPermutationSelector"]

_OWNER = "RSFPermutationSelector"


class RSFPermutationSelector(ColumnSelectorMixin):
    """Keep the features whose permutation importance in a random survival forest is highest.

    Parameters
    ----------
    n_features : int, default=20
        Keep at most this many features (the most important, and only those with importance > 0).
    n_estimators : int, default=500
        Trees of the forest.
    n_repeats : int, default=10
        Permutations per feature.
    min_samples_leaf : int, default=5
        Minimum patients per leaf (scikit-survival's default is 3; 5 steadies small cohorts).
    max_features : {"sqrt", "log2"}, int, float or None, default="sqrt"
        Features tried at each split.
    n_jobs : int or None, default=None
        Parallel jobs for the forest and the permutations.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    forest_ : RandomSurvivalForest
        Fitted on the median-imputed training rows.
    medians_ : ndarray
    importances_ : pandas.DataFrame
        Index feature; ``importance_mean`` and ``importance_sd`` (drop in Harrell's C when the feature is
        permuted, on the training rows), sorted as the features were given.
    support_, selected_features_

    Notes
    -----
    Importance is measured on the training rows (the data the selector is fitted on), as STYLE demands:
    inside a resampling loop this is the training fold, so held-out patients never inform the ranking.
    In-sample permutation importance of a forest is optimistic for every feature alike, which leaves the
    ranking usable; it is a ranking, not a test.

    References
    ----------
    .. [1] Ishwaran, H., Kogalur, U. B., Blackstone, E. H., Lauer, M. S. "Random survival forests",
       Annals of Applied Statistics 2(3), 841-860, 2008.
    .. [2] Breiman, L. "Random forests", Machine Learning 45, 5-32, 2001.

    Examples
    --------
    >>> from multisurv._validation import make_y
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(150, 5)), columns=list("abcde"))
    >>> y = make_y(rng.exponential(np.exp(-1.5 * X["a"])), np.ones(150, bool))
    >>> sel = RSFPermutationSelector(n_features=1, n_estimators=30, n_repeats=3, random_state=0).fit(X, y)
    >>> sel.selected_features_
    ['a']
    """

    def __init__(self, *, n_features: int = 20, n_estimators: int = 500, n_repeats: int = 10,
                 min_samples_leaf: int = 5, max_features="sqrt", n_jobs: int | None = None, random_state=None):
        self.n_features = n_features
        self.n_estimators = n_estimators
        self.n_repeats = n_repeats
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, y) -> RSFPermutationSelector:
        """Fit the forest and rank the features by permutation importance.

        Parameters
        ----------
        X : DataFrame or array-like, shape (n_samples, n_features)
            NaN is median-imputed (training medians).
        y : structured array, shape (n_samples,)

        Returns
        -------
        self

        Examples
        --------
        >>> from multisurv._validation import make_y
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
        >>> y = make_y(rng.exponential(np.exp(-2 * X["a"])), np.ones(100, bool))
        >>> sel = RSFPermutationSelector(n_features=1, n_estimators=10, n_repeats=2, random_state=0).fit(X, y)
        >>> sel.selected_features_, sel.importances_.index[0]
        (['a'], 'a')
        """
        for name in ("n_features", "n_estimators", "n_repeats", "min_samples_leaf"):
            check_param(_OWNER, name, getattr(self, name), kind="int", low=1)
        frame = self._start_fit(X)
        y = check_survival_y(y, where=f"{_OWNER}.fit")
        check_consistent_length(X=frame, y=y)
        values = frame.to_numpy(dtype=float)
        has = (~np.isnan(values)).any(axis=0)
        self.medians_ = np.zeros(values.shape[1])
        if has.any():
            self.medians_[has] = np.nanmedian(values[:, has], axis=0)
        values = np.where(np.isnan(values), self.medians_, values)
        rng = check_random_state(self.random_state)
        forest_seed, perm_seed = rng.randint(np.iinfo(np.int32).max, size=2)
        self.forest_ = RandomSurvivalForest(n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf,
                                            max_features=self.max_features, n_jobs=self.n_jobs,
                                            random_state=int(forest_seed)).fit(values, y)
        result = permutation_importance(self.forest_, values, y, n_repeats=self.n_repeats, n_jobs=self.n_jobs,
                                        random_state=int(perm_seed))  # scorer: the forest's score = Harrell's C
        self.importances_ = pd.DataFrame({"importance_mean": result.importances_mean,
                                          "importance_sd": result.importances_std},
                                         index=pd.Index(self._columns, name="feature"))
        order = np.argsort(-result.importances_mean, kind="mergesort")[: self.n_features]
        support = np.zeros(values.shape[1], dtype=bool)
        support[order[result.importances_mean[order] > 0]] = True
        self._finish_fit(support)
        return self
