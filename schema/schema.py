"""The one GraphQL schema: each app's root types merged, plus the schema-wide extensions."""

from __future__ import annotations

import strawberry
from django.conf import settings
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from accounts.graphql.schema import AccountMutation, AccountQuery
from movies.graphql.schema import CatalogQuery

# The roots each app declares, merged; described here, where they become one.
Query = merge_types("Query", (CatalogQuery, AccountQuery))
Mutation = merge_types("Mutation", (AccountMutation,))
Query.__strawberry_definition__.description = (
    "Reads: the movie catalog (anonymous), the viewer and recommendations."  # type: ignore[attr-defined]
)
Mutation.__strawberry_definition__.description = (
    "Writes: accounts and sessions, the viewer's lists and preferences."  # type: ignore[attr-defined]
)

# The limit rules are classes built once: ValidationCache keys on the rule
# classes, so limiters constructed per request would never hit the cache.
LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=settings.GRAPHQL_MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=settings.GRAPHQL_MAX_ALIASES).validation_rules,
]


def make_schema(*, introspection: bool, field_suggestions: bool) -> strawberry.Schema:
    """The schema, with or without introspection and "Did you mean ...?" suggestions (production switches)."""
    rules = LIMIT_RULES if introspection else [*LIMIT_RULES, NoSchemaIntrospectionCustomRule]
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        config=StrawberryConfig(disable_field_suggestions=not field_suggestions),
        extensions=[
            # Validation costs ~20x parse + execute on a small query (README, Performance): cache both.
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            lambda: MaxTokensLimiter(max_token_count=settings.GRAPHQL_MAX_TOKENS),
            lambda: AddValidationRules(rules),
        ],
    )


schema = make_schema(
    introspection=settings.GRAPHQL_INTROSPECTION, field_suggestions=settings.GRAPHQL_FIELD_SUGGESTIONS
)
