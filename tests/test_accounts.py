"""Accounts, JWT auth and users' lists through the GraphQL endpoint."""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Dismissal, Favorite, Preferences, Rating, User, WatchlistEntry
from tests.conftest import GraphQL, clear_caches

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"
AUTH_FIELDS = "token refreshToken expiresIn refreshExpiresIn user { id username email }"
REGISTER = f"""
mutation($input: RegisterInput!) {{ register(input: $input) {{ {AUTH_FIELDS} }} }}
"""
LOGIN = f"""
mutation($u: String!, $p: String!) {{ tokenAuth(username: $u, password: $p) {{ {AUTH_FIELDS} }} }}
"""
REFRESH = f"mutation($t: String!) {{ refreshToken(refreshToken: $t) {{ {AUTH_FIELDS} }} }}"
REVOKE = "mutation($t: String!) { revokeToken(refreshToken: $t) }"
ME = "{ me { id username email firstName lastName dateJoined } }"


@pytest.fixture(autouse=True)
def _local(local_catalog: None) -> None:
    """Movie checks go through the bundled catalog."""


def register(gql: GraphQL, username: str = "alice", email: str | None = None, **extra: Any) -> dict[str, Any]:
    variables = {
        "input": {
            "username": username,
            "email": email or f"{username}@example.com",
            "password": PASSWORD,
            **extra,
        }
    }
    return gql(REGISTER, variables).ok()["register"]


@pytest.fixture
def alice(gql: GraphQL) -> dict[str, Any]:
    """A registered user's auth payload."""
    return register(gql, "alice", firstName="Alice")


@pytest.fixture
def frozen_clock() -> Any:
    """Rate-limit windows are fixed clock intervals; a frozen clock keeps a test inside one."""
    with time_machine.travel(timezone.now(), tick=False):
        yield


@pytest.fixture
def token(alice: dict[str, Any]) -> str:
    return alice["token"]


# --- registration and login ---------------------------------------------------------------


def test_register_returns_tokens_and_the_user(gql: GraphQL, alice: dict[str, Any]) -> None:
    assert alice["user"]["username"] == "alice"
    assert alice["expiresIn"] == 15 * 60
    assert alice["refreshExpiresIn"] == 14 * 24 * 3600
    me = gql(ME, token=alice["token"]).ok()["me"]
    assert me["email"] == "alice@example.com"
    assert me["firstName"] == "Alice"
    stored = User.objects.get(username="alice")
    assert stored.password.startswith("pbkdf2_") or stored.password.startswith("argon2")
    assert PASSWORD not in stored.password


def test_bearer_prefix_works_too(gql: GraphQL, token: str) -> None:
    response = gql(ME, headers={"Authorization": f"Bearer {token}"})
    assert response.ok()["me"]["username"] == "alice"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"password": "short"}, "password", "too short"),
        ({"password": "password123"}, "password", "too common"),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"email": "ALICE@example.com"}, "email", "already exists"),
        ({"username": "ALICE"}, "username", "taken"),
        ({"username": "bad name!"}, "username", "Enter a valid username"),
    ],
)
def test_register_validates(
    gql: GraphQL, alice: dict[str, Any], changes: dict[str, str], field: str, message: str
) -> None:
    variables = {"input": {"username": "bob", "email": "bob@example.com", "password": PASSWORD, **changes}}
    response = gql(REGISTER, variables)
    assert response.codes == ["BAD_USER_INPUT"]
    assert message in response.errors[0]["message"]
    assert response.errors[0]["extensions"]["field"] == field


def test_login_by_username_or_email_any_case(gql: GraphQL, alice: dict[str, Any]) -> None:
    for name in ("alice", "ALICE", "alice@example.com", "Alice@Example.com"):
        payload = gql(LOGIN, {"u": name, "p": PASSWORD}).ok()["tokenAuth"]
        assert payload["user"]["username"] == "alice"


def test_wrong_credentials_say_nothing_about_which_part(gql: GraphQL, alice: dict[str, Any]) -> None:
    wrong_password = gql(LOGIN, {"u": "alice", "p": "nope-nope-nope"})
    unknown_user = gql(LOGIN, {"u": "nobody", "p": PASSWORD})
    assert wrong_password.codes == unknown_user.codes == ["UNAUTHENTICATED"]
    assert wrong_password.errors[0]["message"] == unknown_user.errors[0]["message"]


def test_login_is_rate_limited_per_username(
    gql: GraphQL, alice: dict[str, Any], settings: Any, frozen_clock: None
) -> None:
    settings.LOGIN_RATE_LIMIT = "3/m"
    codes = [gql(LOGIN, {"u": "alice", "p": "wrong-password-x"}).codes for _ in range(3)]
    assert codes == [["UNAUTHENTICATED"]] * 3
    limited = gql(LOGIN, {"u": "alice", "p": PASSWORD})
    assert limited.codes == ["RATE_LIMITED"]
    # The window slides: the minute's attempts weigh in until they are a minute old.
    assert 1 <= limited.errors[0]["extensions"]["retryAfter"] <= 2 * 60
    assert "try again in" in limited.errors[0]["message"]


def test_login_is_rate_limited_per_ip_across_usernames(
    gql: GraphQL, settings: Any, frozen_clock: None
) -> None:
    settings.LOGIN_IP_RATE_LIMIT = "3/m"
    codes = [gql(LOGIN, {"u": f"user{i}", "p": "whatever-123"}).codes[0] for i in range(4)]
    assert codes == ["UNAUTHENTICATED"] * 3 + ["RATE_LIMITED"]


