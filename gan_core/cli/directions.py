"""`directions`: strips of images walking a generator's latent directions (PCA, SeFa or a class difference)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gan_core.checkpoints import load_generator
from gan_core.cli.command import Command
from gan_core.data import CLASS_NAMES, class_index


def _sigmas(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"σ positions are numbers separated by commas (got {text!r})") from None
    if not values:
        raise argparse.ArgumentTypeError("give at least one σ position")
    return values


def _directions_args(p: argparse.ArgumentParser) -> None:
    from gan_core.directions import METHODS

    p.add_argument("source", help="run folder, checkpoint or generator .safetensors file")
    p.add_argument("--method", default="pca", help=f"how directions are found: {' | '.join(METHODS)}")
    p.add_argument("--k", type=int, default=8, help="number of directions (pca, sefa)")
    p.add_argument("--from", dest="src", default=None, metavar="CLASS", help="class method: the class to move away from")
    p.add_argument("--to", dest="dst", default=None, metavar="CLASS", help="class method: the class to move toward")
    p.add_argument("--seed", type=int, default=0, help="seed of the image the strips start from (and of the sampling)")
    p.add_argument("--n", type=int, default=2000, help="latents sampled to find the directions (pca, class)")
    p.add_argument("--class", dest="cls", default=None, help="class a conditional generator draws (default: the first)")
    p.add_argument("--sigmas", type=_sigmas, default=(-3, -2, -1, 0, 1, 2, 3), help="comma-separated σ positions")
    p.add_argument("--scale", type=int, default=3, help="pixel upscaling of the PNG")
    p.add_argument("--out", default="strips.png")
    p.add_argument("--gif", default=None, metavar="PATH", help="also write an animated GIF walking one direction")
    p.add_argument("--gif-direction", type=int, default=1, metavar="I", help="which direction the GIF walks (1-based)")


def cmd_directions(args: argparse.Namespace) -> int:
    from gan_core.arithmetic import seed_latent
    from gan_core.directions import METHODS, find_directions, strips, walk_gif
    from gan_core.images import labelled_png, make_grid

    if args.method not in METHODS:
        raise ValueError(f"unknown direction method {args.method!r}: choose one of {', '.join(METHODS)}")
    if args.method == "class" and (args.src is None or args.dst is None):
        raise ValueError("--method class needs --from CLASS and --to CLASS")
    if not 1 <= args.scale <= 16:
        raise ValueError(f"--scale must be between 1 and 16 (got {args.scale})")
    loaded = load_generator(args.source)
    g = loaded.generator
    classes = (args.src, args.dst) if args.method == "class" else None
    found = find_directions(g, args.method, args.k, seed=args.seed, n=args.n, classes=classes)
    if not 1 <= args.gif_direction <= len(found.vectors):
        raise ValueError(f"--gif-direction must be between 1 and {len(found.vectors)} (got {args.gif_direction})")
    label = args.cls if g.num_classes else None
    if args.cls is not None and not g.num_classes:
        raise ValueError("this generator is unconditional: it cannot be asked for a class (--class)")
    z = seed_latent(g, args.seed)
    images = strips(g, z, found, args.sigmas, label=label)
    grid = make_grid(images, nrow=len(args.sigmas))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(labelled_png(grid, scale=args.scale, row_labels=found.names))
    sig = ", ".join(f"{s:+g}" for s in args.sigmas)
    rows = f"{len(found.vectors)} row{'' if len(found.vectors) == 1 else 's'}"
    print(f"wrote {out}: {rows} ({found.method}), σ = {sig}, from {loaded.path}")
    for i, name in enumerate(found.names, 1):
        print(f"{i}. {name}")
    if g.num_classes:
        print(f"drawn as {CLASS_NAMES[0 if args.cls is None else class_index(args.cls)]}")
    if args.gif:
        gif = Path(args.gif)
        gif.parent.mkdir(parents=True, exist_ok=True)
        i = args.gif_direction - 1
        shift = None if found.code_shift is None else found.code_shift[i]
        gif.write_bytes(walk_gif(g, z, found.vectors[i], label=label, code_shift=shift))
        print(f"wrote {gif}: a walk along {found.names[args.gif_direction - 1]}")
    return 0


COMMANDS = (
    Command("directions", "write strips walking a generator's latent directions (pca, sefa, class)",
            _directions_args, cmd_directions),
)
