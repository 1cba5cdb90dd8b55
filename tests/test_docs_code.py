"""Every Python code block of the getting-started page and the user guide runs.

The user guide continues the getting-started workflow, so the blocks run in
that order in one namespace, as a reader would run them. The extractor's
default of 50 epochs is lowered to 2 here (the code is what is checked, not
the figures, which ``docs/make_figures.py`` makes at full length).
"""

import re
from pathlib import Path

import matplotlib
import pytest

from sklearn_etap import TorchAffinityExtractor

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = ["getting_started.md", "user_guide.md", "data_and_tasks.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks(page):
    return BLOCK.findall((DOCS / page).read_text())


def test_both_pages_have_code_to_run():
    counts = {page: len(python_blocks(page)) for page in PAGES}
    assert all(counts.values()), counts


@pytest.mark.slow
def test_every_python_block_runs(monkeypatch):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setitem(TorchAffinityExtractor.__init__.__kwdefaults__, "max_epochs", 2)
    assert TorchAffinityExtractor().max_epochs == 2  # the patch took
    namespace = {"__name__": "docs"}
    try:
        for page in PAGES:
            for number, code in enumerate(python_blocks(page), start=1):
                try:
                    exec(compile(code, f"{page} block {number}", "exec"), namespace)
                except Exception as exc:
                    raise AssertionError(
                        f"{page}, Python block {number} fails: {exc!r}\n{code}"
                    ) from exc
    finally:
        plt.close("all")
    # The blocks did what the pages say: groups chosen by task name, the
    # displays drawn with the digit names.
    names = set(namespace["data"].task_names)
    assert {t for g in namespace["sel"].group_names_ for t in g} == names
    assert len(namespace["out_of_fold"]) == len(namespace["train"].y)
