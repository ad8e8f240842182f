"""Where the test suite spends its processor time: each test file alone, its CPU and wall time.

    .venv/bin/python benchmarks/suite_cpu.py [--jobs 2] [FILE ...]

Runs each file of tests/ (or the ones given) in a pytest of its own, one worker (``-n 0``),
``--jobs`` of them at a time, and prints the CPU time (user + system, the processes it starts
included) and the wall time of each, the most costly first, then the totals. The suite is
CPU-bound on the 2-core machine: its wall time is about its CPU time over 1.9. Each run also
pays pytest's own start (about 1.2 s), which the suite pays once per worker.

Last run (3 December 2026, 2 jobs, the machine otherwise quiet): 401 s of CPU in all; the most
costly files were test_typing 33 s (two CPU-bound processes while keys are typed, on purpose),
test_hostile_data 32 s, test_contributions 31 s, test_screens 21 s, test_send_faults 20 s,
test_shared_server 20 s.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(path: Path) -> tuple[float, float, bool]:
    """CPU seconds (this run's processes), wall seconds, and whether the file passed."""
    start = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
                                str(path)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)  # its usage and that of the processes it waited for
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime, time.monotonic() - start, process.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    files = args.files or sorted((ROOT / "tests").glob("test_*.py"))
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = dict(zip(files, pool.map(measure, files), strict=True))
    print(f"{'CPU s':>8} {'wall s':>8}  file")
    for path, (cpu, wall, passed) in sorted(results.items(), key=lambda item: -item[1][0]):
        print(f"{cpu:8.1f} {wall:8.1f}  {path.name}{'' if passed else '  (failed)'}")
    print(f"{sum(cpu for cpu, _, _ in results.values()):8.1f} {'':8}  in all "
          f"(own start included: about 1.2 s a file); maximum resident size of one run: "
          f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024} MiB")
    return 0 if all(passed for _, _, passed in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
