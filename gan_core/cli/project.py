"""`project`: real garments into a generator's latent space, saved as a latents file for `arithmetic --latents`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from gan_core.checkpoints import load_generator
from gan_core.cli.command import Command
from gan_core.data import CLASS_NAMES, class_index

if TYPE_CHECKING:
    import torch

    from gan_core.models import Generator
    from gan_core.projection import Progress, Projection, ProjectionSettings

MAX_PNG_COLUMNS = 64  # one column per image: wider than this the PNG stops being a picture anyone reads


def _project_args(p: argparse.ArgumentParser) -> None:
    from gan_core.projection import ProjectionSettings

    p.add_argument("weights", help="run folder, checkpoint or generator .safetensors file")
    p.add_argument("--test-index", default=None, metavar="I,J,A-B", help="test-split images, e.g. 0,5-7")
    p.add_argument("--train-index", default=None, metavar="I,J,A-B", help="training-split images, e.g. 3,10-12")
    p.add_argument("--image", nargs="+", default=None, metavar="FILE",
                   help="PNG or JPEG photos of garments, converted as Fashion-MNIST's images were made")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="the latents .safetensors file to write (for `arithmetic --latents`)")
    p.add_argument("--png", default=None, metavar="FILE", help="also write a PNG: the targets above their reconstructions")
    p.add_argument("--seed", type=int, default=0, help="draws the random starts")
    p.add_argument("--steps", type=int, default=ProjectionSettings.steps,
                   help=f"Adam steps per image (default {ProjectionSettings.steps}; fewer is faster and coarser)")
    p.add_argument("--class", dest="cls", default=None, metavar="NAME",
                   help="conditional generators: decode every image as this class (name or index)")
    p.add_argument("--search-class", action="store_true",
                   help="conditional generators: let the projection choose the class of dataset images too, "
                        "instead of using their dataset labels")
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="the Fashion-MNIST folder (default: found as training finds it)")
    p.add_argument("--scale", type=int, default=3, help="pixel upscaling of the PNG")


def _targets(args: argparse.Namespace) -> tuple[torch.Tensor, list[int | None], list[str]]:
    """The images in source order (test, train, files), the dataset label of each (None for a file), their names."""
    import torch

    from gan_core.data import load_split
    from gan_core.projection import dataset_images, parse_indices
    from gan_core.uploads import read_image_file

    xs: list[torch.Tensor] = []
    labels: list[int | None] = []
    sources: list[str] = []
    for split, spec in (("test", args.test_index), ("train", args.train_index)):
        if spec is None:
            continue
        data = load_split(split, data_dir=args.data_dir)
        try:
            indices = parse_indices(spec, len(data))
        except ValueError as exc:
            raise ValueError(f"--{split}-index {spec!r}: {exc}") from None
        x, y, names = dataset_images(data.images, data.labels, split, indices)
        xs.append(x)
        labels += y.tolist()
        sources += names
    for file in args.image or []:
        xs.append(read_image_file(file).tensor())
        labels.append(None)
        sources.append(Path(file).name)
    return torch.cat(xs), labels, sources


def _labels_for(g: Generator, args: argparse.Namespace, dataset_labels: list[int | None]) -> list[int | None]:
    """What each image is decoded as: --class for all, else dataset labels (unless --search-class); None = chosen."""
    if not g.num_classes:
        return [None] * len(dataset_labels)
    if args.cls is not None:
        return [class_index(args.cls)] * len(dataset_labels)
    return [None] * len(dataset_labels) if args.search_class else dataset_labels


class _Reporter:
    """Progress on stderr at most every tenth of the whole job, over the one or two projection calls."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.shown = total, 0, 0

    def __call__(self, p: Progress) -> None:
        tenth = int(10 * (self.done + p.fraction * p.total) / self.total)
        if tenth > self.shown and tenth < 10:
            self.shown = tenth
            print(f"projecting: {10 * tenth}% (step {p.step}/{p.steps}, median L2 so far "
                  f"{float(p.error.median()):.2f})", file=sys.stderr, flush=True)


def _project_groups(g: Generator, x: torch.Tensor, labels: list[int | None], settings: ProjectionSettings
                    ) -> tuple[Projection, list[bool]]:
    """One projection of all images in their order, and whether each label was given.

    `project` takes one labels tensor per call, so images with a label and images whose label the race chooses
    are projected in two calls and put back in source order.
    """
    import torch

    from gan_core.projection import project

    given = [y is not None for y in labels]
    groups = [[i for i, gv in enumerate(given) if gv], [i for i, gv in enumerate(given) if not gv]]
    report = _Reporter(len(x))
    parts: list[tuple[list[int], Projection]] = []
    for rows in groups:
        if not rows:
            continue
        y = torch.tensor([labels[i] for i in rows]) if given[rows[0]] else None
        parts.append((rows, project(g, x[rows], y, settings=settings, progress=report)))
        report.done += len(rows)
    if len(parts) == 1:
        return parts[0][1], given
    order = torch.argsort(torch.tensor(parts[0][0] + parts[1][0]))

    def joined(name: str) -> torch.Tensor | None:
        values = [getattr(proj, name) for _, proj in parts]
        return None if values[0] is None else torch.cat(values)[order]

    first = parts[0][1]
    merged = replace(first, z=joined("z"), labels=joined("labels"), reconstruction=joined("reconstruction"),
                     error=joined("error"), targets=joined("targets"), codes=joined("codes"),
                     seconds=sum(proj.seconds for _, proj in parts), labels_given=all(given))
    return merged, given


