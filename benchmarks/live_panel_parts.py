"""Where the browser's share of watching goes: Chromium's CPU with the Train page open on a training run, as parts of
the live panel are switched off in the page.

    .venv/bin/python benchmarks/live_panel_parts.py [--seconds 20] [VARIANT ...]

Starts the app as `live_view_cost.py` does, presses Start with the defaults, waits 30 s, then measures Chromium's
CPU (all its processes, from /proc) over `--seconds` for each variant in turn, on the same page:

    as-is         the page as it is
    stop-poll     the panel's poller stopped (nothing updates any more; what is left is the idle page)
    fetch-only    status.json still fetched every poll, nothing drawn from it
    drop:A,B      the panel's parts A, B (status, grid, curves, sidebar, watch) no longer updated
    reload        reload the page (to undo the variants before it); not measured
    blank         the browser on about:blank

The variants act on `window.__ganStudioFeeds`, the pollers of ui/live_panel.js. Run it on an otherwise idle machine;
the run trains meanwhile, so the figures are the browser's work beside a busy CPU, as a person's would be.
"""

from __future__ import annotations

import argparse
import os
import time

from live_view_cost import CHROMIUM, CHROMIUM_ARGS, _browser_cpu_s, serve_app

SUBS = "Object.values(window.__ganStudioFeeds || {})"
JS = {
    "stop-poll": f"() => {SUBS}.forEach(f => f.subs.clear())",
    "fetch-only": f"() => {SUBS}.forEach(f => {{ f.subs.clear(); f.subs.add({{part: 'none', curves: false, "
                  "update: () => {}}); })",
    "drop": f"parts => {SUBS}.forEach(f => [...f.subs].forEach(s => {{ if (parts.includes(s.part)) "
            "f.subs.delete(s); }))",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each measured variant")
    ap.add_argument("variants", nargs="*", default=["as-is", "stop-poll", "blank"])
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with serve_app() as (url, _, _server), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(url)  # the root first: a fresh server's first deep link skips app.py (streamlit#9624)
        page.get_by_test_id("stSidebar").wait_for()
        page.goto(f"{url}/train")
        page.get_by_role("button", name="Start training").click()
        page.get_by_text("Drawn by").first.wait_for()
        print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.2f}; {args.seconds:.0f} s each", flush=True)
        time.sleep(30)
        for variant in args.variants:
            if variant == "reload":
                page.reload()
                page.get_by_text("Drawn by").first.wait_for()
                time.sleep(5)
                continue
            if variant == "blank":
                page.goto("about:blank")
            elif variant.startswith("drop:"):
                page.evaluate(JS["drop"], variant[5:].split(","))
            elif variant in JS:
                page.evaluate(JS[variant])
            elif variant != "as-is":
                raise SystemExit(f"unknown variant {variant!r}: see --help")
            time.sleep(2)
            c0 = _browser_cpu_s()
            time.sleep(args.seconds)
            print(f"{variant:32s} Chromium {(_browser_cpu_s() - c0) / args.seconds:6.1%} of a core",
                  flush=True)
        browser.close()


if __name__ == "__main__":
    main()
