"""The data layer: SQL over asyncpg, plain records out. Never imports Strawberry."""
