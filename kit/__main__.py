"""``python -m kit`` runs the ``sts-kit`` command line."""
import sys

from kit.cli import program

sys.exit(program())
