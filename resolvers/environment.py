"""The base of the settings read from environment variables: Limits here, JwtSettings and
Settings in api/.

A setting is a field of a frozen pydantic model whose alias is its variable's name and
whose attribute docstring says what it is for; pydantic turns the variable's text into the
field's type and words what a bad value should have been. ``--help`` and the README's
table list the fields (``variables``), so nothing is copied by hand.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.fields import FieldInfo

__all__ = ["FromEnvironment", "variables"]


class FromEnvironment(BaseModel):
    """Settings from a mapping of variables (``os.environ`` unless a test gives its own).
    A variable that is unset or blank leaves its setting at the default."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", use_attribute_docstrings=True, validate_by_name=True, validate_by_alias=True
    )

    @model_validator(mode="before")
    @classmethod
    def _from_variables(cls, values: Any) -> Any:
        """Blank variables dropped; a nested settings model (``Settings.limits``) reads the
        same flat mapping: its variables have names of their own, not ``LIMITS__...``."""
        if not isinstance(values, Mapping):
            return values
        present = {k: v for k, v in values.items() if not (isinstance(v, str) and not v.strip())}
        nested = {name: present for name, field in cls.model_fields.items() if _is_settings(field.annotation)}
        return {**nested, **present}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """Raises pydantic's ValidationError (a ValueError) naming each bad variable."""
        return cls.model_validate(os.environ if env is None else env)


def variables(model: type[BaseModel]) -> Iterator[tuple[str, FieldInfo]]:
    """Each environment variable a settings model reads, with its field, nested models' too."""
    for field in model.model_fields.values():
        if _is_settings(field.annotation):
            yield from variables(field.annotation)  # type: ignore[arg-type]
        elif field.alias is not None:
            yield field.alias, field


def _is_settings(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, FromEnvironment)
