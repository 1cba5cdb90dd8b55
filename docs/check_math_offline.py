"""Check that the built docs render their formulas with no network.

    python -m sphinx -W -q -b html docs docs/_build/html
    python docs/check_math_offline.py docs/_build/html

Opens every page holding math in headless Chromium with networking off (a
proxy that refuses every connection) and counts MathJax's rendered elements
against the page's math elements. Exits 1 when a page shows raw TeX. Needs
``chromium`` (Debian: ``apt-get install chromium``).
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--proxy-server=127.0.0.1:9",  # nothing listens: any fetch fails
    "--virtual-time-budget=15000",
    "--dump-dom",
]


def main(build):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium not found; install it (apt-get install chromium)")
    failed = 0
    for page in sorted(Path(build).glob("*.html")):
        n_math = len(re.findall(r'class="math', page.read_text()))
        if not n_math:
            continue
        dom = subprocess.run(
            [browser, *FLAGS, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        rendered = dom.count("<mjx-container")
        ok = rendered >= n_math
        failed += not ok
        print(f"{page.name}: {n_math} math element(s), {rendered} rendered offline")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/_build/html")
