"""The report folder appears whole or not at all.

``etap run`` writes its report into a staging folder beside ``--out``
(``.NAME.etap-partial-PID``) and renames it to ``--out`` when every file is
written; a previous report there is swapped out and deleted. A killed run
leaves at most the staging folder, named as unfinished (and, if killed while
swapping, the earlier report being swapped out), which the next run with the
same ``--out`` deletes (once its process is gone). Without
``--cache-dir``, adaptive mode keeps its trainings in the staging folder, not
in ``/tmp``, so a kill leaves nothing elsewhere.

``--out`` is checked before any training: a file there, or a folder holding
anything but an earlier report, is refused rather than overwritten.
"""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from .data import UsageError

#: Files whose presence marks a folder as an earlier ``etap run`` report.
REPORT_MARKERS = ("summary.json", "report.html")
PARTIAL = ".etap-partial-"
#: An earlier report being swapped out by ``publish``.
OLD = ".etap-old-"


def check_out(out):
    """Refuse an ``--out`` that is a file or a folder of other files."""
    given, out = out, Path(out).resolve()
    if out == Path.cwd().resolve() or out == Path(out.anchor):
        raise UsageError(
            f"--out {given}: the report replaces its folder; give a new folder "
            "name, not the current or root folder."
        )
    out = Path(given)
    if out.exists() and not out.is_dir():
        raise UsageError(
            f"--out {out} is a file; the report is a folder: give a new folder "
            "name (or remove the file)."
        )
    if out.is_dir() and any(out.iterdir()):
        if not all((out / name).is_file() for name in REPORT_MARKERS):
            raise UsageError(
                f"--out {out} is a folder holding files that are not an etap "
                "report; give a new or empty folder (an earlier report there is "
                "replaced)."
            )
    if not out.parent.exists():
        raise UsageError(f"--out {out}: the folder {out.parent} does not exist.")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_partials(out):
    """Staging folders, and reports being swapped out, that runs which no
    longer exist left beside ``out``."""
    out = Path(out)
    stale = []
    for kind in (PARTIAL, OLD):
        for path in out.parent.glob(f".{out.name}{kind}*"):
            pid = path.name.rsplit("-", 1)[-1]
            if path.is_dir() and pid.isdigit() and not _alive(int(pid)):
                stale.append(path)
    return stale


@contextmanager
def staged_report(out):
    """Yield a staging folder; on success publish it as ``out``.

    On an exception (an interruption included) the staging folder is
    deleted and ``out`` is left as it was.
    """
    out = Path(out).resolve()
    for path in stale_partials(out):
        shutil.rmtree(path, ignore_errors=True)
    staging = out.parent / f".{out.name}{PARTIAL}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    publish(staging, out)


def publish(staging, out):
    """Put the finished ``staging`` folder in place of ``out``."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}{OLD}{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
