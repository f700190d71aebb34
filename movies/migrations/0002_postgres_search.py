"""PostgreSQL only: pg_trgm and the indexes behind ranked, typo-tolerant search.

Other databases (SQLite, the embedded default) skip this migration's work.
"""

from django.db import migrations

from movies.migrations._postgres import on_postgres

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS movie_title_trgm_idx ON movies_movie USING gin (title gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS movie_search_idx ON movies_movie USING gin "
    "((setweight(to_tsvector('english'::regconfig, COALESCE(title, '')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, COALESCE(overview, '')), 'D')))",
]
BACKWARD = ["DROP INDEX IF EXISTS movie_search_idx", "DROP INDEX IF EXISTS movie_title_trgm_idx"]


class Migration(migrations.Migration):
    dependencies = [("movies", "0001_initial")]

    operations = [on_postgres(FORWARD, BACKWARD)]
