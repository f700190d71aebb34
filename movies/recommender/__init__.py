"""The recommender: models and serving, with offline research beside them.

- ``ease``, ``content``: the numerical models (numpy/scipy, no Django);
- ``serving``: the hybrid that answers ``recommendations`` and the local ``similar``;
- ``training``: trains and publishes the collaborative model from our tables;
- ``offline/``: MovieLens loaders, protocols, baselines and metrics; never imported by serving.
"""