def _predicted(images: torch.Tensor) -> list[str] | None:
    """The classifier's class of each reconstruction, or None (after one note) without the classifier."""
    from gan_core.classifier import ClassifierError, load_classifier, predict

    try:
        clf = load_classifier()
    except ClassifierError as exc:
        print(f"(the classifier's reading of the reconstructions is left out: {exc})")
        return None
    return [CLASS_NAMES[int(c)] for c in predict(clf, images)]


def _write_png(path: Path, proj: Projection, sources: list[str], scale: int) -> None:
    """Targets above reconstructions, one column per image, named by source and L2."""
    import torch

    from gan_core.images import labelled_png, make_grid

    n = min(len(proj), MAX_PNG_COLUMNS)
    if n < len(proj):
        print(f"(the PNG shows the first {n} of the {len(proj)} images)")
    grid = make_grid(torch.cat([proj.targets[:n], proj.reconstruction[:n]]), nrow=n)
    labels = [s.replace(" · ", " ") for s in sources[:n]] + [f"L2 {float(e):.2f}" for e in proj.error[:n]]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(labelled_png(grid, scale=scale, row_labels=["real", "G(z)"], cell_labels=labels))


def cmd_project(args: argparse.Namespace) -> int:
    from gan_core.projection import ProjectionSettings, save_latents

    if not 0 <= args.seed < 2**63:
        raise ValueError(f"--seed must be between 0 and 2**63 - 1 (got {args.seed})")
    try:  # the race cannot outlast a short projection
        settings = ProjectionSettings(steps=args.steps, seed=args.seed,
                                      race_steps=min(ProjectionSettings.race_steps, args.steps))
    except ValueError as exc:
        raise ValueError(f"--steps: {exc}") from None
    if args.test_index is None and args.train_index is None and not args.image:
        raise ValueError("nothing to project: give --test-index, --train-index and/or --image "
                         "(e.g. --test-index 0,5-7 or --image coat.jpg)")
    from gan_core.images import check_scale

    check_scale(args.scale)
    out, png = Path(args.out), None if args.png is None else Path(args.png)
    for what, path in (("--out", out), ("--png", png)):
        if path is not None and path.is_dir():
            raise ValueError(f"{what} {path} is a folder: give a file name, e.g. {path / 'latents.safetensors'}")
    if png is not None and png.resolve() == out.resolve():
        raise ValueError("--out and --png name the same file: give the PNG its own name")
    if args.cls is not None and args.search_class:
        raise ValueError("--class gives every image its class and --search-class lets the projection choose: "
                         "pick one")
    if args.cls is not None:
        class_index(args.cls)  # an unknown name fails before the generator and the data are read
    loaded = load_generator(args.weights)
    g = loaded.generator
    if not g.num_classes and (args.cls is not None or args.search_class):
        raise ValueError("this generator is unconditional: it has no class to give (--class) or to search "
                         "(--search-class); leave them out")
    x, dataset_labels, sources = _targets(args)
    labels = _labels_for(g, args, dataset_labels)
    print(f"projecting {len(x)} image{'s' * (len(x) != 1)} into {loaded.path} ({settings.steps} steps each)",
          file=sys.stderr, flush=True)
    proj, given = _project_groups(g, x, labels, settings)
    save_latents(out, proj, sources, str(loaded.path), loaded.model.to_dict())
    predicted = _predicted(proj.reconstruction)
    print("pixel L2 of each reconstruction to its image (pixels in [0, 1], 784 of them):")
    for i, source in enumerate(sources):
        parts = [f"L2 {float(proj.error[i]):.2f}", f"|z| = {float(proj.z_norm[i]):.2f} √d"]
        if proj.labels is not None:
            parts.append(f"as {CLASS_NAMES[int(proj.labels[i])]} ({'given' if given[i] else 'chosen'})")
        if proj.codes is not None:
            parts.append(f"code {int(proj.codes[i])}")
        if predicted is not None:
            parts.append(f"classifier: {predicted[i]}")
        print(f"  {source}: {' · '.join(parts)}")
    print(f"median L2 {float(proj.error.median()):.2f} · {proj.seconds / len(proj):.2f} s per image")
    if png is not None:
        _write_png(png, proj, sources, args.scale)
        print(f"wrote {png}")
    print(f"wrote {out}")
    return 0


COMMANDS = (
    Command("project", "project real garments into a generator's latent space (a latents file for arithmetic)",
            _project_args, cmd_project),
)
