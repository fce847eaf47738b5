"""``python -m optout``: the command line."""

from optout._cli import command

command()