def test_another_spelling_of_a_limited_name_gets_no_fresh_budget(
    gql: GraphQL, settings: Any, frozen_clock: None
) -> None:
    # Defect 5: after vic65919 was limited, the name with a dotless i had a fresh budget and the
    # right password returned the victim's token: the limiter casefolded, SQL compared UPPER().
    from accounts.services import find_account

    register(gql, "vic65919")
    settings.LOGIN_RATE_LIMIT = "3/m"
    for _ in range(3):
        assert gql(LOGIN, {"u": "vic65919", "p": "wrong-password-x"}).codes == ["UNAUTHENTICATED"]
    dotless = gql(LOGIN, {"u": "v\u0131c65919", "p": PASSWORD})
    assert dotless.codes == ["UNAUTHENTICATED"]
    assert find_account("v\u0131c65919") is None
    # Spellings that do name the account share its budget, whatever their case or width.
    for spelling in ("VIC65919", "\uff56\uff49\uff43\uff16\uff15\uff19\uff11\uff19"):
        assert gql(LOGIN, {"u": spelling, "p": PASSWORD}).codes == ["RATE_LIMITED"]


def test_a_burst_across_a_window_boundary_gets_no_second_budget(
    gql: GraphQL, alice: dict[str, Any], settings: Any
) -> None:
    # Defect 7: fixed windows let a burst straddling a minute boundary try 15 times.
    settings.LOGIN_RATE_LIMIT = "3/m"
    start = timezone.now().replace(second=58, microsecond=0) + timedelta(minutes=1)
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(3):
            assert gql(LOGIN, {"u": "alice", "p": "wrong-password-x"}).codes == ["UNAUTHENTICATED"]
        clock.shift(4)  # the next minute has begun
        limited = gql(LOGIN, {"u": "alice", "p": "wrong-password-x"})
        assert limited.codes == ["RATE_LIMITED"]
        assert 1 <= limited.errors[0]["extensions"]["retryAfter"] <= 60
        clock.shift(limited.errors[0]["extensions"]["retryAfter"])
        assert gql(LOGIN, {"u": "alice", "p": PASSWORD}).ok()


def test_attackers_elsewhere_cannot_lock_the_owner_out(
    gql: GraphQL, alice: dict[str, Any], settings: Any, frozen_clock: None
) -> None:
    settings.LOGIN_RATE_LIMIT = "3/m"
    settings.LOGIN_ACCOUNT_RATE_LIMIT = "6/h"
    for address in ("10.0.0.1", "10.0.0.2"):
        codes = [gql(LOGIN, {"u": "alice", "p": "guess-123"}, remote_addr=address).codes[0] for _ in range(4)]
        assert codes == ["UNAUTHENTICATED"] * 3 + ["RATE_LIMITED"]
    # The account's failure budget is spent: a new address gets one guess, then waits.
    assert gql(LOGIN, {"u": "alice", "p": "guess-123"}, remote_addr="10.0.0.3").codes == ["UNAUTHENTICATED"]
    assert gql(LOGIN, {"u": "alice", "p": "guess-123"}, remote_addr="10.0.0.3").codes == ["RATE_LIMITED"]
    # The owner, from an address that never failed, signs in with the right password.
    assert gql(LOGIN, {"u": "alice", "p": PASSWORD}, remote_addr="192.0.2.7").ok()["tokenAuth"]["token"]


def test_an_hourly_budget_still_counts_after_minutes_without_attempts(
    gql: GraphQL, alice: dict[str, Any], settings: Any
) -> None:
    # The file cache's increment stored each count for its default 300 s, whatever the window:
    # ten quiet minutes and an hourly budget started afresh.
    settings.LOGIN_ACCOUNT_RATE_LIMIT = "6/h"
    start = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(6):
            assert gql(LOGIN, {"u": "alice", "p": "guess-123"}, remote_addr="10.0.0.1").codes == [
                "UNAUTHENTICATED"
            ]
        clock.shift(10 * 60)
        assert gql(LOGIN, {"u": "alice", "p": "guess-123"}, remote_addr="10.0.0.1").codes == ["RATE_LIMITED"]


def test_password_checks_of_change_password_and_delete_account_are_limited(
    gql: GraphQL, token: str, settings: Any, frozen_clock: None
) -> None:
    settings.PASSWORD_RATE_LIMIT = "3/m"
    change = 'mutation($o: String!) { changePassword(oldPassword: $o, newPassword: "another-long-one-9") { token } }'
    for _ in range(2):
        assert gql(change, {"o": "wrong-password-x"}, token=token).codes == ["BAD_USER_INPUT"]
    delete = "mutation($p: String!) { deleteAccount(password: $p) }"
    assert gql(delete, {"p": "wrong-password-x"}, token=token).codes == ["BAD_USER_INPUT"]
    limited = gql(delete, {"p": PASSWORD}, token=token)
    assert limited.codes == ["RATE_LIMITED"]
    assert limited.errors[0]["extensions"]["retryAfter"] >= 1
    assert User.objects.filter(username="alice").exists()


def test_email_changes_are_limited_so_they_cannot_enumerate_accounts(
    gql: GraphQL, token: str, settings: Any, frozen_clock: None
) -> None:
    # Defect 6: updateProfile told whether any email was taken, without a limit.
    settings.EMAIL_CHANGE_RATE_LIMIT = "3/h"
    probe = "mutation($e: String!) { updateProfile(input: {email: $e}) { email } }"
    codes = [gql(probe, {"e": f"probe{i}@example.com"}, token=token).codes for i in range(4)]
    assert codes == [[], [], [], ["RATE_LIMITED"]]
    names = 'mutation { updateProfile(input: {firstName: "Al"}) { firstName } }'
    assert gql(names, token=token).ok()["updateProfile"] == {"firstName": "Al"}


