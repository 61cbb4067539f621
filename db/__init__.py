"""The data layer: SQL over asyncpg, plain records out; migrations, the demo data, the
embedded server, the compiled path's plan nodes and renderer.

The bottom layer, imported by the others; it imports none of them, nor Strawberry,
graphql-core or Starlette (the import contracts in pyproject.toml check it).
"""
