"""`arithmetic`: the Latent arithmetic page from a terminal: one sum of class means, in latent and in pixel space."""

from __future__ import annotations

import argparse
from pathlib import Path

from gan_core.checkpoints import load_generator
from gan_core.cli.command import Command


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


def cmd_arithmetic(args: argparse.Namespace) -> int:
    import torch

    from gan_core.arithmetic import OPERATIONS, Operand, arithmetic, class_mean_latent, expression
    from gan_core.classifier import ClassifierError
    from gan_core.images import labelled_png, make_grid
    from gan_core.metrics import image_checks

    operation, classes = _operands(args)
    if not 1 <= args.scale <= 16:
        raise ValueError(f"--scale must be between 1 and 16 (got {args.scale})")
    loaded = load_generator(args.source)
    g = loaded.generator
    if args.first_label and not g.num_classes:
        raise ValueError("--first-label is for class-conditional generators: this one is unconditional")
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
    Command("arithmetic", "latent-space vs pixel-space sums of class means (the Latent arithmetic page)",
            _arithmetic_args, cmd_arithmetic),
)
