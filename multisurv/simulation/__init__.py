"""Simulation studies of fusion strategies: a feature-level generator and a replicate runner.

``generator.py`` draws radiomics, pathomics and clinical feature tables with the latent structure of the
synthetic cohort (:mod:`multisurv.cohort.synthetic`) and the true linear predictor; ``config.py`` reads a
``simulation_config.v1`` YAML (scenarios, replicates, models); ``runner.py`` fits the models on every replicate
(cached per replicate, resumable, on processes) and ``performance.py`` summarises them as in Morris, White and
Crowther (2019); ``figures.py`` draws them.
"""

from __future__ import annotations
