"""Tests of the recommender core (pure numpy/scipy) and one MovieLens 100K end-to-end guard."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from movies.recommender.content import ContentItem, ContentModel
from movies.recommender.ease import ItemItemModel, fit_ease, top_k, top_n_neighbors
from movies.recommender.offline.metrics import (
    average_precision_at_k,
    evaluate_rankings,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from movies.recommender.offline.split import stratified_split


def _shared_data_dir() -> Path:
    env = os.environ.get("SHARED_DATA_DIR")
    if env:
        base = Path(env)
        return base / "data" if (base / "data").is_dir() and not (base / "movielens").is_dir() else base
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


# --- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def cooccurrence_matrix() -> sp.csr_matrix:
    """6 users x 4 items: items 0 and 1 always go together, items 2 and 3 are unrelated noise."""
    rows = [
        [1, 1, 0, 0],
        [1, 1, 0, 0],
        [1, 1, 1, 0],
        [1, 1, 0, 1],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
    ]
    return sp.csr_matrix(np.array(rows, dtype=np.float32))


@pytest.fixture
def catalogue() -> list[ContentItem]:
    return [
        ContentItem(1, ["Science Fiction", "Action"], ["space", "alien", "war"], "en", 1979),
        ContentItem(2, ["Science Fiction", "Action"], ["space", "alien"], "en", 1986),
        ContentItem(3, ["Romance", "Comedy"], ["wedding", "paris"], "fr", 2001),
        ContentItem(4, ["Romance", "Drama"], ["wedding"], "en", 1995),
        ContentItem(5, ["Documentary"], ["nature"], "de", 2010),
    ]


# --- metrics (hand-computed) ----------------------------------------------------------------
def test_metrics_hand_computed() -> None:
    recommended = [10, 20, 30, 40]
    relevant = {20, 40, 99}  # 99 was never recommended
    k = 4
    # hits at ranks 2 and 4 -> 2 hits
    assert precision_at_k(recommended, relevant, k) == pytest.approx(2 / 4)  # hits / k
    assert recall_at_k(recommended, relevant, k) == pytest.approx(2 / 3)  # hits / |relevant|
    # AP (MS map_at_k): precision at the hits' ranks = 1/2 and 2/4; sum = 1.0; / |relevant| = 1/3
    assert average_precision_at_k(recommended, relevant, k) == pytest.approx((1 / 2 + 2 / 4) / 3)
    # DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068 = 1.06161
    # IDCG over min(3, 4) = 3 hits: 1/log2(2) + 1/log2(3) + 1/log2(4) = 1 + 0.63093 + 0.5 = 2.13093
    # nDCG = 1.06161 / 2.13093 = 0.498189
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(recommended, relevant, k) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(recommended, relevant, k) == pytest.approx(0.498189, abs=1e-6)


def test_metrics_ideal_dcg_capped_at_k_and_average() -> None:
    # 5 relevant items, k=2, both recommendations hit: DCG = IDCG (ideal capped at min(5, 2) = 2) -> 1.0
    assert ndcg_at_k([1, 2], {1, 2, 3, 4, 5}, 2) == pytest.approx(1.0)
    # precision = 2/2 = 1.0, recall = 2/5 = 0.4, AP = (1/1 + 2/2) / 5 = 0.4
    assert average_precision_at_k([1, 2], {1, 2, 3, 4, 5}, 2) == pytest.approx(0.4)
    recs = {1: np.array([1, 2]), 2: np.array([7, 8])}
    truth = {1: {1, 2, 3, 4, 5}, 2: {8}, 3: set()}  # user 3 has no test items: ignored
    m = evaluate_rankings(recs, truth, k=2)
    # user 2: one hit at rank 2 -> precision 1/2, recall 1/1, AP (1/2)/1, nDCG (1/log2 3)/1
    assert m.n_users == 2
    assert m.precision == pytest.approx((1.0 + 0.5) / 2)
    assert m.recall == pytest.approx((0.4 + 1.0) / 2)
    assert m.map == pytest.approx((0.4 + 0.5) / 2)
    assert m.ndcg == pytest.approx((1.0 + 1 / math.log2(3)) / 2)


# --- split ------------------------------------------------------------------------------------
def test_split_per_user_stratified_and_deterministic() -> None:
    rng = np.random.default_rng(0)
    sizes = rng.integers(4, 40, size=30)
    users = np.repeat(np.arange(30), sizes)
    rng.shuffle(users)
    items = rng.integers(0, 500, size=len(users))
    train, test = stratified_split(users, items, ratio=0.75, seed=42)
    assert len(np.intersect1d(train, test)) == 0
    assert len(train) + len(test) == len(users)
    for u, n in enumerate(sizes.tolist()):
        n_train = int(np.sum(users[train] == u))
        assert n_train == round(0.75 * n)  # Python's round, as MS Recommenders
        assert abs(n_train / n - 0.75) <= 0.5 / n + 1e-9
    again_train, again_test = stratified_split(users, items, ratio=0.75, seed=42)
    np.testing.assert_array_equal(train, again_train)
    np.testing.assert_array_equal(test, again_test)
    other_train, _ = stratified_split(users, items, ratio=0.75, seed=7)
    assert not np.array_equal(np.sort(train), np.sort(other_train))


def test_split_matches_pandas_sample_semantics() -> None:
    # One user with 8 rows: pandas' sample(frac=1, random_state=42) is RandomState(42).permutation(8);
    # round(0.75 * 8) = 6 rows go to train.
    users = np.zeros(8, dtype=np.int64)
    items = np.arange(8)
    train, test = stratified_split(users, items, 0.75, 42)
    perm = np.random.RandomState(42).permutation(8)
    np.testing.assert_array_equal(train, perm[:6])
    np.testing.assert_array_equal(test, perm[6:])
    by_item_train, _ = stratified_split(users, items, 0.75, 42, by="item")
    assert len(by_item_train) == 8  # every item group has one row and round(0.75) = 1


# --- EASE -------------------------------------------------------------------------------------
def test_ease_recommends_cooccurring_item(cooccurrence_matrix: sp.csr_matrix) -> None:
    B = fit_ease(cooccurrence_matrix, lam=0.5)
    assert np.allclose(np.diag(B), 0.0)
    model = ItemItemModel.train(cooccurrence_matrix, np.array([100, 101, 102, 103]), lam=0.5, n_neighbors=3)
    top, _ = model.recommend(np.array([0]), np.array([1.0]), k=1)
    assert top.tolist() == [1]  # a user who saw item 0 gets item 1
    assert model.meta["n_users"] == 6
    assert model.meta["n_interactions"] == 12
    assert model.meta["lambda"] == 0.5
    np.testing.assert_array_equal(model.popularity, [4, 4, 2, 2])


def test_top_n_keeps_strongest_neighbours() -> None:
    B = np.array(
        [
            [0.0, 0.9, -0.1, 0.5, -0.7],
            [0.2, 0.0, 0.3, 0.01, 0.4],
            [0.0, 0.0, 0.0, 0.0, 0.0],
            [1.0, 2.0, 3.0, 0.0, 4.0],
            [0.1, -0.2, 0.3, -0.4, 0.0],
        ]
    )
    neighbors, weights = top_n_neighbors(B, 2)
    assert neighbors.dtype == np.int32
    assert weights.dtype == np.float32
    assert neighbors[0].tolist() == [1, 4]  # |0.9| and |-0.7| beat 0.5 and -0.1
    np.testing.assert_allclose(weights[0], [0.9, -0.7])
    assert neighbors[1].tolist() == [4, 2]
    assert neighbors[3].tolist() == [4, 2]
    assert 2 not in neighbors[2].tolist() or neighbors[2].tolist().count(2) == 0  # never itself


def test_score_matches_dense_product_when_nothing_is_cut(cooccurrence_matrix: sp.csr_matrix) -> None:
    B = fit_ease(cooccurrence_matrix, lam=1.0)
    model = ItemItemModel.from_dense(B, np.arange(4), np.ones(4), n_neighbors=3)
    idx, w = np.array([0, 2]), np.array([1.0, 2.0])
    np.testing.assert_allclose(model.score(idx, w), w @ B[idx], rtol=1e-5, atol=1e-6)


def test_explain_names_contributing_item(cooccurrence_matrix: sp.csr_matrix) -> None:
    model = ItemItemModel.train(cooccurrence_matrix, np.array([100, 101, 102, 103]), lam=0.5, n_neighbors=3)
    reasons = model.explain(np.array([0, 3]), np.array([1.0, 1.0]), target_index=1)
    assert reasons
    assert reasons[0][0] == 0  # item 0 is why item 1 is recommended
    assert reasons[0][1] > 0
    assert model.index_of(101) == 1
    assert model.index_of(999) is None


def test_item_item_model_round_trip(tmp_path: Path, cooccurrence_matrix: sp.csr_matrix) -> None:
    model = ItemItemModel.train(cooccurrence_matrix, np.array([100, 101, 102, 103]), lam=0.5, n_neighbors=2)
    path = model.save(tmp_path / "ease.npz")
    assert path.exists()
    loaded = ItemItemModel.load(path)
    np.testing.assert_array_equal(loaded.item_ids, model.item_ids)
    np.testing.assert_array_equal(loaded.neighbors, model.neighbors)
    np.testing.assert_array_equal(loaded.weights, model.weights)
    np.testing.assert_array_equal(loaded.popularity, model.popularity)
    assert loaded.meta == model.meta
    assert loaded.neighbors.dtype == np.int32
    assert loaded.weights.dtype == np.float32


def test_top_k_excludes_and_orders() -> None:
    idx, vals = top_k(np.array([0.1, 0.9, 0.5, 0.7]), 2, np.array([1]))
    assert idx.tolist() == [3, 2]
    np.testing.assert_allclose(vals, [0.7, 0.5])


# --- content ----------------------------------------------------------------------------------
def test_content_similar_finds_shared_genres_and_keywords(catalogue: list[ContentItem]) -> None:
    model = ContentModel.build(catalogue)
    similar = model.similar(1, k=2)
    assert similar[0][0] == 2  # same genres and two shared keywords
    assert similar[0][1] > similar[1][1]
    assert model.similar(3, k=1)[0][0] == 4  # romance + wedding
    assert model.similar(12345) == []


def test_content_score_profile_and_round_trip(tmp_path: Path, catalogue: list[ContentItem]) -> None:
    model = ContentModel.build(catalogue)
    scores = model.score_profile([3], [1.0])
    assert scores.shape == (5,)
    assert int(np.argmax(np.where(model.item_ids == 3, -1, scores))) == 3  # row 3 is movie 4
    assert not model.score_profile([999], [1.0]).any()
    loaded = ContentModel.load(model.save(tmp_path / "content.npz"))
    np.testing.assert_array_equal(loaded.item_ids, model.item_ids)
    np.testing.assert_array_equal(loaded.vocabulary, model.vocabulary)
    np.testing.assert_allclose(loaded.matrix.toarray(), model.matrix.toarray())
    assert loaded.similar(1, k=1) == model.similar(1, k=1)


# --- feedback ---------------------------------------------------------------------------------
def test_dismissal_penalty_falls_on_films_like_the_dismissed_one(catalogue: list[ContentItem]) -> None:
    from movies.recommender.feedback import (
        DISMISSED_COLLAB_PENALTY,
        DISMISSED_CONTENT_PENALTY,
        dismissal_penalty,
    )

    content = ContentModel.build(catalogue)
    no_model = np.full(5, -1, dtype=np.int64)
    assert not dismissal_penalty(content, None, no_model, []).any()
    alone = dismissal_penalty(content, None, no_model, [0])  # dismissed the 1979 space film
    assert alone[1] > alone[3] >= 0  # its space sibling drops most; the romance hardly
    assert alone.max() <= DISMISSED_CONTENT_PENALTY + 1e-6
    # Rows 2 and 4 always co-occur in the model: dismissing one costs the other the collaborative part.
    cooccurring = sp.csr_matrix(np.array([[0, 1, 1], [0, 1, 1], [1, 0, 0]], dtype=np.float32))
    model = ItemItemModel.train(cooccurring, np.array([1, 3, 5]), lam=0.5, n_neighbors=2)
    columns = np.array([0, -1, 1, -1, 2], dtype=np.int64)
    both = dismissal_penalty(content, model, columns, [2])
    content_only = dismissal_penalty(content, None, columns, [2])
    assert both[4] - content_only[4] == pytest.approx(DISMISSED_COLLAB_PENALTY)
    assert both[0] == pytest.approx(content_only[0])


# --- MovieLens 100K end to end ----------------------------------------------------------------
@pytest.mark.movielens
def test_ml100k_end_to_end() -> None:
    path = _shared_data_dir() / "movielens" / "ml-100k"
    if not (path / "u.data").is_file():
        pytest.skip(f"MovieLens data not found at {path} (set SHARED_DATA_DIR to override)")
    from movies.recommender.offline.evaluation import evaluate_ml100k

    # A fixed lambda keeps the test fast (tuning runs in the management command).
    report = evaluate_ml100k(path, lam=500.0, include_dense=False)
    ease = report.results[0]
    assert ease.metrics.n_users == 943
    assert ease.metrics.ndcg >= 0.45
    # Timings are measured and printed by evaluate_recommender; a shared machine makes bounds on them flaky.
    assert ease.train_seconds is not None
    assert ease.train_seconds > 0
    assert ease.p95_ms is not None
    assert ease.p95_ms > 0
    popular = next(r for r in report.results if r.name == "Most popular")
    assert ease.metrics.ndcg > popular.metrics.ndcg


def test_edlae_variant_defaults_and_weight_exponent(cooccurrence_matrix: sp.csr_matrix) -> None:
    # Defaults reproduce plain EASE; the EDLAE penalty q adds q * diag(G) to the ridge.
    np.testing.assert_allclose(
        fit_ease(cooccurrence_matrix, 0.5, 0.0, 0.0), fit_ease(cooccurrence_matrix, 0.5)
    )
    G = (cooccurrence_matrix.T @ cooccurrence_matrix).toarray().astype(np.float64)
    P = np.linalg.inv(G + np.diag(0.5 + 2.0 * np.diag(G)))
    expected = P / -np.diag(P)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(fit_ease(cooccurrence_matrix, 0.5, diag_penalty=2.0), expected, atol=1e-10)
    # A stored weight exponent is applied to the caller's raw weights when scoring.
    X = cooccurrence_matrix.multiply(4.0).tocsr()
    model = ItemItemModel.train(X, np.arange(4), 0.5, 3, weight_exponent=0.5, user_exponent=0.25)
    plain = ItemItemModel.from_dense(
        fit_ease(cooccurrence_matrix.multiply(2.0).tocsr(), 0.5, user_exponent=0.25),
        np.arange(4),
        np.ones(4),
        3,
    )
    np.testing.assert_allclose(model.score([0], [4.0]), plain.score([0], [2.0]), rtol=1e-5)
    assert model.meta["weight_exponent"] == 0.5
    assert model.recommend(np.array([0]), np.array([4.0]), k=1)[0].tolist() == [1]


# --- evaluate_recommender end to end on tiny synthetic datasets -------------------------------
N_USERS, N_ITEMS, N_CLUSTERS = 40, 30, 3


def _synthetic_ratings(seed: int = 0) -> list[tuple[int, int, float, int]]:
    """(user, item, rating, timestamp) rows: users mostly rate items of one taste cluster."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, int, float, int]] = []
    per_cluster = N_ITEMS // N_CLUSTERS
    for user in range(1, N_USERS + 1):
        cluster = user % N_CLUSTERS
        own = np.arange(cluster * per_cluster, (cluster + 1) * per_cluster) + 1
        others = np.setdiff1d(np.arange(1, N_ITEMS + 1), own)
        picked = np.concatenate(
            [
                rng.choice(own, size=int(rng.integers(6, 10)), replace=False),
                rng.choice(others, 2, replace=False),
            ]
        )
        for n, item in enumerate(rng.permutation(picked).tolist()):
            rows.append((user, int(item), float(rng.integers(1, 6)), 880_000_000 + 1000 * user + n))
    return rows


