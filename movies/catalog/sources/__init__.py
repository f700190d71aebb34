"""Catalog sources: where movies come from (TMDb or our own database)."""
