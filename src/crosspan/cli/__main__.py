"""``python -m crosspan.cli`` runs the command line."""

from crosspan.cli.main import app

app()