def test_the_admin_login_shares_the_accounts_sign_in_limits(
    client: Any, gql: GraphQL, settings: Any, frozen_clock: None
) -> None:
    User.objects.create_superuser("root", "root@example.com", "admin-pass-12345")
    settings.LOGIN_RATE_LIMIT = "3/m"
    form = {"username": "root", "password": "wrong-password-x", "next": "/admin/"}
    statuses = [client.post("/admin/login/", form).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.post("/admin/login/", {**form, "password": "admin-pass-12345"})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert gql(LOGIN, {"u": "ROOT", "p": "admin-pass-12345"}).codes == ["RATE_LIMITED"]


def test_register_is_rate_limited(gql: GraphQL, settings: Any, frozen_clock: None) -> None:
    settings.REGISTER_RATE_LIMIT = "2/m"
    register(gql, "u1")
    register(gql, "u2")
    response = gql(REGISTER, {"input": {"username": "u3", "email": "u3@example.com", "password": PASSWORD}})
    assert response.codes == ["RATE_LIMITED"]
    assert not User.objects.filter(username="u3").exists()


# --- tokens -----------------------------------------------------------------------------------


def test_me_is_null_for_anonymous(gql: GraphQL) -> None:
    assert gql(ME).ok() == {"me": None}


def test_refresh_rotates_and_spends_the_old_token(gql: GraphQL, alice: dict[str, Any]) -> None:
    new = gql(REFRESH, {"t": alice["refreshToken"]}).ok()["refreshToken"]
    assert new["refreshToken"] != alice["refreshToken"]
    assert gql(ME, token=new["token"]).ok()["me"]["username"] == "alice"
    # A second use of the spent token is theft: it fails and revokes every session.
    reused = gql(REFRESH, {"t": alice["refreshToken"]})
    assert reused.codes == ["UNAUTHENTICATED"]
    assert gql(REFRESH, {"t": new["refreshToken"]}).codes == ["UNAUTHENTICATED"]
    assert gql(ME, token=new["token"]).codes == ["UNAUTHENTICATED"]
    assert gql(LOGIN, {"u": "alice", "p": PASSWORD}).ok()  # signing in again works


def test_revoke_logs_out_one_session(gql: GraphQL, alice: dict[str, Any]) -> None:
    other = gql(LOGIN, {"u": "alice", "p": PASSWORD}).ok()["tokenAuth"]
    assert gql(REVOKE, {"t": alice["refreshToken"]}).ok() == {"revokeToken": True}
    assert gql(REVOKE, {"t": alice["refreshToken"]}).ok() == {"revokeToken": True}  # idempotent
    renewed = gql(REFRESH, {"t": other["refreshToken"]}).ok()["refreshToken"]
    # Replaying a logged-out token is treated like replaying a spent one: every session ends.
    assert gql(REFRESH, {"t": alice["refreshToken"]}).codes == ["UNAUTHENTICATED"]
    assert gql(REFRESH, {"t": renewed["refreshToken"]}).codes == ["UNAUTHENTICATED"]


def test_an_access_token_is_not_a_refresh_token(gql: GraphQL, alice: dict[str, Any]) -> None:
    assert gql(REFRESH, {"t": alice["token"]}).codes == ["UNAUTHENTICATED"]
    assert gql(REVOKE, {"t": "garbage"}).codes == ["UNAUTHENTICATED"]


def test_access_token_expires(gql: GraphQL) -> None:
    with time_machine.travel(timezone.now() - timedelta(minutes=16), tick=False):
        old = register(gql, "bob")
    response = gql(ME, token=old["token"])
    assert response.codes == ["UNAUTHENTICATED"]
    assert "expired" in response.errors[0]["message"]
    # The refresh token (14 days) still gets a new pair.
    assert gql(REFRESH, {"t": old["refreshToken"]}).ok()


def _forge(token: str, header: dict[str, str] | None = None, claims: dict[str, Any] | None = None) -> str:
    head, body, signature = token.split(".")

    def encode(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    def decode(part: str) -> dict[str, Any]:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    new_head = encode({**decode(head), **(header or {})})
    new_body = encode({**decode(body), **(claims or {})})
    return f"{new_head}.{new_body}.{'' if header and header.get('alg') == 'none' else signature}"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: _forge(t, claims={"user_id": "999"}),  # tampered claims, old signature
        lambda t: _forge(t, header={"alg": "none"}),  # unsigned
        lambda t: t[:-4] + "AAAA",  # broken signature
        lambda t: "not.a.jwt",
        lambda t: "x" * 5000,
    ],
)
def test_bad_tokens_are_unauthenticated_never_500(gql: GraphQL, token: str, mangle: Any) -> None:
    response = gql(ME, token=mangle(token))
    assert response.status == 200
    assert response.codes == ["UNAUTHENTICATED"]
    # A catalog read still works for a request with a bad token: it is anonymous there.
    assert gql("{ genres { id } }", token=mangle(token)).ok()


def test_malformed_authorization_header(gql: GraphQL) -> None:
    response = gql(ME, headers={"Authorization": "Token abc"})
    assert response.codes == ["UNAUTHENTICATED"]
    assert "JWT <token>" in response.errors[0]["message"]


