"""The package version, read by the build backend and by ``optout --version``."""

__version__ = "0.1.0.dev0"