def _write_ml100k(folder: Path) -> Path:
    folder.mkdir()
    lines = [f"{u}\t{i}\t{int(r)}\t{t}" for u, i, r, t in _synthetic_ratings()]
    (folder / "u.data").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _tmdb_id(movie_id: int) -> int:
    return 1000 + movie_id


def _write_ml_latest_small(folder: Path) -> Path:
    """ratings.csv + links.csv; movie 31 has no TMDb id, 32 is outside the catalogue, 33 duplicates 1."""
    folder.mkdir()
    rows = _synthetic_ratings(seed=1)
    extra = [(1, 31, 4.0, 1), (2, 32, 3.5, 2), (1, 33, 0.5, 3)]  # the last re-rates TMDb 1001 for user 1
    with (folder / "ratings.csv").open("w", encoding="utf-8") as fh:
        fh.write("userId,movieId,rating,timestamp\n")
        for u, i, r, t in rows + extra:
            fh.write(f"{u},{i},{r:g},{t}\n")
    with (folder / "links.csv").open("w", encoding="utf-8") as fh:
        fh.write("movieId,imdbId,tmdbId\n")
        for movie in range(1, N_ITEMS + 1):
            fh.write(f"{movie},{100000 + movie:07d},{_tmdb_id(movie)}\n")
        fh.write("31,0100031,\n32,0100032,999999\n33,0100033,1001\n")
    return folder


