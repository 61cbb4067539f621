"""The four packages install under their own generic names (``api``, ``schema``, ``resolvers``,
``db``: the design's folders, as they are), and these names cannot clash where the service
runs: it is an application, installed into an environment of its own (``.venv``, the image's
``/opt/venv``), never beside other applications. What could still clash is a dependency, now
or after an upgrade, that installs a module under one of these names (PyPI's ``schema``
does): pip would let it overwrite our files or ours overwrite it, and either side would
import the other's. This environment holds every extra (the test extras include the others),
so a dependency that brings such a name fails here, on the upgrade that brings it.

Why not ``liaison_graph.schema`` through setuptools' ``package-dir``: with the folders at the
top level, the editable install maps that name with an import hook, which mypy does not
follow; mypy would stop seeing our modules, and with ``ignore_missing_imports`` say nothing.
"""

from __future__ import annotations

from importlib.metadata import distribution, packages_distributions
from pathlib import Path

import pytest

TOP_LEVEL = ("api", "db", "resolvers", "schema")
PROJECT = "liaison-graph"


def providers() -> dict[str, list[str]]:
    """Each of our top-level names and the installed distributions that provide it."""
    found = packages_distributions()
    return {name: sorted(set(found.get(name, []))) for name in TOP_LEVEL}


def test_only_this_project_installs_its_top_level_names() -> None:
    assert providers() == {name: [PROJECT] for name in TOP_LEVEL}


def test_the_project_installs_these_four_names_and_no_others() -> None:
    top_level = distribution(PROJECT).read_text("top_level.txt")
    assert top_level is not None
    assert sorted(top_level.split()) == list(TOP_LEVEL)  # not tests/, bench/, examples/


def test_a_dependency_that_brings_one_of_the_names_is_seen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # PyPI's `schema` as its wheel installs it: a schema.py at the top level, no top_level.txt.
    info = tmp_path / "schema-0.7.7.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: schema\nVersion: 0.7.7\n")
    (info / "RECORD").write_text("schema.py,,\nschema-0.7.7.dist-info/METADATA,,\nschema-0.7.7.dist-info/RECORD,,\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert providers()["schema"] == [PROJECT, "schema"]
