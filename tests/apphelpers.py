"""What the AppTest files share: a page opened under AppTest, an option picked by its label, the text a page shows,
and where the shared training manager's run stands when a wait for it fails."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
TEXT_KINDS = ("markdown", "caption", "subheader", "success", "info", "warning", "error")


def page(name: str, timeout: float = 60) -> AppTest:
    """pages/<name>.py under AppTest, not run yet; "app" is app.py, the whole app with its navigation."""
    path = ROOT / "app.py" if name == "app" else ROOT / "pages" / f"{name}.py"
    return AppTest.from_file(str(path), default_timeout=timeout)


def rendered(name: str, timeout: float = 60) -> AppTest:
    """The page run once; an exception it raised fails the test here, with its traceback."""
    at = page(name, timeout).run()
    assert not at.exception, at.exception
    return at


def choose(at: AppTest, key: str, label: str, *, prefix: bool = False) -> AppTest:
    """Pick the selectbox option labelled `label` (with `prefix`, the first that starts with it) and rerun.

    Exact by default: "shipped · dcgan" is a prefix of "shipped · dcgan-cond"."""
    box = at.selectbox(key=key)
    options = list(box.options)
    found = [i for i, o in enumerate(options) if (o.startswith(label) if prefix else o == label)]
    assert found, f"no option {label!r} in {key}: {options}"
    return box.select_index(found[0]).run()


def texts(at: AppTest, *kinds: str, sep: str = " ") -> str:
    """The values of the page's elements of these kinds (by default every kind of text in TEXT_KINDS), joined."""
    return sep.join(str(e.value) for kind in kinds or TEXT_KINDS for e in getattr(at, kind))


def run_state() -> str:
    """Where the shared manager's run stands: for the message of a wait that failed."""
    from gan_core.manager import shared_manager

    snap = shared_manager().snapshot()
    return f"status={snap.status}, step={snap.step}, message={snap.message!r}"


def panel(at: AppTest, part: str) -> dict:
    """What the page handed one part of its live panel (ui/live_panel.py): the component's data, whose `initial` is
    the feed's status.json as the page was drawn. AppTest runs no script in the browser, so this is what it can see."""
    found = [json.loads(e.proto.json) for e in at.get("bidi_component")]
    parts = [d for d in found if d.get("part") == part]
    assert parts, f"no live panel part {part!r} in the page (parts: {[d.get('part') for d in found]})"
    return parts[-1]