TMDB_COLUMNS = [
    "budget",
    "genres",
    "homepage",
    "id",
    "keywords",
    "original_language",
    "original_title",
    "overview",
    "popularity",
    "production_companies",
    "production_countries",
    "release_date",
    "revenue",
    "runtime",
    "spoken_languages",
    "status",
    "tagline",
    "title",
    "vote_average",
    "vote_count",
]


def _write_tmdb_csv(path: Path) -> Path:
    """A TMDb-5000-style CSV: one genre per taste cluster, JSON arrays of {id, name}."""
    import csv
    import json

    genres = ["Action", "Romance", "Documentary"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=TMDB_COLUMNS)
        writer.writeheader()
        for movie in range(1, N_ITEMS + 1):
            cluster = (movie - 1) // (N_ITEMS // N_CLUSTERS)
            row = dict.fromkeys(TMDB_COLUMNS, "")
            row.update(
                id=str(_tmdb_id(movie)),
                title=f"Movie {movie}",
                original_title=f"Movie {movie}",
                genres=json.dumps([{"id": cluster, "name": genres[cluster]}]),
                keywords=json.dumps([{"id": 10 + cluster, "name": f"theme {cluster}"}]),
                original_language="en",
                release_date=f"{1990 + movie}-01-01",
            )
            if movie == 1:
                row.update(genres="not json", keywords="", release_date="")  # tolerated, not fatal
            writer.writerow(row)
    return path


