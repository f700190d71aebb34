"""Django admin for the local catalog."""

from django.contrib import admin
from django.db import models

from movies.models import Company, Credit, Genre, Movie, Person


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ("id", "name")
    search_fields = ("name",)


class CreditInline(admin.TabularInline):
    model = Credit
    extra = 0
    raw_id_fields = ("person", "movie")
    fields = ("person", "kind", "order", "character", "job", "department")


@admin.register(Movie)
class MovieAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "release_date", "vote_average", "vote_count", "popularity")
    search_fields = ("title", "original_title", "imdb_id")
    list_filter = ("adult", "original_language")
    filter_horizontal = ("genres",)
    raw_id_fields = ("companies",)
    inlines = (CreditInline,)
    # Django 6 makes https the default scheme for typed-in URLs; say so now rather than warn.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "known_for_department", "credit_count")
    search_fields = ("name",)
    list_filter = ("known_for_department",)
    inlines = (CreditInline,)


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("id", "name")
    search_fields = ("name",)
