"""The one GraphQL schema: each app's root types merged, plus the schema-wide extensions."""

from __future__ import annotations

import strawberry
from django.conf import settings
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.tools import merge_types

from accounts.graphql.schema import AccountMutation, AccountQuery
from movies.graphql.schema import CatalogQuery
from schema.cost import CostBudget
from schema.inputs import InputLiteralsRule, InputVariables

Query = merge_types("Query", (CatalogQuery, AccountQuery))
Mutation = merge_types("Mutation", (AccountMutation,))

# The limit rules are classes built once: ValidationCache keys on the rule
# classes, so limiters constructed per request would never hit the cache.
LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=settings.GRAPHQL_MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=settings.GRAPHQL_MAX_ALIASES).validation_rules,
    InputLiteralsRule,
]

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    extensions=[
        # Validation costs ~20x parse + execute on a small query (README, Performance): cache both.
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        lambda: MaxTokensLimiter(max_token_count=settings.GRAPHQL_MAX_TOKENS),
        lambda: AddValidationRules(LIMIT_RULES),
        # Before execution: variables' strings and lists, then the request's cost.
        InputVariables,
        CostBudget,
    ],
)
