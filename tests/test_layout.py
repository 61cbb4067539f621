"""The top-level packages are this repository's, not same-named ones from PyPI."""

from pathlib import Path

import api
import db
import resolvers
import schema

ROOT = Path(__file__).resolve().parent.parent


def test_packages_come_from_this_repository() -> None:
    for package in (api, db, resolvers, schema):
        assert package.__file__ is not None, package.__name__
        assert Path(package.__file__).resolve().parent.parent == ROOT, package.__name__
