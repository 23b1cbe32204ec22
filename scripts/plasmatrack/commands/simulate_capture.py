"""``plasmatrack simulate-capture --out DIR --seed N``: a capture-panel cohort from the
independent generative model of ``plasmatrack.capturesim`` (docs/capturesim.md)."""

from __future__ import annotations

import argparse


def configure_parser(parser: argparse.ArgumentParser) -> None:
    from ..capturesim.__main__ import add_arguments

    add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..capturesim.__main__ import run as run_capturesim

    return run_capturesim(args)