def test_no_secret_reaches_logs_or_errors(
    gql: GraphQL, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.DEBUG):
        payload = register(gql, "carol")
        gql(LOGIN, {"u": "carol", "p": "wrong-password-zz"})
        gql(REFRESH, {"t": payload["refreshToken"]})
    logged = caplog.text + capsys.readouterr().out
    for secret in (
        PASSWORD,
        "wrong-password-zz",
        payload["token"],
        payload["refreshToken"],
        User.objects.get(username="carol").password,
    ):
        assert secret not in logged


# --- profile, password, deletion ------------------------------------------------------------


def test_update_profile(gql: GraphQL, token: str, alice: dict[str, Any]) -> None:
    query = "mutation($i: ProfileInput!) { updateProfile(input: $i) { email firstName lastName } }"
    user = gql(query, {"i": {"email": "new@example.com", "lastName": "Liddell"}}, token=token).ok()[
        "updateProfile"
    ]
    assert user == {"email": "new@example.com", "firstName": "Alice", "lastName": "Liddell"}
    register(gql, "bob")
    taken = gql(query, {"i": {"email": "BOB@example.com"}}, token=token)
    assert taken.codes == ["BAD_USER_INPUT"]
    assert gql(query, {"i": {"firstName": "x"}}).codes == ["UNAUTHENTICATED"]


CHANGE_PASSWORD = f"""
mutation($o: String!, $n: String!) {{ changePassword(oldPassword: $o, newPassword: $n) {{ {AUTH_FIELDS} }} }}
"""


def test_change_password_revokes_every_other_session_and_keeps_the_caller_signed_in(
    gql: GraphQL, alice: dict[str, Any]
) -> None:
    other = gql(LOGIN, {"u": "alice", "p": PASSWORD}).ok()["tokenAuth"]
    token = alice["token"]
    assert gql(CHANGE_PASSWORD, {"o": "wrong-old-pass", "n": "another-good-pass-7"}, token=token).codes == [
        "BAD_USER_INPUT"
    ]
    assert gql(CHANGE_PASSWORD, {"o": PASSWORD, "n": "123"}, token=token).codes == ["BAD_USER_INPUT"]
    fresh = gql(CHANGE_PASSWORD, {"o": PASSWORD, "n": "another-good-pass-7"}, token=token).ok()[
        "changePassword"
    ]
    assert fresh["user"]["username"] == "alice"
    # The caller goes on with the fresh pair: its access token works and its refresh token rotates.
    assert gql(ME, token=fresh["token"]).ok()["me"]["username"] == "alice"
    assert gql(REFRESH, {"t": fresh["refreshToken"]}).ok()
    # Every token from before, this device's and the other session's, is dead.
    for old_token in (token, other["token"]):
        assert gql(ME, token=old_token).codes == ["UNAUTHENTICATED"]
    for old_refresh in (alice["refreshToken"], other["refreshToken"]):
        assert gql(REFRESH, {"t": old_refresh}).codes == ["UNAUTHENTICATED"]
    assert gql(LOGIN, {"u": "alice", "p": PASSWORD}).codes == ["UNAUTHENTICATED"]
    assert gql(LOGIN, {"u": "alice", "p": "another-good-pass-7"}).ok()


def test_delete_account_removes_everything(gql: GraphQL, token: str, alice: dict[str, Any]) -> None:
    gql(
        "mutation { addFavorite(movieId: 155) { id } addToWatchlist(movieId: 550) { id } "
        'rateMovie(movieId: 19995, score: 4) { id } updatePreferences(input: {languages: ["en"]}) { languages } '
        "dismissRecommendation(movieId: 27205) }",
        token=token,
    ).ok()
    query = "mutation($p: String!) { deleteAccount(password: $p) }"
    assert gql(query, {"p": "wrong-password-1"}, token=token).codes == ["BAD_USER_INPUT"]
    assert gql(query, {"p": PASSWORD}, token=token).ok() == {"deleteAccount": True}
    assert not User.objects.filter(username="alice").exists()
    for model in (Favorite, WatchlistEntry, Rating, Preferences, Dismissal):
        assert not model.objects.exists()
    assert gql(ME, token=token).codes == ["UNAUTHENTICATED"]
    assert gql(REFRESH, {"t": alice["refreshToken"]}).codes == ["UNAUTHENTICATED"]


# --- favorites, watchlist, ratings -------------------------------------------------------------

ADD_FAVORITE = "mutation($id: Int!, $note: String) { addFavorite(movieId: $id, note: $note) { id movieId note createdAt movie { title } } }"


def test_add_favorite_is_idempotent_and_updates_the_note(gql: GraphQL, token: str) -> None:
    first = gql(ADD_FAVORITE, {"id": 155, "note": "the best"}, token=token).ok()["addFavorite"]
    assert first["movie"] == {"title": "The Dark Knight"}
    again = gql(ADD_FAVORITE, {"id": 155}, token=token).ok()["addFavorite"]
    assert again["id"] == first["id"]
    assert again["note"] == "the best"  # left out: kept
    changed = gql(ADD_FAVORITE, {"id": 155, "note": "still the best"}, token=token).ok()["addFavorite"]
    assert changed["note"] == "still the best"
    assert Favorite.objects.count() == 1


def test_list_mutations_need_a_user_and_a_known_movie(gql: GraphQL, token: str) -> None:
    assert gql(ADD_FAVORITE, {"id": 155}).codes == ["UNAUTHENTICATED"]
    missing = gql(ADD_FAVORITE, {"id": 999999999}, token=token)
    assert missing.codes == ["NOT_FOUND"]
    assert gql("mutation { addToWatchlist(movieId: 999999999) { id } }", token=token).codes == ["NOT_FOUND"]
    assert gql("mutation { rateMovie(movieId: 999999999, score: 3) { id } }", token=token).codes == [
        "NOT_FOUND"
    ]
    assert gql(ADD_FAVORITE, {"id": 155, "note": "x" * 501}, token=token).codes == ["BAD_USER_INPUT"]


