"""The declared dependencies: scikit-learn is bounded above by the newest minor
release the suite was run on, and the installed one (what the suite checks)
lies within the declared range."""

import re
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _requirement(name):
    # pyproject.toml read as text: tomllib is Python 3.11+, the package 3.10+.
    # The first requirement of that name is the one in [project] dependencies.
    text = PYPROJECT.read_text()
    return Requirement(re.search(rf'"({re.escape(name)}\s*[<>=!~][^"]*)"', text)[1])


def test_scikit_learn_has_an_upper_bound_on_an_untested_minor():
    specifier = _requirement("scikit-learn").specifier
    upper = [s for s in specifier if s.operator == "<"]
    assert upper, "scikit-learn needs an upper bound: its private APIs move"
    bound = Version(upper[0].version)
    # The bound excludes a whole minor release, not a patch of a tested one.
    assert bound.micro == 0 and len(bound.release) <= 3


def test_the_installed_scikit_learn_is_within_the_declared_range():
    installed = version("scikit-learn")
    assert _requirement("scikit-learn").specifier.contains(installed), installed
