"""`sample`, `info`, `presets` and `export`: what a generator makes, how it is built, and shipping one."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gan_core.cards import card_path, checks_text, write_card
from gan_core.checkpoints import export_card, generator_bytes, load_generator, resolve_weights_path
from gan_core.cli.command import Command
from gan_core.cli.train import add_config_flags, config_from_args
from gan_core.data import CLASS_NAMES, class_index
from gan_core.paths import atomic_write_bytes
from gan_core.presets import PRESETS

if TYPE_CHECKING:
    import torch

    from gan_core.sampling import SampleRequest


# ----------------------------------------------------------------------------- sample
def _sample_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="run folder, checkpoint or generator .safetensors file")
    p.add_argument("--n", type=int, default=64, help="number of images (1-10000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--class", dest="cls", default=None, help="class name or index (conditional generators)")
    p.add_argument("--by-class", action="store_true", help="class-by-row grid (conditional generators)")
    p.add_argument("--by-code", action="store_true",
                   help="InfoGAN-code-by-row grid, columns sharing z (generators with info_codes)")
    p.add_argument("--nrow", type=int, default=None, help="images per row")
    p.add_argument("--scale", type=int, default=2, help="pixel upscaling of the PNG")
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                   help="scale z toward the mean latent by PSI in (0, 1]: lower trades diversity for quality")
    p.add_argument("--interpolate", type=int, default=None, metavar="SEED_B",
                   help="a strip of --n images from z(--seed) to z(SEED_B) along a great circle (the Sample page's)")
    p.add_argument("--to-class", default=None, metavar="CLASS",
                   help="with --interpolate, conditional generators: blend the label from --class into this class")
    p.add_argument("--out", default="samples.png")


def cmd_sample(args: argparse.Namespace) -> int:
    from gan_core.images import check_scale, make_grid, png_bytes
    from gan_core.sampling import check_truncation, sample_images

    if args.by_class and args.by_code:
        raise ValueError("--by-class and --by-code each make a whole grid: pick one")
    check_truncation(args.truncation)
    if args.truncation != 1.0 and (args.by_class or args.by_code):
        raise ValueError("--truncation applies to plain sampling, not to --by-class or --by-code grids")
    if args.interpolate is not None and (args.by_class or args.by_code or args.truncation != 1.0):
        raise ValueError("--interpolate makes its own strip: leave out --by-class, --by-code and --truncation")
    if args.to_class is not None and args.interpolate is None:
        raise ValueError("--to-class blends the label along an interpolation: give --interpolate SEED_B too")
    check_scale(args.scale)
    loaded = load_generator(args.source)
    g = loaded.generator
    if args.interpolate is not None:
        if not 2 <= args.n <= 100:
            raise ValueError(f"an interpolation strip has 2 to 100 images (--n, got {args.n})")
        if not g.num_classes and (args.cls is not None or args.to_class is not None):
            raise ValueError("this generator is unconditional: it cannot be asked for a class (--class, --to-class)")
    drawn = sample_images(g, _request(args))
    images, start = drawn.images, drawn.label
    nrow = drawn.nrow if args.by_class or args.by_code else args.nrow or drawn.nrow
    if args.by_code:
        _print_code_rows(images, g.cfg.info_codes)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png_bytes(make_grid(images, nrow=nrow), scale=args.scale))
    how = f", truncation ψ = {args.truncation:g}" if args.truncation != 1.0 else ""
    if args.interpolate is not None:
        how = f", z(seed {args.seed}) → z(seed {args.interpolate})"
        if g.num_classes:
            a, b = CLASS_NAMES[class_index(start)], CLASS_NAMES[class_index(args.to_class or start)]
            how += f", class {a}" if a == b else f", the label blended from {a} to {b}"
    print(f"wrote {out} ({len(images)} images from {loaded.path}{how})")
    return 0


def _request(args: argparse.Namespace) -> SampleRequest:
    """The flags as a request of `gan_core.sampling.sample_images`, the Sample page's modes."""
    from gan_core.sampling import SampleRequest

    mode = ("interpolate" if args.interpolate is not None else "grid" if args.by_class else "codes" if args.by_code
            else "one" if args.cls is not None else "mixed")
    seed_b = args.interpolate if args.interpolate is not None else 1
    return SampleRequest(mode, args.n, args.seed, args.cls, args.truncation, seed_b, args.to_class)


def _print_code_rows(images: torch.Tensor, rows: int) -> None:
    """What the classifier calls each row of a code grid: which class, if any, each code learned."""
    from gan_core.classifier import ClassifierError
    from gan_core.sampling import code_rows_classes

    try:
        majorities = code_rows_classes(images, rows)
    except ClassifierError as exc:
        print(f"(what each code makes could not be read: {exc})")
        return
    per_row = len(images) // rows
    for r, (c, m) in enumerate(majorities):
        print(f"code {r}: {CLASS_NAMES[c]} in {m} of {per_row}")


# ----------------------------------------------------------------------------- info
def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", nargs="?", help="optional: a run, checkpoint or weights file instead of a config")
    add_config_flags(p)


