"""Each command loads what it needs when it runs: ``outlast worker`` starts without the
server that ``outlast dev`` runs or the HTTP client that ``outlast trigger`` uses."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from outlast.cli.main import COMMANDS, cli


def test_help_lists_every_command_in_order() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines()
              if line.startswith("  ")]
    assert listed == list(COMMANDS)


def test_the_worker_command_loads_no_server_or_http_client() -> None:
    code = ("import sys, click; from outlast.cli.main import cli; "
            "cli.get_command(click.Context(cli), 'worker'); print('\\n'.join(sys.modules))")
    loaded = set(subprocess.run([sys.executable, "-c", code], check=True,
                                capture_output=True, text=True).stdout.split())
    assert "outlast.cli.worker" in loaded  # the probe sees what it should
    heavy = ("httpx", "outlast.server", "starlette", "outlast.sdk.client", "outlast.cli.dev")
    assert sorted(m for m in heavy if m in loaded) == []
