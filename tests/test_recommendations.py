"""Personalised recommendations through the GraphQL endpoint."""

from __future__ import annotations

import dataclasses
from itertools import pairwise
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Favorite, User
from movies.models import Movie, RecommenderModel
from movies.recommender import serving
from tests.conftest import GraphQL, clear_caches

pytestmark = pytest.mark.django_db

RECS = "query($n: Int!) { recommendations(limit: $n) { score reasons movie { id title year voteAverage originalLanguage genres { id name } } } }"
PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _local(local_catalog: None) -> None:
    """Recommendations draw on the bundled catalog."""


def _user(gql: GraphQL, name: str) -> str:
    variables = {"input": {"username": name, "email": f"{name}@example.com", "password": PASSWORD}}
    return gql("mutation($input: RegisterInput!) { register(input: $input) { token } }", variables).ok()[
        "register"
    ]["token"]


@pytest.fixture
def token(gql: GraphQL) -> str:
    return _user(gql, "viewer")


def recommend(gql: GraphQL, token: str, limit: int = 20) -> list[dict[str, Any]]:
    return gql(RECS, {"n": limit}, token=token).ok()["recommendations"]


def test_anonymous_viewers_get_unauthenticated(gql: GraphQL) -> None:
    assert gql(RECS, {"n": 5}).codes == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("limit", [0, 101])
def test_limit_is_checked(gql: GraphQL, token: str, limit: int) -> None:
    assert gql(RECS, {"n": limit}, token=token).codes == ["BAD_USER_INPUT"]


def test_a_new_user_gets_reasoned_popular_picks(gql: GraphQL, token: str) -> None:
    recs = recommend(gql, token)
    assert len(recs) == 20
    assert all(1 <= len(rec["reasons"]) <= 3 for rec in recs)
    scores = [rec["score"] for rec in recs]
    assert scores[0] == max(scores)
    assert {reason for rec in recs for reason in rec["reasons"]} & {"Popular right now"} or any(
        reason.startswith("Highly rated") for rec in recs for reason in rec["reasons"]
    )


def test_preferences_are_hard_filters_and_boosts(gql: GraphQL, token: str) -> None:
    gql(
        "mutation { updatePreferences(input: {favoriteGenreIds: [80], dislikedGenreIds: [27, 16], "
        'languages: ["en"], yearFrom: 1990, yearTo: 2010, minVoteAverage: 6.5}) { yearFrom } }',
        token=token,
    ).ok()
    recs = recommend(gql, token, 50)
    assert recs
    for rec in recs:
        movie = rec["movie"]
        genres = {genre["id"] for genre in movie["genres"]}
        assert not genres & {27, 16}
        assert movie["originalLanguage"] == "en"
        assert 1990 <= movie["year"] <= 2010
        assert movie["voteAverage"] >= 6.5
    crime = [rec for rec in recs[:10] if 80 in {g["id"] for g in rec["movie"]["genres"]}]
    assert len(crime) >= 5
    assert any("Crime" in reason for rec in crime for reason in rec["reasons"])


def test_a_new_favorite_changes_recommendations_at_once(gql: GraphQL, token: str) -> None:
    before = recommend(gql, token)
    gql("mutation { addFavorite(movieId: 155) { id } }", token=token).ok()  # The Dark Knight
    after = recommend(gql, token)
    assert [r["movie"]["id"] for r in after] != [r["movie"]["id"] for r in before]
    assert 155 not in {r["movie"]["id"] for r in after}
    reasons = [reason for rec in after for reason in rec["reasons"]]
    assert {
        "Similar to The Dark Knight",
        "Directed by Christopher Nolan, who directed The Dark Knight",
    } & set(reasons)
    titles = [rec["movie"]["title"] for rec in after[:10]]
    assert "The Dark Knight Rises" in titles or "Batman Begins" in titles


