"""``python -m lensguard`` runs the CLI."""

from lensguard.cli import main

main()
