"""Subcommands of the ``plasmatrack`` CLI: each module has ``configure_parser`` and ``run``."""
