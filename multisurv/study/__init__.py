"""The study core: config (``study_config.v1``), models, the whole run and its evaluation.

``config.py`` reads and checks a study config; ``models.py`` builds every model from it and the registries;
``run.py`` runs the study (cohort -> features -> models -> evaluation -> report); ``evaluate.py`` computes every
result the report shows; ``internal.py`` is internal validation by bootstrap or cross-validation.
"""