def _table_rows(output: str) -> dict[str, list[str]]:
    """Model name -> cells of the first markdown table (header row keyed by 'Model')."""
    rows: dict[str, list[str]] = {}
    for line in output.splitlines():
        if not line.startswith("| ") or line.startswith("| ---"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == "Model" and "Slice" in cells:
            break  # the slice table follows the model table
        rows.setdefault(cells[0], cells)
    return rows


def _call(*args: str) -> str:
    from io import StringIO

    from django.core.management import call_command

    out, err = StringIO(), StringIO()
    call_command("evaluate_recommender", *args, stdout=out, stderr=err)
    return out.getvalue()


def _assert_metric_cells(cells: list[str]) -> None:
    for value in cells[1:5]:  # MAP, nDCG, precision, recall
        assert 0.0 <= float(value) <= 1.0


def test_command_ml100k_fixed_lambda(tmp_path: Path) -> None:
    folder = _write_ml100k(tmp_path / "ml-100k")
    output = _call("--dataset", "ml-100k", "--path", str(folder), "--lambda", "5", "--neighbors", "5")
    assert f"### ml-100k: {N_USERS} users, {N_ITEMS} items" in output
    rows = _table_rows(output)
    assert rows["Model"] == [
        "Model",
        "MAP",
        "nDCG@10",
        "Precision@10",
        "Recall@10",
        "Train s",
        "Score p50 ms/user",
        "Score p95 ms/user",
        "Notes",
    ]
    assert "EASE top-5 (this project)" in rows
    assert "EASE dense B (no top-N cut)" in rows
    for name in ("EASE top-5 (this project)", "Most popular", "Item-kNN cosine (k=100)"):
        _assert_metric_cells(rows[name])
        assert rows[name][5] != "-"  # train seconds
    assert "lambda=5 rel" in rows["EASE top-5 (this project)"][8]
    assert rows["BiVAE (MS Recommenders README)"][1:5] == ["0.1461", "0.4751", "0.4118", "0.2191"]
    assert rows["BiVAE (MS Recommenders README)"][8] == "published, not re-run"
    # The taste clusters are learnable: EASE beats the popularity list.
    assert float(rows["EASE top-5 (this project)"][2]) > float(rows["Most popular"][2])
    assert "Chosen: lambda_relative=5.0" in output
    assert "Tuned on validation" not in output


def test_command_ml100k_tuned_with_progress_and_k(tmp_path: Path) -> None:
    folder = _write_ml100k(tmp_path / "ml-100k")
    output = _call("--path", str(folder), "--k", "5", "--seed", "7", "--neighbors", "10")
    rows = _table_rows(output)
    assert rows["Model"][2] == "nDCG@5"
    ease = next(name for name in rows if name.endswith("top-10 (this project)"))
    _assert_metric_cells(rows[ease])
    assert "seed 7" in output
    assert "Tuned on validation split(s) carved from train" in output
    assert output.count("nDCG=") == 5  # the five best validation configs are listed


def test_command_ml_latest_small_fixed_lambda(tmp_path: Path) -> None:
    folder = _write_ml_latest_small(tmp_path / "ml-latest-small")
    tmdb = _write_tmdb_csv(tmp_path / "tmdb.csv")
    output = _call(
        "--dataset",
        "ml-latest-small",
        "--path",
        str(folder),
        "--tmdb-csv",
        str(tmdb),
        "--lambda",
        "5",
        "--neighbors",
        "8",
        "--no-progress",
    )
    # Movie 31 (no TMDb id) and 32 (outside the catalogue) are dropped; 33 folds into TMDb 1001.
    assert f"### ml-latest-small: {N_USERS} users, {N_ITEMS} items" in output
    rows = _table_rows(output)
    names = [
        "EASE top-8 (this project)",
        "EASE dense B (no top-N cut)",
        "Most popular",
        "Item-kNN cosine (k=100)",
        "Content TF-IDF only",
        "EASE + content/popularity for short histories",
    ]
    assert [n for n in rows if n != "Model"] == names
    for name in names:
        _assert_metric_cells(rows[name])
    assert "BiVAE (MS Recommenders README)" not in rows  # published rows are ml-100k only
    # The slice table splits simulated cold users from warm ones; 20% of 40 users are cold.
    slice_lines = [line for line in output.splitlines() if "| cold (<=5 train items) |" in line]
    assert len(slice_lines) == len(names)
    assert all(line.split("|")[3].strip() == "8" for line in slice_lines)
    assert "8 simulated cold users keep 1..5 training ratings" in output
    assert "hybrid_content_weight=" in output


def test_command_ml_latest_small_tuned(tmp_path: Path) -> None:
    folder = _write_ml_latest_small(tmp_path / "ml-latest-small")
    tmdb = _write_tmdb_csv(tmp_path / "tmdb.csv")
    output = _call(
        "--dataset", "ml-latest-small", "--path", str(folder), "--tmdb-csv", str(tmdb), "--no-progress"
    )
    rows = _table_rows(output)
    _assert_metric_cells(rows["EASE top-300 (this project)"])
    assert "Tuned on validation split(s) carved from train" in output
    assert "popularity_blend=" in output


def test_command_missing_files_raise_command_error(tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"Data file not found: .*u\.data"):
        _call("--dataset", "ml-100k", "--path", str(tmp_path / "nowhere"), "--lambda", "5")
    with pytest.raises(CommandError, match=r"Data file not found: .*ratings\.csv"):
        _call("--dataset", "ml-latest-small", "--path", str(tmp_path), "--lambda", "5")
    folder = _write_ml_latest_small(tmp_path / "ml-latest-small")
    with pytest.raises(CommandError, match=r"Data file not found: .*missing\.csv"):
        _call(
            "--dataset",
            "ml-latest-small",
            "--path",
            str(folder),
            "--tmdb-csv",
            str(tmp_path / "missing.csv"),
            "--lambda",
            "5",
        )


def test_default_data_locations_follow_shared_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.management.base import CommandError

    from movies.recommender.offline.evaluation import shared_data_dir

    (tmp_path / "data").mkdir()
    monkeypatch.setenv("SHARED_DATA_DIR", str(tmp_path))  # "shared": its data/ child is used
    assert shared_data_dir() == tmp_path / "data"
    monkeypatch.setenv("SHARED_DATA_DIR", str(tmp_path / "data"))
    assert shared_data_dir() == tmp_path / "data"
    with pytest.raises(CommandError, match=r"movielens/ml-100k/u\.data"):
        _call("--lambda", "5")
    with pytest.raises(CommandError, match=r"movielens/ml-latest-small/ratings\.csv"):
        _call("--dataset", "ml-latest-small", "--lambda", "5")
    monkeypatch.delenv("SHARED_DATA_DIR")
    assert shared_data_dir() == Path(__file__).resolve().parents[1].parent / "shared" / "data"


# --- edge cases of the core helpers -----------------------------------------------------------
def test_ease_edge_cases(cooccurrence_matrix: sp.csr_matrix) -> None:
    from movies.recommender.ease import lambda_scale

    assert lambda_scale(sp.csr_matrix((3, 4))) == 1.0  # no interactions
    assert lambda_scale(cooccurrence_matrix) == pytest.approx(1.0)  # binary X: exactly 1
    with pytest.raises(ValueError, match="lambda"):
        fit_ease(cooccurrence_matrix, lam=0.0)
    with pytest.raises(ValueError, match="diag_penalty"):
        fit_ease(cooccurrence_matrix, lam=1.0, diag_penalty=-1.0)
    neighbors, weights = top_n_neighbors(np.zeros((1, 1)), 5)  # a single item has no neighbours
    assert neighbors.shape == (1, 0)
    assert weights.shape == (1, 0)

    model = ItemItemModel.train(
        cooccurrence_matrix, np.array([100, 101, 102, 103]), lam=0.5, n_neighbors=3, diag_penalty=1.0
    )
    assert model.meta["diag_penalty"] == 1.0
    known, positions = model.indices_of([103, 999, 100])
    assert known.tolist() == [3, 0]
    assert positions.tolist() == [0, 2]
    empty = np.array([], np.int64)
    assert not model.score(empty, empty).any()
    assert model.explain(empty, empty, target_index=1) == []
    # A cold user gets the popularity prior; excluded items never come back.
    top, _ = model.recommend(empty, empty, k=2, exclude=np.array([0]), popularity_blend=1.0)
    assert top.tolist() == [1, 2]
    idx, vals = top_k(np.array([1.0, 2.0]), 0)
    assert idx.size == 0
    assert vals.size == 0


def test_metrics_and_split_edge_cases() -> None:
    assert recall_at_k([1], set(), 10) == 0.0
    assert ndcg_at_k([1], set(), 10) == 0.0
    assert average_precision_at_k([1], set(), 10) == 0.0
    empty = evaluate_rankings({1: np.array([1])}, {1: set()}, k=10)
    assert (empty.n_users, empty.ndcg, empty.map) == (0, 0.0, 0.0)

    users, items = np.array([1, 1, 1, 2]), np.array([5, 6, 7, 5])
    with pytest.raises(ValueError, match="by must be"):
        stratified_split(users, items, 0.75, 42, by="time")
    with pytest.raises(ValueError, match="ratio"):
        stratified_split(users, items, 1.0, 42)
    with pytest.raises(ValueError, match="min_rating"):
        stratified_split(users, items, 0.75, 42, min_rating=0)
    with pytest.raises(ValueError, match="same length"):
        stratified_split(users, items[:3], 0.75, 42)
    train, test = stratified_split(users, items, 0.5, 42, min_rating=2)  # user 2 (one row) is dropped
    assert sorted(users[np.concatenate([train, test])].tolist()) == [1, 1, 1]


def test_build_split_indexes_and_placeholders() -> None:
    from movies.recommender.offline.evaluation import Ratings, build_split

    def ratings(rows: list[tuple[int, int, float]]) -> Ratings:
        u, i, r = (np.array(c) for c in zip(*rows, strict=True))
        return Ratings(u, i, r.astype(np.float32), np.zeros(len(rows), np.int64))

    train = ratings([(1, 10, 4.0), (1, 11, 2.0), (2, 11, 5.0), (2, 99, 3.0)])
    test = ratings([(1, 12, 5.0), (2, 10, 1.0), (3, 10, 5.0)])  # user 3 has no training rows
    data = build_split(train, test, "rating")
    assert data.item_ids.tolist() == [10, 11, 12, 99]  # items seen only in test get a column
    assert data.truth == {0: {2}, 1: {0}}  # user 3 cannot be scored and is left out
    idx, w = data.user_history(0)
    assert idx.tolist() == [0, 1]
    assert w.tolist() == [4.0, 2.0]
    # With a fixed item universe, unknown training items are dropped and unknown test items get
    # a negative placeholder (they count as relevant but can never be hit).
    fixed = build_split(train, test, "binary", np.array([10, 11]))
    assert fixed.X.toarray().tolist() == [[1.0, 1.0], [0.0, 1.0]]
    assert fixed.truth == {0: {-13}, 1: {0}}


def test_content_tokens_include_directors_and_top_billed_cast() -> None:
    from movies.recommender.content import TOP_CAST, item_tokens

    tokens = item_tokens(ContentItem(1, ["Drama"], directors=[525], cast=list(range(10, 20))))
    assert "director:525" in tokens
    assert {f"cast:{i}" for i in range(10, 10 + TOP_CAST)} <= set(tokens)
    assert f"cast:{10 + TOP_CAST}" not in tokens
    # Two films by one director are alike even with nothing else in common.
    model = ContentModel.build(
        [
            ContentItem(1, ["Drama"], directors=[525]),
            ContentItem(2, ["Action"], directors=[525]),
            ContentItem(3, ["Comedy"], directors=[7]),
        ]
    )
    assert model.similar(1, 2)[0][0] == 2


def test_tmdb_content_reads_credits_beside_the_movies_csv(tmp_path: Path) -> None:
    import csv
    import json

    from movies.recommender.offline.evaluation import load_tmdb_content

    movies = tmp_path / "tmdb_movies_3000.csv"
    with movies.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["id", "genres", "keywords", "original_language", "release_date"])
        writer.writeheader()
        writer.writerow(
            {
                "id": 155,
                "genres": '[{"id": 18, "name": "Drama"}]',
                "keywords": "[]",
                "original_language": "en",
                "release_date": "2008-07-16",
            }
        )
    with (tmp_path / "tmdb_credits_3000.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["movie_id", "title", "cast", "crew"])
        writer.writeheader()
        writer.writerow(
            {
                "movie_id": 155,
                "title": "The Dark Knight",
                "cast": json.dumps([{"id": 1810, "order": 1}, {"id": 3894, "order": 0}]),
                "crew": json.dumps([{"id": 525, "job": "Director"}, {"id": 525, "job": "Screenplay"}]),
            }
        )
    (item,) = load_tmdb_content(movies)
    assert (item.directors, item.cast, item.year) == ([525], [3894, 1810], 2008)
    (without,) = load_tmdb_content(movies, with_credits=False)
    assert (without.directors, without.cast) == ([], [])


def test_time_ordered_split_holds_out_each_users_latest_fifth() -> None:
    from movies.recommender.offline.split import time_ordered_split

    # User 1: ten rows in shuffled time order; user 2: two rows (round(0.4) = 0: all train).
    users = np.array([1] * 10 + [2, 2])
    stamps = np.array([5, 3, 9, 1, 7, 2, 8, 4, 6, 10, 2, 1])
    train, test = time_ordered_split(users, stamps, 0.2)
    assert sorted(stamps[test].tolist()) == [9, 10]
    assert set(users[test].tolist()) == {1}
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(12))
    # Ties in time: the later row in the input counts as later.
    train, test = time_ordered_split(np.array([1, 1, 1, 1, 1]), np.array([1, 1, 1, 1, 1]), 0.2)
    assert test.tolist() == [4]
    with pytest.raises(ValueError, match="test_fraction"):
        time_ordered_split(users, stamps, 1.0)
    with pytest.raises(ValueError, match="same length"):
        time_ordered_split(users, stamps[:3])


