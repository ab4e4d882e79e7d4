"""`arithmetic`: the Latent arithmetic page from a terminal: one sum, in latent and in pixel space.

The operands are class means (`--preset`, or `--op` with `--classes`), or real garments projected by `project`
(`--op` with `--latents`), whose pixel sum takes the real images themselves.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from gan_core.checkpoints import load_generator
from gan_core.cli.command import Command
from gan_core.data import CLASS_NAMES

if TYPE_CHECKING:
    from gan_core.arithmetic import ArithmeticResult
    from gan_core.models import Generator


def _operation(text: str) -> str:
    """An OPERATIONS key, typed with a plain hyphen or the page's minus sign, with or without spaces."""
    from gan_core.arithmetic import OPERATIONS

    wanted = text.replace(" ", "").replace("−", "-")
    for key in OPERATIONS:
        if key.replace(" ", "").replace("−", "-") == wanted:
            return key
    raise argparse.ArgumentTypeError(f"unknown operation {text!r}: choose one of {', '.join(OPERATIONS)}")


def _arithmetic_args(p: argparse.ArgumentParser) -> None:
    from gan_core.arithmetic import OPERATIONS, PRESETS, RESCALINGS

    p.add_argument("source", help="run folder, checkpoint or generator .safetensors file")
    p.add_argument("--preset", default=None, help=f"one of the page's presets: {'; '.join(PRESETS)}")
    p.add_argument("--op", type=_operation, default=None, help=f"the sum, without a preset: {', '.join(OPERATIONS)}")
    p.add_argument("--classes", default=None, metavar="A,B[,C]", help="the operands' classes, comma-separated (with --op)")
    p.add_argument("--latents", default=None, metavar="FILE",
                   help="real garments as the operands: a latents file written by `project` (with --op)")
    p.add_argument("--rows", default=None, metavar="I,J[,K]",
                   help="with --latents: the file's rows used as A, B[, C] (default: its first rows)")
    p.add_argument("--seed", type=int, default=0, help="draws the class means' exemplars")
    p.add_argument("--k", type=int, default=3, help="exemplars averaged per class mean (the DCGAN paper used 3)")
    p.add_argument("--first-label", action="store_true",
                   help="conditional generators: decode the sum with operand A's class alone, not the sum of the classes")
    p.add_argument("--raw", action="store_true", help="do not rescale latents to the typical length before decoding")
    p.add_argument("--rescale", default="minmax", choices=RESCALINGS, help="how the pixel sum is brought back to the image range")
    p.add_argument("--scale", type=int, default=4, help="pixel upscaling of the PNG")
    p.add_argument("--out", default="arithmetic.png")


def _operands(args: argparse.Namespace) -> tuple[str, list[str]]:
    """(operation, one class per operand), from --preset or from --op and --classes."""
    from gan_core.arithmetic import OPERATIONS, PRESETS

    if args.preset is not None:
        if args.op is not None or args.classes is not None:
            raise ValueError("--preset sets the operation and the classes: leave out --op and --classes")
        preset = PRESETS.get(args.preset)
        if preset is None:
            raise ValueError(f"unknown preset {args.preset!r}: choose one of {'; '.join(PRESETS)}")
        return preset.operation, list(preset.classes)
    if args.op is None or args.classes is None:
        raise ValueError("give --preset NAME, or --op and --classes (e.g. --op 'A + B' --classes Sandal,Sneaker)")
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    if len(classes) != len(OPERATIONS[args.op]):
        raise ValueError(f"{args.op} takes {len(OPERATIONS[args.op])} classes, got {len(classes)}: {args.classes!r}")
    return args.op, classes


def _latent_operands(args: argparse.Namespace) -> tuple[str, list[int]]:
    """(operation, the latents file's row for each operand), from --op and --rows."""
    from gan_core.arithmetic import OPERATIONS

    if args.preset is not None or args.classes is not None:
        raise ValueError("--latents takes its operands from the file: leave out --preset and --classes")
    if args.op is None:
        raise ValueError("--latents needs the sum: add --op (e.g. --op 'A - B + C')")
    needed = len(OPERATIONS[args.op])
    if args.rows is None:
        return args.op, list(range(needed))
    try:
        rows = [int(r) for r in args.rows.split(",") if r.strip()]
    except ValueError:
        raise ValueError(f"--rows {args.rows!r}: write the file's row numbers, comma-separated (e.g. 0,2,1)") from None
    if len(rows) != needed:
        raise ValueError(f"{args.op} takes {needed} rows, got {len(rows)}: {args.rows!r}")
    return args.op, rows