def cmd_info(args: argparse.Namespace) -> int:
    from gan_core.models import build_discriminator, build_generator, summarize

    if args.source:
        loaded = load_generator(args.source, with_discriminator=False)
        model = loaded.model
    else:
        model = config_from_args(args).model_config()
    g, d = build_generator(model), build_discriminator(model)
    sg, sd = summarize(g), summarize(d)
    print(f"architecture: {model.arch}  latent: {model.latent_dim}  conditional: {model.conditional}")
    print(sg.to_text())
    print()
    print(sd.to_text())
    print(f"\nDiscriminator / generator size: {sd.total / sg.total:.1%}")
    return 0


# ----------------------------------------------------------------------------- presets
def _presets_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true", help="also print each preset's fields")


def cmd_presets(args: argparse.Namespace) -> int:
    for p in PRESETS.values():
        print(f"{p.name:<22} {p.description}")
        print(f"{'':<22} report {p.report}; observed: {p.observed}")
        if args.verbose:
            print(f"{'':<22} {json.dumps(p.fields)}")
    return 0


# ----------------------------------------------------------------------------- export
EXPORT_SUFFIXES = {".safetensors": "this app's weights format (the app and `python -m gan_core` load it)",
                   ".onnx": "ONNX, for onnxruntime and other runtimes, no PyTorch needed"}


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder, checkpoint or generator .safetensors file")
    p.add_argument("--out", required=True,
                   help="destination: a .safetensors file (this app's format) or a .onnx file (any ONNX runtime); "
                        "the model card goes beside it as the same name with .json")
    p.add_argument("--command-line", default="", help="the command that trained it, for the model card")
    p.add_argument("--evaluate", type=int, default=0, metavar="N",
                   help="evaluate N samples (with the real-data floor) into the card; needs the shipped classifier")
    p.add_argument("--baseline", default=None, metavar="CHECKPOINT",
                   help="checkpoint after 1 epoch: the card compares FID against it")


def cmd_export(args: argparse.Namespace) -> int:
    """Write a run's generator (EMA weights if any) as a .safetensors or .onnx file with a model card beside it."""
    from gan_core import onnx_export

    out = Path(args.out)
    if out.suffix not in EXPORT_SUFFIXES:  # the card goes beside it as NAME.json: never over the weights
        kinds = "; ".join(f"{suffix}: {what}" for suffix, what in EXPORT_SUFFIXES.items())
        raise ValueError(f"--out must name a .safetensors file or a .onnx file (got {args.out}): {kinds}. The model "
                         "card is written beside it as the same name with .json")
    _check_out(resolve_weights_path(args.run), out)
    onnx = out.suffix == ".onnx"
    if onnx and onnx_export.missing_packages():
        print(f"error: {onnx_export.install_hint(onnx_export.missing_packages())}", file=sys.stderr)
        return 2
    loaded = load_generator(args.run)
    exported = onnx_export.export_onnx(loaded, out.stem, args.command_line) if onnx else None
    card = exported.card if exported else export_card(loaded, out.stem, args.command_line)
    if args.evaluate:
        card.update(_evaluation_card(loaded, args))
    atomic_write_bytes(out, exported.model if exported else generator_bytes(loaded.generator, card))
    card_file = write_card(out, card)
    print(f"wrote {out} and its card {card_file}"
          + (f" (checked in onnxruntime: at most {card['onnx']['checked']['max_abs_difference']:.1e} from the "
             "library's images)" if onnx else ""))
    if card.get("quality_bar"):
        print(checks_text(card["quality_bar"]))
    return 0


def _check_out(source: Path, out: Path) -> None:
    """Refuse an --out whose file or card would land on the generator it exports or on that file's card."""
    theirs = {source.resolve(): "the source itself", card_path(source).resolve(): "the source's model card"}
    for path, what in ((out, "file"), (card_path(out), "model card")):
        if path.resolve() in theirs:
            raise ValueError(f"--out {out}: its {what} {path} would overwrite {theirs[path.resolve()]} ({source}); "
                             "pick another name or folder for the export")


def _evaluation_card(loaded: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Metrics of the exported generator with the real-data floor, and the quality bar checks."""
    from gan_core import metrics
    from gan_core.cards import quality_checks, trained_classes

    classes = trained_classes(loaded)
    t0 = time.time()
    report = metrics.evaluate_generator(loaded.generator, n=args.evaluate, seed=0, classes=classes, label=Path(args.out).stem)
    floor = metrics.real_floor(classes, n=args.evaluate)
    baseline = None
    if args.baseline:
        base = load_generator(args.baseline)
        baseline = metrics.evaluate_generator(base.generator, n=args.evaluate, seed=0, classes=classes,
                                              label=f"step {base.step}")
    print(report.table(floor))
    out: dict[str, Any] = {
        "metrics": report.to_dict(),
        "real_data_floor": floor.to_dict(),
        "evaluation_seconds": round(time.time() - t0, 1),
        "quality_bar": quality_checks(report.to_dict()),
    }
    if baseline is not None:
        out["baseline_after_1_epoch"] = {"checkpoint": str(args.baseline), "step": base.step, "fid": baseline.fid}
    return out


COMMANDS = (
    Command("sample", "write a PNG grid from a run, checkpoint or weights file", _sample_args, cmd_sample),
    Command("info", "print the Keras-style layer tables of G and D", _info_args, cmd_info),
    Command("presets", "list the named presets", _presets_args, cmd_presets),
    Command("export", "export a generator as a weights file or as ONNX, with a model card", _export_args, cmd_export),
)