def _write_ml100k_items(folder: Path) -> Path:
    """u.data with times and u.item with genre flags (Action for items 1-2, Romance for 3)."""
    folder.mkdir()
    day = 86400
    rows = [
        (1, 1, 5, 10 * day),
        (1, 2, 4, 11 * day),
        (1, 3, 2, 12 * day),
        (2, 1, 3, 20 * day),
        (2, 3, 5, 21 * day),
    ]
    (folder / "u.data").write_text("".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows), encoding="utf-8")
    # 1 and 14: the positions of Action and Romance in u.item's 19 genre flags.
    return _write_u_item(
        folder, [(1, "Heat (1995)", 1), (2, "Speed (1994)", 1), (3, "Casablanca (1942)", 14)]
    )


def _write_u_item(folder: Path, items: list[tuple[int, str, int]]) -> Path:
    """u.item rows (id, "Title (year)", the one genre flag set), released on 1 January of the year."""
    lines = []
    for item, title, flag in items:
        genre = ["0"] * 19
        genre[flag] = "1"
        lines.append(f"{item}|{title}|01-Jan-{title[-5:-1]}||http://example.com|" + "|".join(genre))
    (folder / "u.item").write_text("\n".join(lines) + "\n", encoding="latin-1")
    return folder


@pytest.mark.django_db
def test_movielens_loads_into_the_models_with_its_own_times(tmp_path: Path) -> None:
    from datetime import UTC, date, datetime

    from accounts.models import Favorite, Preferences, Rating, User
    from movies.catalog.activity import recent_interactions
    from movies.models import Genre, Movie, MovieActivity
    from movies.recommender.offline import served

    folder = _write_ml100k_items(tmp_path / "ml-100k")
    ratings = served.dataset_ratings("ml-100k", folder)
    loaded = served.load_into_models("ml-100k", ratings, folder)
    assert (loaded.ratings, loaded.favorites, sorted(loaded.account_of)) == (5, 2, [1, 2])
    assert sorted(Movie.objects.values_list("id", "title")) == [(1, "Heat"), (2, "Speed"), (3, "Casablanca")]
    heat = Movie.objects.get(id=1)
    # Statistics from the loaded ratings: two ratings (5 and 3), average 4 stars = 8/10.
    assert (heat.vote_count, heat.vote_average, heat.release_date) == (2, 8.0, date(1995, 1, 1))
    assert Genre.objects.get(id=heat.genre_ids[0]).name == "Action"
    first = User.objects.get(id=loaded.account_of[1])
    assert first.username == "movielens-1"
    assert not first.has_usable_password()
    rating = Rating.objects.get(user=first, movie_id=1)
    assert rating.created_at == rating.updated_at == datetime(1970, 1, 11, tzinfo=UTC)
    assert sorted(Favorite.objects.values_list("user_id", "movie_id")) == [
        (loaded.account_of[1], 1),
        (loaded.account_of[2], 3),
    ]
    # Favorite genres: the most frequent among the user's positives (rated 4 or more).
    prefs = Preferences.objects.get(user=first)
    assert [genre.name for genre in prefs.favorite_genres.all()] == ["Action"]
    # The activity counts are on the interactions' own days, not on the day of the load.
    assert set(MovieActivity.objects.values_list("day", flat=True)) == {
        date(1970, 1, 11),
        date(1970, 1, 12),
        date(1970, 1, 13),
        date(1970, 1, 21),
        date(1970, 1, 22),
    }
    assert recent_interactions(7) == {}
    assert recent_interactions(2, datetime(1970, 1, 22, 12, tzinfo=UTC)) == {1: 1.0, 3: 2.0}
    # Loading again replaces the accounts instead of adding to them.
    again = served.load_into_models("ml-100k", ratings.subset(np.array([0, 1])), folder)
    assert User.objects.filter(username__startswith="movielens-").count() == 1
    assert Rating.objects.count() == 2
    assert again.account_of[1] != loaded.account_of[1]


