"""This process's memory from /proc, and a sampler of its private and file-page peaks.

Shared by the CNN benchmarks' memory measurements (``bench_cnn.py``'s memory
part and ``bench_cnn_memory.py``'s child processes); imports nothing heavy, so
a child can read its memory before it imports torch.
"""

import threading


def status_mb(field="VmRSS"):
    """A memory figure of this process from /proc (MB): ``VmRSS``, ``VmHWM``,
    or the parts ``RssAnon`` (private memory) and ``RssFile`` (mapped file pages)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


class PeakSampler(threading.Thread):
    """Peaks of ``RssAnon`` and ``RssFile`` sampled every 20 ms: ``ru_maxrss``
    counts the pages of a memory-mapped file that were read (the kernel can
    drop them at will) with the private memory, this tells them apart."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peaks = {"RssAnon": 0.0, "RssFile": 0.0}
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.02):
            for field in self.peaks:
                self.peaks[field] = max(self.peaks[field], status_mb(field))
