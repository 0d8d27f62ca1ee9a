"""Command-line usage mistakes (a missing argument, an unknown option or command, a bad option value)
turned into click's usage line plus one ``error:`` message, exit code 2.

The typer app runs with ``standalone_mode=False`` so that :class:`~tuneforge.errors.TuneforgeError`
reaches ``main``; click's own exceptions then reach it too, and without this module they end in a
traceback. Typer may ship its own copy of click, so the exception classes are looked up from typer
itself rather than imported from ``click``.

Example::

    try:
        app(args=argv, standalone_mode=False, prog_name="tuneforge")
    except USAGE_ERRORS as e:
        return show_usage_error(e, err_console)
"""
from __future__ import annotations

import re
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from .registry import did_you_mean


def _click_classes(name: str) -> tuple[type, ...]:
    """``name`` (e.g. "UsageError") from typer's click and, if installed and different, from click."""
    found = [c for c in typer.BadParameter.__mro__ if c.__name__ == name]
    try:
        import click.exceptions as real
        found.append(getattr(real, name))
    except (ImportError, AttributeError):
        pass
    return tuple(dict.fromkeys(found))


USAGE_ERRORS: tuple[type, ...] = _click_classes("UsageError")
CLICK_ERRORS: tuple[type, ...] = _click_classes("ClickException")  # e.g. FileError, not a usage mistake


def usage_message(e: Any) -> str:
    """One sentence for a click usage error, with a "did you mean" for a near-miss option or command."""
    kind = type(e).__name__
    if kind == "NoSuchOption":
        hint = did_you_mean(e.option_name, e.possibilities or [])
        if not hint and e.ctx is not None:
            hint = did_you_mean(e.option_name, _option_names(e.ctx.command))
        known = ", ".join(sorted(_option_names(e.ctx.command))) if e.ctx is not None else ""
        return f"no such option: {e.option_name}{hint}" + (f"; options: {known}" if known else "")
    if kind == "MissingParameter" and getattr(e, "param", None) is not None \
            and getattr(e.param, "param_type_name", "") == "argument":  # worded alike in every click version
        return f"missing argument {e.param.human_readable_name.upper()}"
    message = e.format_message()
    extra = re.search(r"unexpected extra arguments?\s*\((.*)\)", message, flags=re.S)
    if extra:  # "argument" / "argument(s)" / "arguments" differ between click versions
        return f"unexpected extra argument(s): {extra.group(1)}"
    if message.startswith("No such command") and e.ctx is not None:  # (its class differs between click versions)
        commands = list(getattr(e.ctx.command, "commands", {}))
        name = message.split("'")[1] if message.count("'") >= 2 else ""
        message = f"no such command {name!r}{did_you_mean(name, commands)}; commands: {', '.join(commands)}"
    return message


def show_usage_error(e: Any, console: Console) -> int:
    """Print the usage line, one ``error:`` line and where to find help; return the exit code 2."""
    ctx = getattr(e, "ctx", None)
    if type(e).__name__ == "NoArgsIsHelpError":  # bare ``tuneforge``: typer's help (printed on creation)
        e.show()
        return 2
    if ctx is not None:
        console.print(escape(ctx.get_usage()), highlight=False, soft_wrap=True)
    console.print(f"[bold red]error:[/bold red] {escape(usage_message(e))}", highlight=False, soft_wrap=True)
    if ctx is not None:
        console.print(f"(see: {escape(ctx.command_path)} --help)", highlight=False, soft_wrap=True)
    return 2


def _option_names(command: Any) -> list[str]:
    return [o for p in getattr(command, "params", []) if getattr(p, "param_type_name", "") == "option"
            for o in p.opts]
