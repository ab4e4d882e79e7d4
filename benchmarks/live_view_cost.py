"""What watching costs: training throughput with the Train page's Live tab open in a browser, against no browser.

    .venv/bin/python benchmarks/live_view_cost.py [--seconds 60] [--rounds 2] [--warmup 30] [--tab Checkpoints]

Starts `streamlit run app.py` on a free local port with a temporary runs folder, opens the Train page in headless
Chromium (Debian's /usr/bin/chromium, driven by playwright), presses Start with the defaults, then alternates
phases: the Live tab open in the browser, and the browser closed. Each phase counts the steps the run adds to
metrics.csv over `--seconds` of wall-clock time, so every cost of watching is in it: the page's refreshes, the
server's work for them and the browser's own CPU. Run it on an otherwise idle machine. `--tab Checkpoints` watches
that tab instead (its list refreshes while a run is active) after pressing Start on the Live tab.

Each phase also says where the CPU time went: Chromium's processes, and the server's threads other than the two
busiest, which are the run's (its Python thread and the second OpenMP thread of a 2-core run): the share of a core
the server spent on the page itself.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.served import streamlit_server  # noqa: E402  (the server the browser tests open)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@contextlib.contextmanager
def serve_app() -> Iterator[tuple[str, Path, subprocess.Popen]]:
    """`streamlit run app.py` on a free local port with a temporary runs folder: (url, runs folder, process);
    stopped at the end. The server the browser tests open (tests/served.py), its log in the same folder."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        runs.mkdir()
        with streamlit_server(runs, Path(tmp) / "streamlit.log") as (url, server):
            yield url, runs, server


def _last_step(runs: Path) -> tuple[int, int]:
    """(last logged step, batch size) of the one run in `runs`."""
    csvs = list(runs.glob("*/metrics.csv"))
    if not csvs:
        return 0, 0
    lines = csvs[0].read_text().strip().splitlines()
    head = lines[0].split(",")
    step = int(float(lines[-1].split(",")[head.index("step")])) if len(lines) > 1 else 0
    batch = int(json.loads((csvs[0].parent / "config.json").read_text())["batch_size"])
    return step, batch


def _cpu_s(stats: list[Path], name_has: str = "") -> dict[str, float]:
    """CPU seconds used so far (user + system) by each of these /proc stat files whose name contains `name_has`."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for stat in stats:
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        if name_has in name:
            used[str(stat)] = (int(rest[11]) + int(rest[12])) / tick
    return used


def _browser_cpu_s() -> float:
    """CPU seconds used so far by every Chromium process, from /proc."""
    return sum(_cpu_s(list(Path("/proc").glob("[0-9]*/stat")), "chrom").values())


def _server_threads_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds used so far by each thread of the server's process."""
    return _cpu_s(list(Path(f"/proc/{pid}/task").glob("*/stat")))


def _phase(runs: Path, seconds: float, server: int) -> tuple[float, int, float, float]:
    """(steps per second, batch size, share of one core the browser used, share of one core the server's threads
    other than the two busiest used) over `seconds`."""
    s0, batch = _last_step(runs)
    c0, t0 = _browser_cpu_s(), _server_threads_cpu_s(server)
    time.sleep(seconds)
    s1, _ = _last_step(runs)
    c1, t1 = _browser_cpu_s(), _server_threads_cpu_s(server)
    used = sorted((t1[k] - t0.get(k, 0.0) for k in t1), reverse=True)
    # Renderer processes that exit during the phase take their counters with them: count no less than nothing.
    return (s1 - s0) / seconds, batch, max(0.0, c1 - c0) / seconds, sum(used[2:]) / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    ap.add_argument("--rounds", type=int, default=2, help="pairs of (Live tab open, no browser) phases")
    ap.add_argument("--warmup", type=float, default=60.0, help="seconds after Start before measuring")
    ap.add_argument("--screenshot", metavar="PNG", help="save the Live tab as the warm-up ends (what a person sees "
                                                         "that long after pressing Start)")
    ap.add_argument("--tab", choices=("Live", "Checkpoints"), default="Live", help="the Train page's tab watched")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    watched = f"{args.tab} tab open"

    rows: list[tuple[str, float]] = []
    with serve_app() as (url, runs, server), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def open_live() -> object:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(url)  # the root first: a fresh server's first deep link skips app.py (streamlit#9624)
            page.get_by_test_id("stSidebar").wait_for()
            page.goto(f"{url}/train")
            return page

        def open_tab(page: object) -> None:
            """The watched tab, once the Live tab shows the run (the page opens on it while a run is active)."""
            page.get_by_text("Drawn by").first.wait_for()
            if args.tab != "Live":
                page.get_by_role("tab", name=args.tab).click()
                page.get_by_text("epochs planned").first.wait_for()

        page = open_live()
        page.get_by_role("button", name="Start training").click()
        started = time.monotonic()
        print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.2f} at start; phases of {args.seconds:.0f} s; {watched}", flush=True)
        open_tab(page)
        time.sleep(max(0.0, args.warmup - (time.monotonic() - started)))
        if args.screenshot:
            page.screenshot(path=args.screenshot, full_page=True)
            print(f"# {args.screenshot}: the Live tab {args.warmup:.0f} s after Start", flush=True)
        for _ in range(args.rounds):
            for phase in (watched, "no browser"):
                rate, batch, cpu, rest = _phase(runs, args.seconds, server.pid)
                rows.append((phase, rate * batch))
                print(f"{phase:22s} {rate * batch:8.0f} images/s   browser {cpu:5.1%} of a core   server "
                      f"beside the run {rest:5.1%} of a core", flush=True)
                if phase == watched:
                    page.close()
            page = open_live()
            open_tab(page)
        browser.close()
    live = [r for k, r in rows if k == watched]
    none = [r for k, r in rows if k == "no browser"]
    if live and none:
        ratio = sum(live) / len(live) / (sum(none) / len(none))
        # Each round's own ratio too: the host's speed drifts by a third within minutes, and a round's two phases
        # are the closest in time; their median is less moved by one slow phase than the ratio of the means.
        rounds = sorted(a / b for a, b in zip(live, none, strict=False) if b)
        print(f"watching keeps {ratio:.0%} of the throughput without a browser (cost {1 - ratio:.0%}); each "
              f"round's ratio: median {statistics.median(rounds):.0%} [{rounds[0]:.0%}, {rounds[-1]:.0%}]; "
              f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