def test_watchlist_add_and_remove(gql: GraphQL, token: str) -> None:
    add = "mutation { addToWatchlist(movieId: 550) { movieId movie { title } } }"
    assert gql(add, token=token).ok()["addToWatchlist"] == {"movieId": 550, "movie": {"title": "Fight Club"}}
    gql(add, token=token).ok()
    assert WatchlistEntry.objects.count() == 1
    remove = "mutation { removeFromWatchlist(movieId: 550) }"
    assert gql(remove, token=token).ok() == {"removeFromWatchlist": True}
    assert gql(remove, token=token).ok() == {"removeFromWatchlist": False}


@pytest.mark.parametrize("score", [0, 0.25, 5.5, 3.3, -1])
def test_rating_scores_are_half_steps(gql: GraphQL, token: str, score: float) -> None:
    response = gql(
        "mutation($s: Float!) { rateMovie(movieId: 155, score: $s) { score } }", {"s": score}, token=token
    )
    assert response.codes == ["BAD_USER_INPUT"]


def test_rate_again_replaces_and_delete_rating(gql: GraphQL, token: str) -> None:
    rate = "mutation($s: Float!) { rateMovie(movieId: 155, score: $s) { score movieId updatedAt } }"
    assert gql(rate, {"s": 3.5}, token=token).ok()["rateMovie"]["score"] == 3.5
    assert gql(rate, {"s": 5}, token=token).ok()["rateMovie"]["score"] == 5.0
    assert Rating.objects.get().score == 5
    assert gql("mutation { deleteRating(movieId: 155) }", token=token).ok() == {"deleteRating": True}
    assert gql("mutation { deleteRating(movieId: 155) }", token=token).ok() == {"deleteRating": False}


def test_per_viewer_fields(gql: GraphQL, token: str) -> None:
    gql(
        "mutation { addFavorite(movieId: 155) { id } rateMovie(movieId: 550, score: 4.5) { id } "
        "addToWatchlist(movieId: 550) { id } }",
        token=token,
    ).ok()
    query = "{ movies(ids: [155, 550, 19995]) { id isFavorite inWatchlist myRating } }"
    assert gql(query, token=token).ok()["movies"] == [
        {"id": 155, "isFavorite": True, "inWatchlist": False, "myRating": None},
        {"id": 550, "isFavorite": False, "inWatchlist": True, "myRating": 4.5},
        {"id": 19995, "isFavorite": False, "inWatchlist": False, "myRating": None},
    ]
    anonymous = gql(query).ok()["movies"]
    assert all(m["isFavorite"] is False and m["myRating"] is None for m in anonymous)


def test_a_mutation_result_sees_its_own_change(gql: GraphQL, token: str) -> None:
    query = "mutation { addFavorite(movieId: 155) { movie { isFavorite } } }"
    assert gql(query, token=token).ok()["addFavorite"]["movie"]["isFavorite"] is True


def test_users_only_ever_see_their_own_lists(gql: GraphQL, token: str) -> None:
    bob = register(gql, "bob")["token"]
    gql("mutation { addFavorite(movieId: 155) { id } }", token=token).ok()
    gql("mutation { addFavorite(movieId: 550) { id } }", token=bob).ok()
    lists = "{ me { username favorites { totalCount results { movieId } } } movie(id: 155) { isFavorite } }"
    alice_view = gql(lists, token=token).ok()
    bob_view = gql(lists, token=bob).ok()
    assert alice_view["me"]["favorites"]["results"] == [{"movieId": 155}]
    assert bob_view["me"]["favorites"]["results"] == [{"movieId": 550}]
    assert bob_view["movie"]["isFavorite"] is False
    # Bob removing "his" 155 removes nothing of Alice's.
    assert gql("mutation { removeFavorite(movieId: 155) }", token=bob).ok() == {"removeFavorite": False}
    assert Favorite.objects.filter(user__username="alice").count() == 1


def test_lists_page_newest_first_with_total_count(gql: GraphQL, token: str) -> None:
    movie_ids = list(
        __import__("movies.models", fromlist=["Movie"]).Movie.objects.values_list("id", flat=True)[:7]
    )
    for movie_id in movie_ids:
        gql("mutation($id: Int!) { addFavorite(movieId: $id) { id } }", {"id": movie_id}, token=token).ok()
    page = gql(
        "{ me { favorites(offset: 2, limit: 3) { totalCount results { movieId } } } }", token=token
    ).ok()
    favorites = page["me"]["favorites"]
    assert favorites["totalCount"] == 7
    assert [r["movieId"] for r in favorites["results"]] == list(reversed(movie_ids))[2:5]
    for bad in ("offset: -1", "limit: 0", "limit: 101"):
        response = gql(f"{{ me {{ favorites({bad}) {{ totalCount }} }} }}", token=token)
        assert response.codes == ["BAD_USER_INPUT"], bad


def test_list_query_count_does_not_grow_with_the_page(gql: GraphQL, token: str) -> None:
    from movies.models import Movie

    for movie_id in Movie.objects.values_list("id", flat=True)[:50]:
        gql("mutation($id: Int!) { addFavorite(movieId: $id) { id } }", {"id": movie_id}, token=token).ok()

    def count(limit: int) -> int:
        query = f"{{ me {{ favorites(limit: {limit}) {{ results {{ movie {{ title genres {{ name }} isFavorite }} }} }} }} }}"
        clear_caches()
        with CaptureQueriesContext(connection) as queries:
            data = gql(query, token=token).ok()
        assert len(data["me"]["favorites"]["results"]) == limit
        return len(queries)

    assert count(5) == count(50)


