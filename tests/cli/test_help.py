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
    import typer.main

    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(cmd: object, path: list[str]) -> None:
        paths.append(path)
        commands = getattr(cmd, "commands", None)
        if commands:
            for name, sub in commands.items():
                walk(sub, [*path, name])

    walk(root, [])
    assert len(paths) >= 1
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output
