"""Small modules with one purpose each: none grows past 400 lines unnoticed."""

from pathlib import Path

import pytest

import sklearn_etap

PACKAGE = Path(sklearn_etap.__file__).parent
MAX_LINES = 400
MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_package_has_modules():
    assert len(MODULES) > 20


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_is_under_the_line_limit(path):
    n_lines = len(path.read_text(encoding="utf-8").splitlines())
    assert n_lines < MAX_LINES, f"{path.relative_to(PACKAGE)} has {n_lines} lines"
