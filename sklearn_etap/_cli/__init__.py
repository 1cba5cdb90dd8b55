"""The ``etap`` command line (``etap run``; also ``python -m sklearn_etap``)."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
