"""Django admin for accounts and users' lists."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest, HttpResponse

from accounts import ratelimit
from accounts.models import Dismissal, Favorite, Preferences, Rating, User, WatchlistEntry
from backend.errors import RateLimited


def login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """The admin's sign-in page under the same attempt limits as tokenAuth (one budget per account)."""
    if request.method != "POST":
        return admin.site.login(request, extra_context)
    name = request.POST.get("username", "")
    try:
        ratelimit.attempt(request, "login", name)
    except RateLimited as error:
        response = HttpResponse(error.message, status=429, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(error.retry_after)
        return response
    response = admin.site.login(request, extra_context)
    if response.status_code == 200:  # the form again: the credentials were refused
        ratelimit.failure(request, "login", name)
    return response


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "date_joined")


class UserMovieAdmin(admin.ModelAdmin):
    list_display = ("user", "movie_id", "created_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__email", "movie_id")
    raw_id_fields = ("user",)


@admin.register(Favorite)
class FavoriteAdmin(UserMovieAdmin):
    list_display = ("user", "movie_id", "note", "created_at")


@admin.register(WatchlistEntry)
class WatchlistEntryAdmin(UserMovieAdmin):
    pass


@admin.register(Rating)
class RatingAdmin(UserMovieAdmin):
    list_display = ("user", "movie_id", "score", "updated_at")


@admin.register(Dismissal)
class DismissalAdmin(UserMovieAdmin):
    pass


@admin.register(Preferences)
class PreferencesAdmin(admin.ModelAdmin):
    list_display = ("user", "min_vote_average", "year_from", "year_to", "include_adult", "updated_at")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    filter_horizontal = ("favorite_genres", "disliked_genres")
