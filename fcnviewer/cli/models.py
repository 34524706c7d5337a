"""``fcnviewer models [--json]``: the pretrained catalogue, and which models are already cached.

Reads the torch-free catalogue only (about 0.2 s); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the subcommand."""
    parser = subparsers.add_parser(
        "models",
        help="list the pretrained models that --checkpoint NAME downloads on first use",
        description="The pretrained catalogue: each model's family, classes, training data, URL, size, the hash "
        "its download is checked against, and whether it is already in torch's cache.",
    )
    parser.add_argument("--json", action="store_true", help='print {"models": [...]} (see the README) instead')


def run(args: argparse.Namespace) -> int:
    """Print the catalogue."""
    from fcnviewer.core.catalogue import cache_dir, catalogue

    rows = [entry.to_dict() for entry in catalogue().values()]
    if args.json:
        print(json.dumps({"models": rows}, indent=2))
        return 0
    for row in rows:
        print(describe(row))
    print(f"cache: {cache_dir()}; use one with --checkpoint NAME (view, predict, rf, eval; train --init)")
    return 0


def describe(row: dict) -> str:  # type: ignore[type-arg]
    """A few lines about one entry of ``fcnviewer models --json``."""
    size = "size unknown" if row["size"] is None else f"{'~' if row['size_estimated'] else ''}{row['size']:.0f} MB"
    state = "cached" if row["cached"] else "not downloaded"
    hash_ = row["hash"]
    check = f"{hash_['algorithm']} {hash_['value']}" if hash_ else "none published: not verified"
    return (
        f"{row['name']}  ({row['family']}, {len(row['classes'])} classes, {size}, {state})\n"
        f"    trained on: {row['training_data']}\n"
        f"    url:        {row['url']}\n"
        f"    hash:       {check}  [{row['source']}]"
    )