def test_concurrent_duplicate_favorites_keep_one_row(transactional_db: None, postgres: None) -> None:
    """Eight simultaneous addFavorite requests for one movie: one row, eight clean answers (PostgreSQL)."""
    import threading

    from django.core.management import call_command
    from django.db import connections
    from django.test import Client

    from movies.models import Movie

    # transactional_db starts from flushed tables: the catalog must be there for the movie check.
    if not Movie.objects.filter(id=155).exists():
        call_command("load_catalog", verbosity=0)
    User.objects.create_user("racer", "racer@example.com", PASSWORD)
    login = Client().post(
        "/graphql",
        data=json.dumps({"query": LOGIN, "variables": {"u": "racer", "p": PASSWORD}}),
        content_type="application/json",
    )
    token = login.json()["data"]["tokenAuth"]["token"]
    answers: list[dict[str, Any]] = []
    barrier = threading.Barrier(8)

    def add() -> None:
        try:
            barrier.wait()
            response = Client().post(
                "/graphql",
                data=json.dumps({"query": 'mutation { addFavorite(movieId: 155, note: "race") { id } }'}),
                content_type="application/json",
                headers={"Authorization": f"JWT {token}"},
            )
            answers.append(response.json())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 8
    assert all("errors" not in answer for answer in answers), answers
    assert len({answer["data"]["addFavorite"]["id"] for answer in answers}) == 1
    assert Favorite.objects.filter(user__username="racer", movie_id=155).count() == 1


# --- preferences -----------------------------------------------------------------------------------

PREFS = "mutation($i: PreferencesInput!) { updatePreferences(input: $i) { favoriteGenres { id name } dislikedGenres { id } languages minVoteAverage yearFrom yearTo includeAdult updatedAt } }"


def test_preferences_default_then_partial_updates(gql: GraphQL, token: str) -> None:
    initial = gql(
        "{ me { preferences { favoriteGenres { id } languages includeAdult updatedAt } } }", token=token
    )
    assert initial.ok()["me"]["preferences"] == {
        "favoriteGenres": [],
        "languages": [],
        "includeAdult": False,
        "updatedAt": None,
    }
    prefs = gql(
        PREFS, {"i": {"favoriteGenreIds": [80, 18], "languages": ["EN", "fr"], "yearFrom": 1990}}, token=token
    ).ok()["updatePreferences"]
    assert prefs["favoriteGenres"] == [{"id": 80, "name": "Crime"}, {"id": 18, "name": "Drama"}]
    assert prefs["languages"] == ["en", "fr"]
    assert prefs["yearFrom"] == 1990
    later = gql(PREFS, {"i": {"minVoteAverage": 7.0}}, token=token).ok()["updatePreferences"]
    assert [g["id"] for g in later["favoriteGenres"]] == [80, 18]
    assert later["languages"] == ["en", "fr"]
    assert later["minVoteAverage"] == 7.0
    cleared = gql(PREFS, {"i": {"yearFrom": None}}, token=token).ok()["updatePreferences"]
    assert cleared["yearFrom"] is None


def test_preferences_have_one_stable_id_per_user_for_client_caches(
    gql: GraphQL, token: str, alice: dict[str, Any]
) -> None:
    """Apollo normalises by __typename and id: the defaults and every saved state are one object."""
    read = "{ me { id preferences { id } } }"
    before = gql(read, token=token).ok()["me"]
    assert before["preferences"]["id"] == before["id"] == alice["user"]["id"]
    saved = gql("mutation { updatePreferences(input: {yearFrom: 1990}) { id } }", token=token).ok()[
        "updatePreferences"
    ]
    again = gql("mutation { updatePreferences(input: {yearTo: 2000}) { id } }", token=token).ok()
    assert saved["id"] == again["updatePreferences"]["id"] == before["id"]
    bob = register(gql, "bob")
    assert gql(read, token=bob["token"]).ok()["me"]["preferences"]["id"] == bob["user"]["id"] != before["id"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"favoriteGenreIds": [80], "dislikedGenreIds": [80]}, "both"),
        ({"favoriteGenreIds": [123456]}, "Unknown genre"),
        ({"languages": ["english"]}, "ISO 639-1"),
        ({"languages": ["xx"]}, "ISO 639-1"),
        ({"yearFrom": 2010, "yearTo": 2000}, "yearFrom must not be after yearTo"),
        ({"yearTo": 3000}, "between 1870 and 2100"),
        ({"minVoteAverage": 10.5}, "between 0 and 10"),
    ],
)
def test_preferences_validation(gql: GraphQL, token: str, changes: dict[str, Any], message: str) -> None:
    response = gql(PREFS, {"i": changes}, token=token)
    assert response.codes == ["BAD_USER_INPUT"]
    assert message in response.errors[0]["message"]


