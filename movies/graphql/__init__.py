"""The catalog's GraphQL face: types and their field resolvers, root queries, dataloaders.

Only this package (and ``accounts.graphql`` and ``schema``) imports strawberry.
"""
