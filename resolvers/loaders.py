"""Every DataLoader of a request, in one place, each over one batch function of ``db``."""

from __future__ import annotations

from functools import partial

from db.pool import Database
from strawberry.dataloader import DataLoader

from db import regions
from db.records import District

__all__ = ["Loaders"]


class Loaders:
    def __init__(self, db: Database) -> None:
        self.districts_by_region: DataLoader[str, list[District]] = DataLoader(
            partial(regions.districts_by_region, db)
        )
