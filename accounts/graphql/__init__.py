"""Accounts' GraphQL face: user and list types, auth and list mutations, per-viewer loaders."""
