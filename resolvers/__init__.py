"""Resolvers: the functions behind the schema's fields, the compiler's planning, the
selection walker it shares with the cost and the exports, the request context, imports' reading.

Imported by ``schema`` and ``api``; it may import ``db``, never ``schema`` or ``api``.
"""
