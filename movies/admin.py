"""Django admin for the local catalog."""

from django.contrib import admin

from movies.models import Genre, Movie


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ("id", "name")
    search_fields = ("name",)


@admin.register(Movie)
class MovieAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "release_date", "vote_average", "vote_count", "popularity")
    search_fields = ("title", "original_title", "imdb_id")
    list_filter = ("adult", "original_language")
    filter_horizontal = ("genres",)
