"""Every command answers --help."""

from __future__ import annotations

from typer.testing import CliRunner

from crosspan.cli.main import app

runner = CliRunner()


def test_root_help_lists_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert "crosspan" in result.stdout


def test_every_command_has_help() -> None:
    import click
    import typer.main

    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        paths.append(path)
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])

    walk(root, [])
    assert len(paths) >= 1
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output
