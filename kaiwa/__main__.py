"""`python -m kaiwa`."""

from kaiwa.cli import run

run()