def cmd_arithmetic(args: argparse.Namespace) -> int:
    if args.latents is not None:
        return _arithmetic_of_latents(args)
    if args.rows is not None:
        raise ValueError("--rows picks rows of a latents file: give --latents FILE too")
    import torch

    from gan_core.arithmetic import OPERATIONS, Operand, arithmetic, class_mean_latent, expression
    from gan_core.images import labelled_png, make_grid

    operation, classes = _operands(args)
    _check_scale(args)
    loaded = load_generator(args.source)
    g = loaded.generator
    _check_first_label(args, g)
    signs = OPERATIONS[operation]
    operands = [Operand.of_mean(g, class_mean_latent(g, cls, k=args.k, seed=args.seed), sign=s, position=i)
                for i, (s, cls) in enumerate(zip(signs, classes, strict=True))]
    res = arithmetic(g, operands, rescale=args.rescale, renormalize=not args.raw, sum_labels=not args.first_label)
    labels = [operand.heading() for operand in res.operands] + ["= latent space", "= pixel space"]
    grid = make_grid(torch.cat([res.operand_images, res.latent_result, res.pixel_result]), nrow=len(labels))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(labelled_png(grid, scale=args.scale, cell_labels=labels))
    print(f"wrote {out}: {expression(signs)} with {', '.join(classes)}, from {loaded.path}")
    for operand in res.operands:
        print(f"  {operand.name}: {operand.mean.describe()}")
    return _report(res)


def _arithmetic_of_latents(args: argparse.Namespace) -> int:
    """Real garments as operands: G(ẑA − ẑB + ẑC) beside xA − xB + xC, each operand shown real and reconstructed."""
    import torch

    from gan_core.arithmetic import OPERATIONS, Operand, arithmetic, expression
    from gan_core.images import labelled_png, make_grid
    from gan_core.projection import check_latents_fit, decode, read_latents

    operation, rows = _latent_operands(args)
    _check_scale(args)
    file = read_latents(args.latents)
    n = len(file.z)
    if n < len(rows) and args.rows is None:
        raise ValueError(f"{args.latents} holds {n} projected image{'s' * (n != 1)}; {operation} needs "
                         f"{len(rows)}: project more images, or pick an --op with fewer operands")
    for r in rows:
        if not 0 <= r < n:
            raise ValueError(f"--rows: row {r} is outside the file's 0..{n - 1}")
    loaded = load_generator(args.source)
    g = loaded.generator
    _check_first_label(args, g)
    check_latents_fit(file, g)
    signs = OPERATIONS[operation]
    operands = [Operand.of_real(file.z[r], file.targets[r], file.sources[r],
                                label=None if file.labels is None else int(file.labels[r]), sign=s, position=i)
                for i, (s, r) in enumerate(zip(signs, rows, strict=True))]
    res = arithmetic(g, operands, rescale=args.rescale, renormalize=not args.raw, sum_labels=not args.first_label)
    index = torch.tensor(rows)
    recon = decode(g, file.z[index], None if file.labels is None else file.labels[index])
    cells, labels = [], []
    for op, real, rec, r in zip(res.operands, res.pixel_operands, recon, rows, strict=True):
        cells += [real, rec]
        labels += [op.heading(), f"recon. L2 {float(file.error[r]):.2f}"]
    cells += [res.latent_result[0], res.pixel_result[0]]
    labels += ["= latent space", "= pixel space"]
    grid = make_grid(torch.stack(cells), nrow=len(labels))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(labelled_png(grid, scale=args.scale, cell_labels=labels))
    print(f"wrote {out}: {expression(signs)} of projected garments from {args.latents}, decoded by {loaded.path}")
    if file.generator and Path(file.generator).resolve() != Path(loaded.path).resolve():
        print(f"  (the latents were projected with {file.generator}: with another generator they decode to "
              "other images)")
    for op, r in zip(res.operands, rows, strict=True):
        cls = "" if op.label is None else f", decoded as {CLASS_NAMES[op.label]}"
        print(f"  {op.name}: {op.source} (row {r}), its reconstruction at L2 {float(file.error[r]):.2f}{cls}")
    print(f"  latent space: G({res.latent_terms()}); pixel space: {res.pixel_formula()} (the real images)")
    return _report(res)


def _check_scale(args: argparse.Namespace) -> None:
    if not 1 <= args.scale <= 16:
        raise ValueError(f"--scale must be between 1 and 16 (got {args.scale})")


def _check_first_label(args: argparse.Namespace, g: Generator) -> None:
    if args.first_label and not g.num_classes:
        raise ValueError("--first-label is for class-conditional generators: this one is unconditional")


def _report(res: ArithmeticResult) -> int:
    """The result's label and code, the measures of both results and which is more garment-like."""
    import torch

    from gan_core.classifier import ClassifierError
    from gan_core.metrics.checks import image_checks

    if res.label_result is not None:
        how = "the sum of the operands' labels" if res.labels_summed else "operand A's label alone"
        print(f"  the latent result was decoded with {how}: {res.label_terms()}")
    if res.code_result is not None:
        print(f"  the InfoGAN code was summed too: {res.code_terms()}")
    try:
        latent, pixel = image_checks(torch.cat([res.latent_result, res.pixel_result]))
    except (ClassifierError, OSError, ValueError) as exc:  # no classifier, or no training data for the novelty ratio
        print(f"(the results could not be measured: {exc})")
        return 0
    print(f"latent space: {latent.describe()}")
    print(f"pixel space:  {pixel.describe()}")
    print("more garment-like: " + ("neither (both score alike)" if latent.score == pixel.score else
                                   f"the {'latent' if latent.score > pixel.score else 'pixel'}-space result"))
    return 0


COMMANDS = (
    Command("arithmetic", "latent-space vs pixel-space sums of class means or projected garments (the Latent "
            "arithmetic page)",
            _arithmetic_args, cmd_arithmetic),
)