# --- reasons ----------------------------------------------------------------------------------
def _film(movie_id: int, **fields: Any) -> dict[str, Any]:
    from datetime import date

    return {
        "id": movie_id,
        "title": fields.get("title", f"Film {movie_id}"),
        "genre_ids": fields.get("genres", [18]),
        "keywords": fields.get("keywords", []),
        "original_language": "en",
        "release_date": date(fields.get("year", 2000), 1, 1),
        "vote_average": fields.get("average", 6.0),
        "vote_count": fields.get("votes", 100),
        "adult": False,
        "popularity": fields.get("popularity", 10.0),
    }


def _reason_index(films: list[dict[str, Any]], credits: Any = None) -> Any:
    from movies.recommender.serving import CatalogIndex

    return CatalogIndex(films, {18: "Drama", 80: "Crime", 35: "Comedy"}, credits=credits)


def _explain(index: Any, picked: list[int], components: dict[str, np.ndarray], **evidence: Any) -> list[Any]:
    from movies.recommender import reasons

    weights = dict.fromkeys(components, 1.0)
    return reasons.explain(index, picked, weights, components, reasons.Evidence(**evidence))


def _only(index: Any, name: str, value: float = 0.5) -> dict[str, np.ndarray]:
    return {name: np.full(len(index), value, dtype=np.float32)}


def test_highly_rated_needs_the_stated_average_and_votes() -> None:
    from movies.recommender.reasons import HIGHLY_RATED_MIN_AVERAGE, HIGHLY_RATED_MIN_VOTES

    index = _reason_index(
        [
            _film(1, average=HIGHLY_RATED_MIN_AVERAGE, votes=HIGHLY_RATED_MIN_VOTES),
            _film(2, average=8.9, votes=HIGHLY_RATED_MIN_VOTES - 1),
            _film(3, average=HIGHLY_RATED_MIN_AVERAGE - 0.1, votes=50_000),
        ]
    )
    explained = _explain(index, [0, 1, 2], _only(index, "quality"), liked_ids=frozenset())
    assert explained[0] == (
        f"Highly rated: {HIGHLY_RATED_MIN_AVERAGE:.1f}/10 from {HIGHLY_RATED_MIN_VOTES} votes",
    )
    assert not [r for why in explained[1:] for r in why if r.startswith("Highly rated")]
    assert explained[1] == (
        f"Rated 8.9/10 by {HIGHLY_RATED_MIN_VOTES - 1} viewers",
    )  # the figures, not a claim


def test_popular_only_among_the_catalogs_most_popular() -> None:
    index = _reason_index([_film(movie_id, popularity=float(movie_id)) for movie_id in range(1, 21)])
    explained = _explain(index, [19, 0], _only(index, "popularity"), liked_ids=frozenset())
    assert explained[0] == ("Popular right now",)
    assert explained[1] != ("Popular right now",)


def test_trending_only_well_above_the_usual_level() -> None:
    from movies.recommender.reasons import TRENDING_MIN_LIFT, TRENDING_MIN_RECENT, trending_lift

    index = _reason_index([_film(movie_id) for movie_id in range(1, 5)])
    recent = {1: 12.0, 2: 12.0, 3: TRENDING_MIN_RECENT - 1, 4: 12.0}
    usual = {1: 3.0, 2: 12.0 / TRENDING_MIN_LIFT + 0.1, 4: 0.0}
    lift = trending_lift(index.row_of, len(index), recent, usual)
    assert lift.tolist() == pytest.approx([4.0, 12.0 / 6.1, 0.0, 12.0])
    explained = _explain(
        index, [0, 1, 2, 3], _only(index, "trending"), liked_ids=frozenset(), trending_lift=lift
    )
    trending = [any(r.startswith("Trending") for r in why) for why in explained]
    assert trending == [True, False, False, True]
    assert explained[0] == ("Trending: 4 times its usual activity this week",)
    assert not any(
        r.startswith("Trending")
        for why in _explain(index, [0], _only(index, "trending"), liked_ids=frozenset())
        for r in why
    )  # no lift known (an as-of score): nothing is called trending


