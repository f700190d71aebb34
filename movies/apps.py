from django.apps import AppConfig


class MoviesConfig(AppConfig):
    name = "movies"
    verbose_name = "Movie catalog"

    def ready(self) -> None:
        # The one place the catalog meets the recommender: the local source's
        # `similar` comes from the recommender, which itself reads the catalog.
        from movies import tasks  # noqa: F401  (registers the background tasks in every process)
        from movies.catalog import reads
        from movies.recommender.serving import similar_ids

        reads.use_similarity(similar_ids)
