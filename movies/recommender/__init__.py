"""Recommender core: EASE item-item model, baselines, content model, metrics and offline evaluation.

Pure numpy/scipy on purpose: nothing here imports Django, so the numerical core can be trained,
evaluated and unit-tested without a configured project.
"""
