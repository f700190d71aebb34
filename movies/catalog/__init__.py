"""The catalog machinery: where movie data comes from and how it is cached.

- ``reads``: every catalog read the API makes, behind the process-local tier;
- ``cache_policy``: TTLs, keys, stale copies and single-flight fills in the shared cache;
- ``sources/``: the configured source, TMDb (``movies.tmdb`` over HTTP) or our own tables;
- ``store``: writes records into our tables; ``importer``: reads the bundled catalog file;
- ``activity``: what our users did lately (the trending signal); ``languages``: ISO 639-1.

Nothing here knows GraphQL; errors are ``backend.errors`` classes.
"""
