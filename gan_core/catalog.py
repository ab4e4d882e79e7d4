"""Where generators come from: the shipped ones in weights/ and every run's checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gan_core.paths import WEIGHTS_DIR, UnsafeFileError, read_json
from gan_core.runs import list_runs

MAX_CARD_BYTES = 1 << 20  # a model card is a few KB

#: what Sample, Latent arithmetic, Directions and Evaluate open with: the default preset's recipe trained for an hour
#: (class-conditional; its label is part of its latent, so arithmetic and interpolation treat it like z)
DEFAULT_GENERATOR = "dcgan-cond"


@dataclass(frozen=True)
class GeneratorEntry:
    label: str      # what a person picks from
    path: Path
    kind: str       # "shipped" | "checkpoint"
    run: str = ""   # run name for checkpoints
    step: int = 0

    def card(self) -> dict:
        """The JSON model card next to a shipped file ({} when there is none, or it is not a readable JSON object:
        a card is informational, and a damaged one must not take a page down)."""
        try:
            card = read_json(self.path.with_suffix(".json"), MAX_CARD_BYTES)
        except (OSError, UnsafeFileError):
            return {}
        return card if isinstance(card, dict) else {}


def shipped_generators(weights_dir: Path | None = None) -> list[GeneratorEntry]:
    folder = (weights_dir or WEIGHTS_DIR) / "generators"
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    files.sort(key=lambda p: p.stem != DEFAULT_GENERATOR)  # the default first
    return [GeneratorEntry(f"shipped · {p.stem}", p, "shipped") for p in files]


def checkpoint_generators(runs_root: Path | None = None) -> list[GeneratorEntry]:
    out = []
    for run in list_runs(runs_root):
        for step, path in reversed(run.checkpoints()):
            out.append(GeneratorEntry(f"{run.name} · step {step:,}", path, "checkpoint", run.name, step))
    return out


def all_generators(weights_dir: Path | None = None, runs_root: Path | None = None) -> list[GeneratorEntry]:
    return shipped_generators(weights_dir) + checkpoint_generators(runs_root)