def test_reasons_name_directors_and_actors_only_when_true(gql: GraphQL, token: str) -> None:
    from movies.models import Credit

    # Three Nolan films, two with Christian Bale.
    gql(
        "mutation { a: addFavorite(movieId: 155) { id } b: addFavorite(movieId: 27205) { id } "
        "c: addFavorite(movieId: 272) { id } }",
        token=token,
    ).ok()
    recs = recommend(gql, token, 30)
    named = [(rec["movie"]["id"], reason) for rec in recs for reason in rec["reasons"]]
    assert (49026, "Directed by Christopher Nolan, whose films you liked") in named  # The Dark Knight Rises
    for movie_id, reason in named:
        for prefix, job in (("Directed by ", "Director"), ("Starring ", "")):
            if reason.startswith(prefix):
                name = reason[len(prefix) :].split(",")[0]
                credits = Credit.objects.filter(movie_id=movie_id, person__name=name)
                assert (
                    credits.filter(job="Director").exists() if job else credits.filter(kind="cast").exists()
                )


def test_seen_movies_are_never_recommended(gql: GraphQL, token: str) -> None:
    first = recommend(gql, token, 5)
    seen = [rec["movie"]["id"] for rec in first]
    gql(
        "mutation($a: Int!, $b: Int!, $c: Int!) { addFavorite(movieId: $a) { id } "
        "rateMovie(movieId: $b, score: 2) { id } addToWatchlist(movieId: $c) { id } }",
        {"a": seen[0], "b": seen[1], "c": seen[2]},
        token=token,
    ).ok()
    again = {rec["movie"]["id"] for rec in recommend(gql, token, 100)}
    assert not again & set(seen[:3])


def test_collaborative_model_explains_with_because_you_liked(gql: GraphQL, token: str, settings: Any) -> None:
    # Twenty users who like Avatar also like Inception (27205): the model learns it.
    for index in range(20):
        user = User.objects.create_user(f"fan{index}", f"fan{index}@example.com", PASSWORD)
        Favorite.objects.bulk_create(
            [Favorite(user=user, movie_id=movie_id) for movie_id in (19995, 27205, 49026 + index % 3)]
        )
    call_command("train_recommender", verbosity=0)
    assert RecommenderModel.objects.count() == 1
    gql("mutation { addFavorite(movieId: 19995) { id } }", token=token).ok()
    recs = recommend(gql, token)
    inception = next(rec for rec in recs if rec["movie"]["id"] == 27205)
    assert inception["reasons"][0] == "Because you liked Avatar"
    assert recs.index(inception) < 3


def test_train_without_interactions_says_so(settings: Any) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No interactions"):
        call_command("train_recommender", verbosity=0)


