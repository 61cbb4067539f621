"""Plain records the data layer returns: frozen dataclasses, one per table's row shape."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["District", "Region"]


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    name_en: str | None
    is_partner: bool


@dataclass(frozen=True, slots=True)
class District:
    code: str
    region_code: str
    name: str
    name_en: str | None
    kind: str
