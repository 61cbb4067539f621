"""Imports of the regulator's registers from CSV and XLSX: reading, mapping, checking.

Here, between the entry points (``liaison import`` and ``POST /imports`` in ``api/``) and
the SQL (``db.imports``), because it is the domain's rules for rows (labels, formats,
codes), shared by both entry points and free of HTTP, as the layering HTTP → schema →
resolvers → db asks; it imports ``db`` and nothing above it.
"""

from .errors import ImportRefused
from .importing import Actor, Report, Scope, run_import
from .kinds import KINDS

__all__ = ["KINDS", "Actor", "ImportRefused", "Report", "Scope", "run_import"]
