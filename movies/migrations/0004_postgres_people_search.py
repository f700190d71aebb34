"""PostgreSQL only: the trigram index behind typo-tolerant people search.

Other databases (SQLite, the embedded default) skip this migration's work:
they search names in memory (movies.catalog.fuzzy).
"""

from django.db import migrations

from movies.migrations._postgres import on_postgres

FORWARD = ["CREATE INDEX IF NOT EXISTS person_name_trgm_idx ON movies_person USING gin (name gin_trgm_ops)"]
BACKWARD = ["DROP INDEX IF EXISTS person_name_trgm_idx"]


class Migration(migrations.Migration):
    dependencies = [("movies", "0003_people_credits_companies")]

    operations = [on_postgres(FORWARD, BACKWARD)]
