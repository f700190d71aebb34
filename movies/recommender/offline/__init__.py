"""Offline evaluation of the recommender on public ratings data (research tools, not served)."""
