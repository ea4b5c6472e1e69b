"""One timed correction under `kaohe serve` (bench/run.py, scenario serve-correction).

Flips one result value of the served content (as setup_correction does for build-correction), then waits
until the running `kaohe serve` has rebuilt the site: its manifest, written last, is a new file and the
in-place update is over (no `.kaohe-updating`). The wall time of this script is the time from saving the
file to the corrected site being in place, including the wait for serve's next look at the files (every
50 ms, serve.POLL_MS). It imports nothing heavy (bench/run.py's flip and the
standard library), so its own start-up is a few tens of milliseconds.

    python bench/serve_probe.py STATE.json CONTENT OUTPUT [SERVE_LOG]

With SERVE_LOG (serve's output), it also prints serve's line about this rebuild (pages re-rendered).
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from run import flip     # bench/run.py, beside this script (it imports only the standard library)

MANIFEST = ".kaohe-manifest.json"
BUSY = ".kaohe-updating"      # write.BUSY: present while kaohe updates the site in place
TIMEOUT = 300.0


def stamp(path: Path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def main(state_path: str, content: str, output: str, log: str | None = None) -> int:
    state = json.loads(Path(state_path).read_text("utf-8"))
    manifest = Path(output) / MANIFEST
    before = stamp(manifest)
    cells = flip(Path(content), state)
    start = time.perf_counter()
    while time.perf_counter() - start < TIMEOUT:
        now = stamp(manifest)
        # a new manifest, and the update over (the manifest is written last, but at 100,000 units writing
        # its 90 MB takes a while: the file is there before it is whole)
        if now is not None and now != before and not (Path(output) / BUSY).exists():
            took = time.perf_counter() - start
            said = ""
            if log:
                time.sleep(0.05)   # serve prints its line just after the manifest is written
                lines = [line for line in Path(log).read_text("utf-8", errors="replace").splitlines() if "已生成" in line]
                said = ";" + lines[-1] if lines else ""
            print(f"更正后 {took:.3f} 秒,预览中的网站已更新({cells[0]} {cells[1]} = {cells[2]}){said}")
            return 0
        time.sleep(0.005)
    print(f"{TIMEOUT:.0f} 秒内预览中的网站没有更新", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
