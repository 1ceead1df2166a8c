"""Help texts that name values, not Python types.

Typer shows each parameter's annotation in ``--help`` (``<str>``, ``<bool>``,
``<list[str]>``, a required argument as ``{orders}``) and honours ``metavar`` for
options only. Every command is built with :class:`Command` (``app.command(cls=...)``),
whose parameters show their metavar (``FILE``, ``DATE``, ``N``, ``COLUMN``), a flag
shows nothing after its name, and a choice its values (``[month|quarter|year]``).
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption


def choices(values: Any) -> str:
    """``[a|b|c]``: the metavar of an option whose values are an enum's."""
    return "[" + "|".join(str(v.value) for v in values) + "]"


class _Argument(TyperArgument):
    def display_type_rich(self, ctx: Any) -> str | None:
        return None  # the name column shows the metavar already

    def _usage_display_name(self) -> str:
        name = self.display_name_raw
        return name if self.required else f"[{name}]"


class _Option(TyperOption):
    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        if self.metavar is None and self.type_descriptor.is_choice:
            return choices(self.type_descriptor.choices or ())
        return super().display_type_rich(ctx)


class _Named:
    """Parameters, the help option included, that show names instead of types."""

    params: list[Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            _named(param)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            _named(option)
        return option


class Command(_Named, TyperCommand):
    """A Typer command whose help names values (see the module's docstring)."""


class Group(_Named, TyperGroup):
    """The ``retcalc`` group, with the same help."""


def _named(param: Any) -> None:
    # Typer builds its own parameter objects and takes no class for them; the two
    # subclasses above change only how help shows a value.
    if type(param) is TyperArgument:
        param.__class__ = _Argument
    elif type(param) is TyperOption:
        param.__class__ = _Option
