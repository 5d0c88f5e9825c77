"""`python -m genjobs_client` runs the `genjobs` command line."""

from genjobs_client.cli import run

run()