def test_a_database_failure_while_authenticating_is_no_http_500(
    gql: GraphQL, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("couldn't get a connection after 5.00 sec")

    monkeypatch.setattr("accounts.auth.User.objects.filter", broken)
    response = gql(ME, token=token)
    assert response.status == 200
    assert response.codes == ["INTERNAL_SERVER_ERROR"]  # not UNAUTHENTICATED: the token is fine
    assert "could not be checked" in response.errors[0]["message"]


def test_viewer_fields_fail_with_a_code_rather_than_answer_for_an_unchecked_token(
    gql: GraphQL, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    gql("mutation { addFavorite(movieId: 155) { id } }", token=token).ok()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("couldn't get a connection after 5.00 sec")

    monkeypatch.setattr("accounts.auth.User.objects.filter", broken)
    clear_caches()  # the token's user is no longer remembered: the database must be asked
    response = gql("{ movie(id: 155) { title isFavorite inWatchlist myRating } }", token=token)
    assert response.status == 200
    # An error (isFavorite is non-null, so the movie with it), not a false "not a favorite".
    assert response.data == {"movie": None}
    assert set(response.codes) == {"INTERNAL_SERVER_ERROR"}
    assert all("could not be checked" in error["message"] for error in response.errors)


def test_a_movie_gone_from_the_catalog_does_not_hide_the_list(gql: GraphQL, token: str) -> None:
    gql("mutation { addFavorite(movieId: 155) { id } }", token=token).ok()
    Favorite.objects.create(user=User.objects.get(username="alice"), movie_id=999999999)
    me = gql("{ me { favorites { totalCount results { movieId movie { id title } } } } }", token=token).ok()[
        "me"
    ]
    titles = {row["movieId"]: row["movie"]["title"] for row in me["favorites"]["results"]}
    assert titles == {155: "The Dark Knight", 999999999: "Unavailable movie"}


def test_usernames_cannot_look_like_emails(gql: GraphQL) -> None:
    response = gql(REGISTER, {"input": {"username": "bob@x.io", "email": "bob@x.io", "password": PASSWORD}})
    assert response.codes == ["BAD_USER_INPUT"]
    assert response.errors[0]["extensions"]["field"] == "username"


def test_a_device_that_missed_a_password_change_cannot_sign_out_the_new_sessions(
    gql: GraphQL, alice: dict[str, Any]
) -> None:
    gql(CHANGE_PASSWORD, {"o": PASSWORD, "n": "another-good-pass-7"}, token=alice["token"]).ok()
    fresh = gql(LOGIN, {"u": "alice", "p": "another-good-pass-7"}).ok()["tokenAuth"]
    # The old device still holds its pre-change refresh token.
    assert gql(REFRESH, {"t": alice["refreshToken"]}).codes == ["UNAUTHENTICATED"]
    assert gql(ME, token=fresh["token"]).ok()["me"]["username"] == "alice"
    assert gql(REFRESH, {"t": fresh["refreshToken"]}).ok()


def test_a_password_set_outside_the_api_retires_old_tokens(gql: GraphQL, alice: dict[str, Any]) -> None:
    user = User.objects.get(username="alice")
    user.set_password("set-by-an-admin-123")  # what the admin form and `manage.py changepassword` do
    user.save()
    assert gql(ME, token=alice["token"]).codes == ["UNAUTHENTICATED"]
    assert gql(REFRESH, {"t": alice["refreshToken"]}).codes == ["UNAUTHENTICATED"]


def test_concurrent_adds_and_removes_of_one_entry_never_fail(transactional_db: None, postgres: None) -> None:
    """Defect 8: addToWatchlist racing removeFromWatchlist on one entry gave INTERNAL_SERVER_ERROR
    (get_or_create lost the insert, then found the winner's row already removed)."""
    import threading

    from django.core.management import call_command
    from django.db import connections
    from django.test import Client

    from accounts import tokens
    from movies.models import Movie

    if not Movie.objects.filter(id=155).exists():
        call_command("load_catalog", verbosity=0)
    token = tokens.issue(User.objects.create_user("racer2", "racer2@example.com", PASSWORD)).token
    add = "mutation { addToWatchlist(movieId: 155) { id } }"
    remove = "mutation { removeFromWatchlist(movieId: 155) }"
    operations = [add, remove] * 12
    answers: list[dict[str, Any]] = []
    barrier = threading.Barrier(len(operations))

    def run(query: str) -> None:
        try:
            barrier.wait()
            for _ in range(3):
                response = Client().post(
                    "/graphql",
                    data=json.dumps({"query": query}),
                    content_type="application/json",
                    headers={"Authorization": f"JWT {token}"},
                )
                answers.append(response.json())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(query,)) for query in operations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 3 * len(operations)
    assert [answer for answer in answers if "errors" in answer] == []
    assert WatchlistEntry.objects.filter(user__username="racer2", movie_id=155).count() <= 1


# --- the token's user from the shared cache ------------------------------------------------------


def _settled(user: dict[str, Any]) -> None:
    """As ``SETTLE`` seconds after the user's last change: its marker gone, an entry may be written."""
    from django.core.cache import cache

    from accounts import user_cache

    cache.delete(user_cache.key(int(user["user"]["id"])))


def _user_queries(gql: GraphQL, token: str) -> tuple[dict[str, Any], int]:
    with CaptureQueriesContext(connection) as captured:
        me = gql(ME, token=token).ok()["me"]
    return me, sum('"accounts_user"' in query["sql"] for query in captured.captured_queries)


def test_a_signed_in_request_reads_its_user_from_the_shared_cache(
    gql: GraphQL, alice: dict[str, Any], redis_cache: None
) -> None:
    from django.core.cache import cache

    from accounts import user_cache

    cache.delete(user_cache.key(int(alice["user"]["id"])))
    first, cold = _user_queries(gql, alice["token"])
    again, warm = _user_queries(gql, alice["token"])
    assert (cold, warm) == (1, 0)
    assert again == first  # every field of `me` as the database has it, dates included
    assert cache.get(user_cache.key(int(alice["user"]["id"])))["v"] == 0


def test_a_revoked_token_is_refused_at_once_with_the_cache_warm(
    gql: GraphQL, alice: dict[str, Any], redis_cache: None
) -> None:
    _settled(alice)
    token = alice["token"]
    _user_queries(gql, token)  # the entry is in the cache
    # Refresh-token reuse revokes every session (an UPDATE of the version, no post_save).
    gql(REFRESH, {"t": alice["refreshToken"]}).ok()
    assert gql(REFRESH, {"t": alice["refreshToken"]}).codes == ["UNAUTHENTICATED"]
    response = gql(ME, token=token)
    assert response.codes == ["UNAUTHENTICATED"]
    assert "revoked" in response.errors[0]["message"]


def test_a_deactivated_or_renamed_user_is_seen_at_once_with_the_cache_warm(
    gql: GraphQL, alice: dict[str, Any], redis_cache: None
) -> None:
    _settled(alice)
    token = alice["token"]
    assert _user_queries(gql, token)[0]["firstName"] == "Alice"
    gql('mutation { updateProfile(input: {firstName: "Ada"}) { firstName } }', token=token).ok()
    assert _user_queries(gql, token)[0]["firstName"] == "Ada"
    user = User.objects.get(username="alice")
    user.is_active = False
    user.save()
    assert gql(ME, token=token).codes == ["UNAUTHENTICATED"]


def test_an_entry_newer_than_the_token_refuses_it_without_the_database(
    gql: GraphQL, alice: dict[str, Any], redis_cache: None
) -> None:
    from django.core.cache import cache

    from accounts import user_cache

    user = User.objects.get(username="alice")
    user.token_version = 3  # as another process's revocation left it, not yet in this row
    cache.set(user_cache.key(user.pk), user_cache.snapshot(user), user_cache.TTL)
    response, queries = None, 0
    with CaptureQueriesContext(connection) as captured:
        response = gql(ME, token=alice["token"])
    queries = sum('"accounts_user"' in query["sql"] for query in captured.captured_queries)
    assert (response.codes, queries) == (["UNAUTHENTICATED"], 0)


def test_password_checks_still_read_the_hash_from_the_database(
    gql: GraphQL, alice: dict[str, Any], redis_cache: None
) -> None:
    _settled(alice)
    token = alice["token"]
    _user_queries(gql, token)  # the entry (without the hash) is in the cache
    query = "mutation($p: String!) { deleteAccount(password: $p) }"
    assert gql(query, {"p": "wrong-password-1"}, token=token).codes == ["BAD_USER_INPUT"]
    assert gql(query, {"p": PASSWORD}, token=token).ok() == {"deleteAccount": True}
    assert gql(ME, token=token).codes == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("change", ["revoke_all", "deactivate"])
def test_a_lookup_that_read_the_row_before_a_change_cannot_keep_it_in_the_cache(
    gql: GraphQL, alice: dict[str, Any], redis_cache: None, change: str
) -> None:
    from accounts import tokens, user_cache

    _settled(alice)
    assert _user_queries(gql, alice["token"])[1] == 1  # the entry is written
    stale = User.objects.get(username="alice")  # a request's database read, just before the change
    if change == "revoke_all":
        tokens.revoke_all(stale.pk)
    else:
        fresh = User.objects.get(pk=stale.pk)
        fresh.is_active = False
        fresh.save()
    user_cache.store(stale)  # ... and that request's write of the entry, just after both drops
    assert gql(ME, token=alice["token"]).codes == ["UNAUTHENTICATED"]


def test_an_entry_of_another_shape_of_the_row_is_a_miss_not_an_error(
    gql: GraphQL, alice: dict[str, Any], redis_cache: None
) -> None:
    from django.core.cache import cache

    from accounts import user_cache

    user = User.objects.get(username="alice")
    entry = user_cache.snapshot(user)
    del entry["fields"]["first_name"]  # as a release before a new column wrote it, during a rolling deploy
    cache.set(user_cache.key(user.pk), entry, user_cache.TTL)
    me, queries = _user_queries(gql, alice["token"])
    assert (me["firstName"], queries) == ("Alice", 1)


def test_a_token_newer_than_its_entry_retires_the_entry_whose_drop_was_lost(
    gql: GraphQL, alice: dict[str, Any], redis_cache: None
) -> None:
    from django.db.models import F

    from accounts import tokens

    _settled(alice)
    old = alice["token"]
    assert _user_queries(gql, old)[1] == 1  # the entry is written
    # A revocation whose drop did not reach Redis (unreachable then): the entry keeps the old version.
    User.objects.filter(username="alice").update(token_version=F("token_version") + 1)
    new = tokens.issue(User.objects.get(username="alice")).token
    assert gql(ME, token=new).ok()["me"]["username"] == "alice"
    assert gql(ME, token=old).codes == ["UNAUTHENTICATED"]


def test_a_redis_outage_signs_in_from_the_database_and_warns_once_a_minute(
    gql: GraphQL, dead_redis: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from accounts import tokens, user_cache
    from accounts.models import User
    from backend.logging import Throttle

    monkeypatch.setattr(user_cache, "warnings", Throttle())
    token = tokens.issue(User.objects.create_user("outage", "outage@example.com", "a-long-passphrase")).token
    with caplog.at_level(logging.WARNING, logger="accounts.user_cache"):
        for _ in range(3):
            assert gql("{ me { username } }", token=token).ok()["me"] == {"username": "outage"}
    warnings = [r for r in caplog.records if r.name == "accounts.user_cache"]
    assert len(warnings) == 1
    assert warnings[0].exc_info is not None