def test_top_twenty_is_diverse(gql: GraphQL, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    gql(
        "mutation { a: addFavorite(movieId: 155) { id } b: addFavorite(movieId: 272) { id } }", token=token
    ).ok()
    recs = recommend(gql, token)
    first_genres = {rec["movie"]["genres"][0]["id"] for rec in recs if rec["movie"]["genres"]}
    assert len(first_genres) >= 4
    # The diversity pass (its strength selected on validation) reorders what is like an earlier pick.
    monkeypatch.setattr(serving, "BLEND", dataclasses.replace(serving.BLEND, diversity=0.0))
    clear_caches()
    plain = recommend(gql, token)
    assert [rec["movie"]["id"] for rec in recs] != [rec["movie"]["id"] for rec in plain]
    assert sorted(rec["score"] for rec in recs) <= sorted(rec["score"] for rec in plain)


def test_query_count_does_not_grow_with_the_limit(gql: GraphQL, token: str) -> None:
    gql("mutation { addFavorite(movieId: 155) { id } }", token=token).ok()

    def count(limit: int) -> int:
        clear_caches()
        with CaptureQueriesContext(connection) as queries:
            assert len(recommend(gql, token, limit)) == limit
        return len(queries)

    recommend(gql, token, 1)  # models loaded once per process, not per request
    assert count(5) == count(50)


def test_recommendations_are_cached_until_the_user_changes_something(gql: GraphQL, token: str) -> None:
    recommend(gql, token)
    with CaptureQueriesContext(connection) as warm:
        recommend(gql, token)
    # Only the authentication lookup and the cached answer's movie lookups remain.
    assert not any("accounts_favorite" in q["sql"] for q in warm.captured_queries)


def test_any_write_path_drops_cached_recommendations(gql: GraphQL, token: str) -> None:
    """An admin edit or shell write counts like a mutation (signals, not calls in the mutations)."""
    before = [rec["movie"]["id"] for rec in recommend(gql, token)]
    user = User.objects.get(username="viewer")
    Favorite.objects.create(user=user, movie_id=before[0])
    after = [rec["movie"]["id"] for rec in recommend(gql, token)]
    assert before[0] not in after


def test_a_lost_generation_is_set_afresh_never_read_as_an_earlier_one(token: str) -> None:
    """An expired or evicted generation would otherwise read as 0, which entries from before may carry."""
    from django.core.cache import cache

    from movies.catalog import cache_policy

    user = User.objects.get(username="viewer")
    first = cache_policy.recommendations_generation(user.pk)
    assert first != 0
    assert cache_policy.recommendations_generation(user.pk) == first  # stable while kept
    cache.delete(cache_policy.recommendations_generation_key(user.pk))  # as an eviction would
    again = cache_policy.recommendations_generation(user.pk)
    assert again not in (0, first)


def test_a_result_computed_before_a_change_is_not_served_after_it(token: str) -> None:
    from movies.catalog import cache_policy
    from movies.recommender.serving import recommendations_for

    user = User.objects.get(username="viewer")
    generation = cache_policy.recommendations_generation(user.pk)
    stale = recommendations_for(user.pk, 5)
    Favorite.objects.create(user=user, movie_id=stale[0][0].movie_id)
    assert cache_policy.recommendations_generation(user.pk) != generation
    fresh = recommendations_for(user.pk, 5)
    assert stale[0][0].movie_id not in [item.movie_id for item, _ in fresh]


def test_edited_films_reach_the_recommender(settings: Any) -> None:
    from movies.recommender.serving import get_recommender

    recommender = get_recommender()
    first = recommender.similar(155, 3)
    edited = Movie.objects.get(id=first[0])
    edited.adult = True
    edited.save()  # as the admin does
    recommender.refresh()  # within the edit pacing: the index is kept
    assert recommender.similar(155, 3)[0] == first[0]
    recommender.refresh(force=True)
    assert first[0] not in recommender.similar(155, 3)


# --- costs that stay flat as history grows -----------------------------------------------------

INTERACTION_TABLES = ("accounts_favorite", "accounts_rating", "accounts_watchlistentry", "accounts_dismissal")


def _reads_of_interactions(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"] for q in queries.captured_queries if any(table in q["sql"] for table in INTERACTION_TABLES)
    ]


def test_trending_reads_the_day_counts_never_the_interactions(gql: GraphQL) -> None:
    fans = [User.objects.create(username=f"t{index}", email=f"t{index}@example.com") for index in range(3)]
    for user in fans:
        Favorite.objects.create(user=user, movie_id=155)
    with CaptureQueriesContext(connection) as queries:
        gql("{ trendingMovies(timeWindow: WEEK) { results { id } } }").ok()
    assert _reads_of_interactions(queries) == []
    counts = [q["sql"] for q in queries.captured_queries if "movies_movieactivity" in q["sql"]]
    assert counts  # the window's counts, and the films they name
    assert all('"day" >=' in sql for sql in counts)  # the window's days only


def test_uncached_recommendations_read_only_the_viewers_own_rows(gql: GraphQL, token: str) -> None:
    from movies.recommender.serving import get_recommender

    others = [User.objects.create(username=f"o{index}", email=f"o{index}@example.com") for index in range(5)]
    for user in others:
        Favorite.objects.create(user=user, movie_id=27205)
    gql("mutation { addFavorite(movieId: 155) { id } }", token=token).ok()
    viewer = User.objects.get(username="viewer")
    get_recommender().expire()  # the once-a-minute check (model version, trending counts) falls in this request
    clear_caches()
    with CaptureQueriesContext(connection) as queries:
        recs = recommend(gql, token)
    assert recs
    reads = _reads_of_interactions(queries)
    assert reads  # the viewer's own favorites, ratings and watchlist
    assert all(f'"user_id" = {viewer.pk}' in sql or f"user_id = {viewer.pk}" in sql for sql in reads), reads
    assert any("movies_movieactivity" in q["sql"] for q in queries.captured_queries)


def test_the_trending_prior_follows_the_counts_within_a_check(gql: GraphQL, token: str) -> None:
    from movies.recommender.serving import get_recommender

    recommender = get_recommender()
    assert not recommender.snapshot().trending.any()
    fans = [User.objects.create(username=f"p{index}", email=f"p{index}@example.com") for index in range(4)]
    for user in fans:
        Favorite.objects.create(user=user, movie_id=27205)
    assert not recommender.snapshot().trending.any()  # within the minute: the snapshot's counts
    recommender.expire()
    snap = recommender.snapshot()
    assert snap.trending[snap.index.row_of[27205]] == pytest.approx(1.0)


def _manage_elsewhere(*args: str) -> str:
    """Runs ``manage.py *args`` in another process against the test database; returns its output."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from django.conf import settings

    database = settings.DATABASES["default"]
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    # This process's cache is not the other's business: it runs on its own file cache.
    env = {**{k: v for k, v in os.environ.items() if k != "REDIS_URL"}, "DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def test_a_model_published_by_one_process_is_served_by_another(
    transactional_db: None, postgres: None, gql: GraphQL
) -> None:
    from movies.recommender.serving import get_recommender

    if not Movie.objects.filter(id=155).exists():
        call_command("load_catalog", verbosity=0)
    for index in range(20):
        user = User.objects.create(username=f"fan{index}", email=f"fan{index}@example.com")
        Favorite.objects.bulk_create(
            [Favorite(user=user, movie_id=movie_id) for movie_id in (19995, 27205, 49026 + index % 3)]
        )
    token = _user(gql, "viewer")
    assert get_recommender().snapshot().version == "none"
    assert "published version" in _manage_elsewhere("train_recommender", "--verbosity", "0")
    version = RecommenderModel.objects.get().pk
    get_recommender().expire()  # what the next minute's check does by itself
    gql("mutation { addFavorite(movieId: 19995) { id } }", token=token).ok()
    recs = recommend(gql, token)
    assert (
        next(rec for rec in recs if rec["movie"]["id"] == 27205)["reasons"][0] == "Because you liked Avatar"
    )
    # A third process (another app server) serves the very same version.
    code = (
        "from movies.recommender.serving import get_recommender; print(get_recommender().snapshot().version)"
    )
    served_elsewhere = _manage_elsewhere("shell", "-c", code).strip().splitlines()[-1]
    assert get_recommender().snapshot().version == f"v{version}" == served_elsewhere


def test_models_can_live_in_a_storage_backend(settings: Any, tmp_path: Any) -> None:
    from movies.recommender import publishing
    from movies.recommender.ease import ItemItemModel

    settings.STORAGES = {
        **settings.STORAGES,
        "recommender": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    settings.RECOMMENDER_KEEP_VERSIONS = 2
    import numpy as np

    def model(weight: float) -> ItemItemModel:
        return ItemItemModel(
            item_ids=np.array([155, 27205]),
            neighbors=np.array([[1], [0]], dtype=np.int32),
            weights=np.array([[weight], [weight]], dtype=np.float32),
            popularity=np.array([1.0, 1.0], dtype=np.float32),
        )

    versions = [publishing.publish(model(float(w)), {"n": w}) for w in (1, 2, 3)]
    publishing.prune()  # what the commit hook does after each publish
    row = RecommenderModel.objects.get(pk=versions[-1])
    assert row.data is None
    assert (tmp_path / row.storage_name).exists()
    loaded = publishing.load(versions[-1])
    assert loaded is not None
    assert loaded.weights[0, 0] == 3.0
    assert list(RecommenderModel.objects.values_list("pk", flat=True)) == versions[:0:-1]
    assert len(list((tmp_path / "recommender").iterdir())) == 2
    assert publishing.load(versions[0]) is None


def test_scores_are_the_final_ranking_scores_in_list_order(gql: GraphQL, token: str) -> None:
    # Two Batman films liked: the diversity pass moves many like them down the list.
    gql(
        "mutation { a: addFavorite(movieId: 155) { id } b: addFavorite(movieId: 272) { id } }", token=token
    ).ok()
    scores = [rec["score"] for rec in recommend(gql, token, 40)]
    assert len(scores) == 40
    assert all(earlier >= later for earlier, later in pairwise(scores))


# --- "not interested" ------------------------------------------------------------------------

DISMISS = "mutation($id: Int!) { dismissRecommendation(movieId: $id) }"
UNDO = "mutation($id: Int!) { undoDismissRecommendation(movieId: $id) }"


def _ids(recs: list[dict[str, Any]]) -> list[int]:
    return [rec["movie"]["id"] for rec in recs]


def test_a_dismissed_film_is_never_recommended_again_until_taken_back(gql: GraphQL, token: str) -> None:
    from accounts.models import Dismissal

    gql("mutation { addFavorite(movieId: 155) { id } }", token=token).ok()
    before = _ids(recommend(gql, token))  # cached: the dismissal must drop it
    target = before[0]
    assert gql(DISMISS, {"id": target}, token=token).ok() == {"dismissRecommendation": True}
    assert gql(DISMISS, {"id": target}, token=token).ok() == {"dismissRecommendation": True}
    assert Dismissal.objects.filter(user__username="viewer", movie_id=target).count() == 1
    assert target not in _ids(recommend(gql, token, 100))
    assert gql(UNDO, {"id": target}, token=token).ok() == {"undoDismissRecommendation": True}
    assert gql(UNDO, {"id": target}, token=token).ok() == {"undoDismissRecommendation": False}
    assert _ids(recommend(gql, token)) == before


def test_dismissal_errors_are_coded(gql: GraphQL, token: str) -> None:
    assert gql(DISMISS, {"id": 155}).codes == ["UNAUTHENTICATED"]
    assert gql(UNDO, {"id": 155}).codes == ["UNAUTHENTICATED"]
    unknown = gql(DISMISS, {"id": 999_999_999}, token=token)
    assert unknown.codes == ["NOT_FOUND"]
    assert unknown.errors[0]["extensions"]["movieId"] == 999_999_999
    # Like the other removals: nothing to take back, whatever the id.
    assert gql(UNDO, {"id": 999_999_999}, token=token).ok() == {"undoDismissRecommendation": False}


def test_a_dismissal_lowers_films_like_it(gql: GraphQL, token: str) -> None:
    # Both like The Dark Knight and have seen The Dark Knight Rises (49026); one said "not
    # interested" to it, the other rated it 3 (no signal either way): Batman Begins ranks lower for the first.
    other = _user(gql, "control")
    for viewer in (token, other):
        gql("mutation { addFavorite(movieId: 155) { id } }", token=viewer).ok()
    gql(DISMISS, {"id": 49026}, token=token).ok()
    gql("mutation { rateMovie(movieId: 49026, score: 3) { id } }", token=other).ok()
    dismissed = {rec["movie"]["id"]: rec["score"] for rec in recommend(gql, token, 100)}
    control = {rec["movie"]["id"]: rec["score"] for rec in recommend(gql, other, 100)}
    assert 49026 not in dismissed
    assert 49026 not in control
    assert dismissed.get(272, float("-inf")) < control[272]  # Batman Begins


def test_a_dismissed_film_is_never_a_reason(gql: GraphQL, token: str) -> None:
    gql(
        "mutation { a: addFavorite(movieId: 155) { id } b: addFavorite(movieId: 27205) { id } }", token=token
    ).ok()
    assert any("The Dark Knight" in r for rec in recommend(gql, token, 50) for r in rec["reasons"])
    gql(DISMISS, {"id": 155}, token=token).ok()  # "not interested" outranks the favorite
    reasons = [r for rec in recommend(gql, token, 50) for r in rec["reasons"]]
    assert reasons
    assert not [r for r in reasons if r.endswith("The Dark Knight")], reasons


def test_dismissals_cost_the_same_queries_however_many(gql: GraphQL, token: str) -> None:
    films = _ids(recommend(gql, token, 12))

    def dismiss_cost(movie_id: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            gql(DISMISS, {"id": movie_id}, token=token).ok()
        # Reading the token's user depends on the shared cache (warm or not), not on the dismissals.
        return sum('"accounts_user"' not in query["sql"] for query in queries.captured_queries)

    def recommend_cost() -> int:
        clear_caches()
        with CaptureQueriesContext(connection) as queries:
            recommend(gql, token, 20)
        return len(queries)

    first = dismiss_cost(films[0])
    with_one = recommend_cost()
    assert [dismiss_cost(movie_id) for movie_id in films[1:]] == [first] * 11
    assert recommend_cost() == with_one


# --- reasons that inform -----------------------------------------------------------------------


def _share_ok(reasons: list[tuple[str, ...]]) -> bool:
    """No reason on more than 40% (rounded up) of any prefix of the list."""
    import math

    from movies.recommender.reasons import MAX_SHARE

    for end in range(1, len(reasons) + 1):
        counts: dict[str, int] = {}
        for why in reasons[:end]:
            for reason in why:
                # Reasons that differ only in their figures are one reason.
                key = next(
                    (p for p in ("Highly rated", "Rated ", "Popular", "Trending") if reason.startswith(p)),
                    reason,
                )
                counts[key] = counts.get(key, 0) + 1
        if max(counts.values()) > max(1, math.ceil(MAX_SHARE * end)):
            return False
    return True


def test_reasons_through_graphql_are_true_specific_and_spread(gql: GraphQL, token: str) -> None:
    from movies.recommender.reasons import HIGHLY_RATED_MIN_AVERAGE, HIGHLY_RATED_MIN_VOTES

    # Fans of Avatar and Titanic (597) each also like one of six films: both explain all six.
    pool = (27205, 49026, 157336, 1891, 24428, 68718)
    for index in range(18):
        user = User.objects.create_user(f"pair{index}", f"pair{index}@example.com", PASSWORD)
        Favorite.objects.bulk_create(
            [Favorite(user=user, movie_id=movie_id) for movie_id in (19995, 597, pool[index % 6])]
        )
    call_command("train_recommender", verbosity=0)
    gql(
        "mutation { a: addFavorite(movieId: 19995) { id } b: addFavorite(movieId: 597) { id } }", token=token
    ).ok()
    recs = recommend(gql, token)
    reasons = [tuple(rec["reasons"]) for rec in recs]
    firsts = [why[0] for why in reasons[:6]]
    assert {"Because you liked Avatar", "Because you liked Titanic"} <= set(firsts), reasons
    assert _share_ok(reasons), reasons
    for rec in recs:
        movie = Movie.objects.get(id=rec["movie"]["id"])
        for reason in rec["reasons"]:
            if reason.startswith("Because you liked"):
                assert reason in {"Because you liked Avatar", "Because you liked Titanic"}
            if reason.startswith("Highly rated"):
                assert movie.vote_average >= HIGHLY_RATED_MIN_AVERAGE
                assert movie.vote_count >= HIGHLY_RATED_MIN_VOTES
                assert reason == f"Highly rated: {movie.vote_average:.1f}/10 from {movie.vote_count:,} votes"
            assert not reason.startswith(
                "Trending"
            )  # two fans a film this week, and none before: not a trend


def test_trending_is_said_only_of_activity_well_above_its_usual(gql: GraphQL, token: str) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from movies.models import MovieActivity

    # Six favorites this week each for Fight Club (550) and Forrest Gump (13), which usually gets ten a week.
    for index in range(12):
        user = User.objects.create_user(f"now{index}", f"now{index}@example.com", PASSWORD)
        Favorite.objects.create(user=user, movie_id=550 if index < 6 else 13)
    today = timezone.now().date()
    MovieActivity.objects.bulk_create(
        [
            MovieActivity(movie_id=13, day=today - timedelta(days=10 + 7 * week), favorites=10)
            for week in range(8)
        ]
    )
    recs = {rec["movie"]["id"]: rec["reasons"] for rec in recommend(gql, token, 100)}
    assert {550, 13} <= set(recs)
    assert "Trending: 6 times its usual activity this week" in recs[550]
    assert not [reason for reason in recs[13] if reason.startswith("Trending")]
