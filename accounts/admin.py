"""Django admin for accounts and users' lists."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import Favorite, Preferences, Rating, User, WatchlistEntry


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


@admin.register(Preferences)
class PreferencesAdmin(admin.ModelAdmin):
    list_display = ("user", "min_vote_average", "year_from", "year_to", "include_adult", "updated_at")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    filter_horizontal = ("favorite_genres", "disliked_genres")
