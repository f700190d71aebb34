"""Users and what each user keeps: favorites, watchlist, ratings, dismissals, preferences.

Movies are referred to by TMDb id (``movie_id``), not by foreign key: the
catalog may be TMDb, whose movies reach our tables only once looked up, and
a user's lists must survive either way.
"""

from __future__ import annotations

import unicodedata

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower

from movies.models import Genre


def account_key(name: str) -> str:
    """The one normalisation of an account name or email: NFKC and casefold (Unicode's
    NFKC_Casefold, near enough), so fullwidth "VIC", "Vic" and "vic" are one name and a dotless-i "vic" is another."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name.strip()).casefold())


class CaseInsensitiveUserManager(UserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(username__iexact=username)


class User(AbstractUser):
    """The account; email is required and unique regardless of case, like the username."""

    email = models.EmailField("email address")
    # Carried in every token; bumped to revoke them all at once (password change,
    # refresh-token theft), access tokens included, not just refresh tokens.
    token_version = models.PositiveIntegerField(default=0, editable=False)

    objects = CaseInsensitiveUserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
        ]

    def set_password(self, raw_password: str | None) -> None:
        """Also retires every token issued before, whichever path changes it (API, admin, manage.py)."""
        super().set_password(raw_password)
        if self.pk is not None:
            self.token_version += 1


class UserMovie(models.Model):
    """One row per (user, movie) in one of the user's lists."""

    movie_id = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.user} · movie {self.movie_id}"  # type: ignore[attr-defined]


class Favorite(UserMovie):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="favorites")
    note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [models.UniqueConstraint(fields=["user", "movie_id"], name="favorite_unique")]
        indexes = [models.Index(fields=["user", "-created_at"], name="favorite_user_recent_idx")]


class WatchlistEntry(UserMovie):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="watchlist")

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name_plural = "watchlist entries"
        constraints = [models.UniqueConstraint(fields=["user", "movie_id"], name="watchlist_unique")]
        indexes = [models.Index(fields=["user", "-created_at"], name="watchlist_user_recent_idx")]


class Rating(UserMovie):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="ratings")
    score = models.DecimalField(max_digits=2, decimal_places=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-updated_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["user", "movie_id"], name="rating_unique"),
            models.CheckConstraint(
                condition=models.Q(score__gte=0.5) & models.Q(score__lte=5), name="rating_score_range"
            ),
        ]
        indexes = [models.Index(fields=["user", "-updated_at"], name="rating_user_recent_idx")]


class Dismissal(UserMovie):
    """A film the user said "not interested" to: never recommended to them again, a negative signal."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="dismissals")

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [models.UniqueConstraint(fields=["user", "movie_id"], name="dismissal_unique")]


class Preferences(models.Model):
    """One per user; absent until the user first saves preferences."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="preferences")
    favorite_genres = models.ManyToManyField(Genre, related_name="+", blank=True)
    disliked_genres = models.ManyToManyField(Genre, related_name="+", blank=True)
    languages = models.JSONField(default=list, blank=True)
    min_vote_average = models.FloatField(null=True, blank=True)
    year_from = models.PositiveSmallIntegerField(null=True, blank=True)
    year_to = models.PositiveSmallIntegerField(null=True, blank=True)
    include_adult = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "preferences"

    def __str__(self) -> str:
        return f"preferences of {self.user}"