def test_no_reason_covers_more_than_its_share_of_any_prefix() -> None:
    from movies.recommender.reasons import MAX_SHARE

    films = [
        _film(movie_id, genres=[18, 80, 35], popularity=100.0, average=8.0, votes=5000)
        for movie_id in range(20)
    ]
    films += [_film(100 + i, popularity=0.0) for i in range(180)]  # the rest of a catalog, unpopular
    index = _reason_index(films)
    components = {
        "popularity": np.full(len(index), 0.9, dtype=np.float32),
        "quality": np.full(len(index), 0.5, dtype=np.float32),
        "genre": np.full(len(index), 0.3, dtype=np.float32),
    }
    explained = _explain(
        index, list(range(20)), components, liked_ids=frozenset(), liked_genres=frozenset({18, 80, 35})
    )
    kinds = [[r.split(":")[0] for r in why] for why in explained]
    for end in range(1, 21):
        counts: dict[str, int] = {}
        for why in explained[:end]:
            for reason in why:
                counts[reason] = counts.get(reason, 0) + 1
        assert max(counts.values()) <= max(1, math.ceil(MAX_SHARE * end)), (end, counts)
    assert explained[0][0].startswith("Popular")  # the truest reason comes first while it has room
    assert all(why for why in explained)
    assert len({kind[0] for kind in kinds}) >= 3


def test_trending_as_of_another_moment_needs_that_moments_usual_level() -> None:
    from movies.recommender.serving import Recommender, Snapshot

    index = _reason_index([_film(movie_id) for movie_id in range(1, 6)])
    snap = Snapshot.build(index, None, (5, 5, None), None, 0.0, {})
    recent = {3: 10.0}
    then = Recommender().recommend([], set(), {}, 5, snap, recent, {3: 1.0})
    assert then[0].movie_id == 3
    assert "Trending: 10 times its usual activity this week" in then[0].reasons
    unknown = Recommender().recommend([], set(), {}, 5, snap, recent)  # no usual level: no claim
    assert not [r for rec in unknown for r in rec.reasons if r.startswith("Trending")]


def _model(item_ids: list[int], contributions: dict[int, dict[int, float]]) -> ItemItemModel:
    """An item-item model whose column ``source`` adds ``weight`` to each ``target`` column."""
    width = max(len(targets) for targets in contributions.values())
    neighbors = np.zeros((len(item_ids), width), dtype=np.int32)
    weights = np.zeros((len(item_ids), width), dtype=np.float32)
    for source, targets in contributions.items():
        for k, (target, weight) in enumerate(targets.items()):
            neighbors[source, k], weights[source, k] = target, weight
    return ItemItemModel(np.array(item_ids), neighbors, weights, np.ones(len(item_ids), dtype=np.float32))


def test_a_user_with_two_liked_films_sees_both_named() -> None:
    films = [_film(1, title="Alpha"), _film(2, title="Beta")] + [_film(m) for m in range(10, 20)]
    index = _reason_index(films)
    # Alpha contributes most to every pick; Beta nearly as much to all but film 19.
    model = _model(
        [f["id"] for f in films],
        {0: dict.fromkeys(range(2, 12), 1.0), 1: {c: (0.8 if c < 11 else 0.3) for c in range(2, 12)}},
    )
    columns = np.arange(len(index), dtype=np.int64)
    explained = _explain(
        index,
        list(range(2, 12)),
        _only(index, "collab"),
        liked_ids=frozenset({1, 2}),
        model=model,
        columns=columns,
        model_items=np.array([0, 1]),
        model_weights=np.array([1.0, 1.0], dtype=np.float32),
    )
    first = [why[0] for why in explained]
    assert first[0] == "Because you liked Alpha"  # the top contributor while it has room
    assert {"Because you liked Alpha", "Because you liked Beta"} <= set(first[:3])
    assert max(first.count(text) for text in set(first)) <= 4
    assert "Because you liked Beta" not in explained[-1]  # 0.3 of Alpha's part: not Beta's doing


def test_because_you_liked_never_names_a_film_not_liked() -> None:
    films = [_film(1, title="Liked"), _film(2, title="On the watchlist")] + [_film(m) for m in range(10, 13)]
    index = _reason_index(films)
    model = _model(
        [f["id"] for f in films], {0: dict.fromkeys((2, 3, 4), 0.6), 1: dict.fromkeys((2, 3, 4), 1.0)}
    )
    explained = _explain(
        index,
        [2, 3, 4],
        _only(index, "collab"),
        liked_ids=frozenset({1}),
        model=model,
        columns=np.arange(len(index), dtype=np.int64),
        model_items=np.array([0, 1]),
        model_weights=np.array([1.0, 1.0], dtype=np.float32),
    )
    assert not [r for why in explained for r in why if "watchlist" in r]
    assert explained[0] == ("Because you liked Liked",)  # 0.6 of the top part: named


def test_a_person_is_named_only_when_their_credit_carries_the_content_score() -> None:
    from movies.recommender.serving import Credits

    keywords = [f"k{n}" for n in range(8)]
    films = [
        _film(1, title="Liked", keywords=keywords),
        _film(2, title="Same story", keywords=keywords),  # shares an actor, and everything else
        _film(3, title="Same director", genres=[35]),  # shares the director, little else
        _film(4, genres=[35]),
    ]
    credits = Credits({1: [900], 3: [900]}, {1: [700], 2: [700]}, {900: "Dee Rector", 700: "Ann Actor"})
    index = _reason_index(films, credits)
    explained = _explain(
        index,
        [1, 2],
        _only(index, "content"),
        liked_ids=frozenset({1}),
        content_rows=np.array([0]),
        content_weights=np.array([1.0]),
    )
    assert explained[0] == ("Similar to Liked",)
    assert explained[1] == ("Directed by Dee Rector, who directed Liked",)


def test_blend_weights_run_from_cold_to_warm_with_the_number_of_positives() -> None:
    from movies.recommender.serving import BLEND, COMPONENTS, Blend, blend_override, current_blend

    warm = dict.fromkeys(COMPONENTS, 0.0) | {"collab": 1.0}
    cold = dict.fromkeys(COMPONENTS, 0.0) | {"popularity": 1.0}
    blend = Blend(warm, cold, full_warm_positives=4, diversity=0.1, recency_half_life_days=None)
    assert blend.weights_for(0)["collab"] == 0.0
    assert blend.weights_for(1) == dict.fromkeys(COMPONENTS, 0.0) | {"collab": 0.25, "popularity": 0.75}
    assert blend.weights_for(4) == blend.weights_for(40) == warm
    # Without a collaborative model, content similarity stands in for it.
    assert blend.weights_for(4, has_model=False) == warm | {"collab": 0.0, "content": 1.0}
    assert current_blend() is BLEND
    with blend_override(blend):
        assert current_blend() is blend
    assert current_blend() is BLEND


