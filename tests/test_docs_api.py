"""The documentation's API reference lists every public name."""

import re
from pathlib import Path

import sklearn_etap
import sklearn_etap.callbacks
import sklearn_etap.datasets
import sklearn_etap.lightning

API = Path(__file__).resolve().parents[1] / "docs" / "api.rst"


def test_api_reference_lists_every_public_name():
    listed = set(re.findall(r"^   (\w+)$", API.read_text(), flags=re.M))
    public = (
        set(sklearn_etap.__all__)
        | set(sklearn_etap.datasets.__all__)
        | set(sklearn_etap.callbacks.__all__)
        | set(sklearn_etap.lightning.__all__)
    )
    assert public - listed == set(), "add them to docs/api.rst"
    assert listed - public == set(), "docs/api.rst lists names that are not public"
