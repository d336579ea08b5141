"""The study core: config (``study_config.v1``), models, the whole run and its evaluation.

``config.py`` reads and checks a study config; ``models.py`` builds every model from it and the registries;
``run.py`` runs the study (cohort -> features -> models -> evaluation -> report; ``fit_study`` fits and saves the
primary model only); ``evaluate.py`` computes the metrics and risk groups and ``assessment.py`` every other result
the report shows; ``internal.py`` is internal validation by bootstrap or cross-validation; ``attention.py`` the
attention maps of attention-MIL scores; ``binary.py`` the whole study of a binary endpoint.
"""