def _index(n: int = 4) -> Any:
    from datetime import date

    from movies.recommender.serving import CatalogIndex

    # Films 1 and 2 share a genre, a keyword, a language and a decade; so do 3 and 4, another set.
    rows = [
        {
            "id": movie,
            "title": f"Film {movie}",
            "genre_ids": [0] if movie < 3 else [3],
            "keywords": ["shared"] if movie < 3 else ["other"],
            "original_language": "en" if movie < 3 else "fr",
            "release_date": date(2001, 1, 1) if movie < 3 else date(1975, 1, 1),
            "vote_average": 7.0,
            "vote_count": 100,
            "adult": False,
            "popularity": float(movie),
        }
        for movie in range(1, n + 1)
    ]
    return CatalogIndex(rows, {0: "Drama", 3: "Comedy"})


def test_recency_weighting_halves_an_old_liked_films_pull() -> None:
    from movies.recommender.serving import Interaction, Recommender, Snapshot

    index = _index()
    snap = Snapshot.build(index, None, (4, 4, None), None, 0.0, {})
    day = 86400.0
    # Film 1 liked 30 days before film 3: with a 30-day half-life it counts half as much.
    liked = [Interaction(1, 1.0, 0.0), Interaction(3, 1.0, 30 * day)]
    even = Recommender.components(snap, liked, {}, None).values["content"]
    recent = Recommender.components(snap, liked, {}, 30.0).values["content"]
    film1, film3 = index.row_of[1], index.row_of[3]
    assert even[film1] == pytest.approx(even[film3], rel=1e-3)
    assert recent[film3] > recent[film1]
    profile = index.content.score_indices(np.array([film1, film3]), np.array([0.5, 1.0]))
    np.testing.assert_allclose(recent, profile, rtol=1e-5)
    # No times known: every film counts alike whatever the half-life.
    untimed = [Interaction(1, 1.0), Interaction(3, 1.0)]
    np.testing.assert_allclose(Recommender.components(snap, untimed, {}, 30.0).values["content"], even)


def test_ranking_scores_fall_with_the_diversity_penalty() -> None:
    from movies.recommender.serving import Recommender

    index = _index()
    allowed = np.ones(4, dtype=bool)
    components = {"collab": np.array([1.0, 0.99, 0.5, 0.2], dtype=np.float32)}
    rows, scores = Recommender.rank(index, components, {"collab": 1.0}, allowed, 3, 1.0)
    # Films 1 and 2 share keywords: after film 1, film 2 pays for it and film 3 goes first.
    assert [int(index.ids[row]) for row in rows] == [1, 3, 2]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(1.0)
    plain_rows, plain = Recommender.rank(index, components, {"collab": 1.0}, allowed, 3, 0.0)
    assert [int(index.ids[row]) for row in plain_rows] == [1, 2, 3]
    assert plain == pytest.approx([1.0, 0.99, 0.5])
    # The sparse fallback for large catalogs gives the same pairs.
    pool = np.array([0, 1, 2])
    dense = index.pool_similarity(pool)
    index.similarity = None
    np.testing.assert_allclose(index.pool_similarity(pool), dense, atol=1e-3)


def _write_ml100k_with_items(folder: Path) -> Path:
    genres = {0: 1, 1: 14, 2: 7}  # Action, Romance, Documentary: one per taste cluster
    items = [
        (item, f"Movie {item} (1995)", genres[(item - 1) // (N_ITEMS // N_CLUSTERS)])
        for item in range(1, N_ITEMS + 1)
    ]
    return _write_u_item(_write_ml100k(folder), items)


@pytest.mark.django_db
def test_command_served_path_scores_what_recommendations_for_returns(tmp_path: Path) -> None:
    folder = _write_ml100k_with_items(tmp_path / "ml-100k")
    output = _call("--served", "--path", str(folder), "--no-progress")
    for protocol in ("Microsoft protocol", "time-ordered protocol"):
        assert f"ml-100k, served path, {protocol}" in output
    rows = [line for line in output.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    names = {line.strip("|").split("|")[0].strip() for line in rows}
    assert {
        "Served hybrid (recommendations_for)",
        "Core: served collaborative model alone",
        "Plain EASE (binary)",
        "Most popular",
        "Served without diversity",
    } <= names
    for line in rows:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] != "Row":
            assert all(0.0 <= float(value) <= 1.0 for value in cells[1:5])
    assert output.count("Served minus core, all users") == 2
    assert "recommendations_for per user, uncached" in output


@pytest.mark.django_db
def test_command_select_refuses_ml_latest_small(tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="ml-100k only"):
        _call("--select", "--dataset", "ml-latest-small")


@pytest.mark.django_db
def test_command_reason_figures_count_what_recommendations_for_says(tmp_path: Path) -> None:
    from io import StringIO

    from django.core.management import call_command

    from movies.recommender.offline.reason_figures import figures, kind_of, reason_key

    folder = _write_ml100k_with_items(tmp_path / "ml-100k")
    out = StringIO()
    call_command(
        "recommendation_reasons", "--dataset", "ml-100k", "--path", str(folder), stdout=out, stderr=StringIO()
    )
    output = out.getvalue()
    assert f"### Reasons on ml-100k, served path: {N_USERS} users' top 10" in output
    rows = [
        line.strip("|").split("|") for line in output.splitlines() if line.startswith("| ") and "%" in line
    ]
    firsts = [float(cells[2].strip().rstrip("%")) for cells in rows]
    assert sum(firsts) == pytest.approx(100.0, abs=0.2)  # every recommendation has a first reason
    assert "Lists where one reason is on more than half of the list: 0.0%" in output
    assert output.count("**MovieLens user ") == 3
    # The counting itself, on lists made up for it.
    assert kind_of("Highly rated: 8.1/10 from 500 votes") == reason_key("Highly rated: 7.6/10 from 900 votes")
    assert reason_key("Because you liked Heat") != reason_key("Because you liked Speed")
    made_up = {
        1: [
            (1, "A", ("Because you liked Heat",)),
            (2, "B", ("Because you liked Speed",)),
            (3, "C", ("Popular right now",)),
        ],
        2: [(1, "A", ("Because you liked Heat", "Popular right now")), (2, "B", ("Because you liked Heat",))],
    }
    found = figures(made_up)
    assert (found.lists, found.recommendations) == (2, 5)
    assert found.carrying["Because you liked (a liked film)"] == pytest.approx(4 / 5)
    assert found.first["Popular"] == pytest.approx(1 / 5)
    assert (found.dominated_by_reason, found.dominated_by_kind) == (0.5, 1.0)
