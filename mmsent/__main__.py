"""Command line: python -m mmsent {info} ..."""

import argparse
import logging
import sys

from . import describe, load_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmsent", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                     description="Emotion and sentiment in video.")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="load a model and print its summary",
                          formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    info.add_argument("--checkpoint", default="default", help="checkpoint folder, or 'default' for the embedded one")
    info.add_argument("--device", default="auto", help="cuda, cpu, ... or auto (CUDA when present)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "info":
        print(describe(load_model(args.checkpoint, device=args.device)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
