"""``outlast`` commands as ``manage.py`` commands, with Django's settings as defaults.

The click command does the work, with the same options and the same checks; this builds
the argparse parser Django wants from the click options, and hands the options given back
to click as a command line. So ``manage.py outlast_worker --help`` lists exactly what
``outlast worker --help`` does, and ``call_command("outlast_worker", concurrency=2)`` works.
"""

from __future__ import annotations

import argparse
from typing import Any

import click
from django.core.management.base import BaseCommand, CommandError, CommandParser

from outlast.errors import OutlastError

from . import conf


class ClickCommand(BaseCommand):  # type: ignore[misc]  # Django has no types
    """A Django command running ``click_command``; ``--database-url`` and ``--env``
    default to ``settings.OUTLAST``'s."""

    click_command: click.Command
    requires_system_checks: list[str] = []  # as `outlast …`: no Django check to wait for

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # the click command's --version (the code's version) replaces Django's
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve",
                                     **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        self.help = self.click_command.help or ""
        for param in self.click_command.params:
            if isinstance(param, click.Option) and not param.hidden:
                parser.add_argument(*param.opts, dest=param.name, **_argparse_kwargs(param))

    def handle(self, *args: Any, **options: Any) -> None:
        argv = self.click_argv(options)
        try:
            self.click_command.main(args=argv, prog_name=f"manage.py {self.name()}",
                                    standalone_mode=False)
        except click.ClickException as exc:
            raise CommandError(exc.format_message()) from exc
        except OutlastError as exc:
            raise CommandError(exc.message) from exc

    def name(self) -> str:
        return type(self).__module__.rsplit(".", 1)[-1]

    def click_argv(self, options: dict[str, Any]) -> list[str]:
        """The options given, as a command line, with the settings' defaults added."""
        settings = conf.read()
        names = {p.name for p in self.click_command.params}
        if options.get("database_url") is None and "database_url" in names:
            options["database_url"] = settings.database_url
        if options.get("environment") is None and "environment" in names:
            options["environment"] = settings.environment
        argv: list[str] = []
        for param in self.click_command.params:
            if isinstance(param, click.Option):
                argv += _click_args(param, options.get(param.name or ""))
        return argv


def _argparse_kwargs(param: click.Option) -> dict[str, Any]:
    """Every value as text (click converts and checks it); a flag is a flag."""
    kwargs: dict[str, Any] = {"help": param.help or argparse.SUPPRESS,
                              "default": None}
    if param.is_flag:
        kwargs.update(action="store_true", default=False)
    elif param.multiple:
        kwargs.update(action="append", metavar=param.metavar)
    else:
        kwargs.update(metavar=param.metavar)
    if isinstance(param.type, click.Choice):
        kwargs["choices"] = list(param.type.choices)
    return kwargs


def _click_args(param: click.Option, value: Any) -> list[str]:
    if value is None or value is False or value == []:
        return []
    flag = max(param.opts, key=len)
    if param.is_flag:
        return [flag]
    values = value if param.multiple and isinstance(value, list | tuple) else [value]
    return [arg for v in values for arg in (flag, str(v))]
