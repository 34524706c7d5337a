"""Print each catalogue entry's URL and hash beside what its source says (no network).

torchvision: the imported weight enum (``Weights.url``; the hash is the ``-<sha256 prefix>.pth``
end of its file name, torch.hub's ``HASH_REGEX``) and ``meta["_file_size"]``. pytorch-fcn and
milesial's U-Net: their files in git checkouts (bare or not) given by ``--pytorch-fcn`` and
``--unet``; the line of the URL and of the MD5 is printed. Exit 1 if anything differs.

    python scripts/check_catalogue.py --pytorch-fcn /path/to/pytorch-fcn --unet /path/to/Pytorch-UNet
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from fcnviewer.core.catalogue import PYTORCH_FCN, TORCHVISION_MEMBER, TORCHVISION_WEIGHTS, catalogue

#: The class of each architecture in pytorch-fcn (its download() holds the URL and MD5).
CLASSES = {
    "fcn32s": "class FCN32s",
    "fcn16s": "class FCN16s",
    "fcn8s": "class FCN8s(",
    "fcn8s-atonce": "class FCN8sAtOnce",
}


def git_lines(repo: Path, path: str) -> list[str]:
    """``path``'s lines at the checkout's HEAD."""
    text = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{path}"], capture_output=True, text=True, check=True)
    return text.stdout.splitlines()


def find(lines: list[str], needle: str, start: int = 0) -> int:
    """1-based number of the first line at or after ``start`` that contains ``needle`` (0: none)."""
    return next((i + 1 for i in range(start, len(lines)) if needle in lines[i]), 0)


#: One entry checked: its name, whether it matches, and where its source says so.
Row = tuple[str, bool, str]


def check_torchvision() -> list[Row]:
    import torch
    from torchvision.models import segmentation

    rows = []
    for name, _module, enum, _arch in TORCHVISION_WEIGHTS:
        entry, weights = catalogue()[name], getattr(getattr(segmentation, enum), TORCHVISION_MEMBER)
        prefix = torch.hub.HASH_REGEX.search(weights.url.rsplit("/", 1)[-1]).group(1)
        same = entry.url == weights.url and entry.hash.value == prefix and entry.size_mb == weights.meta["_file_size"]  # type: ignore[union-attr]
        where = f"torchvision {enum}.{TORCHVISION_MEMBER}.url = {weights.url} (HASH_REGEX: {prefix})"
        rows.append((name, same, f"{where}, size {weights.meta['_file_size']}"))
    return rows


def check_pytorch_fcn(repo: Path) -> list[Row]:
    rows = []
    for name, arch, url, md5, where, _miou, _size in PYTORCH_FCN:
        path = f"torchfcn/models/{where.split(':')[0]}"
        lines = git_lines(repo, path)
        start = find(lines, CLASSES[arch])
        url_line, md5_line = find(lines, f"url='{url}'", start), find(lines, f"md5='{md5}'", start)
        entry = catalogue()[name]
        same = bool(url_line and md5_line) and entry.url == url and entry.hash.value == md5  # type: ignore[union-attr]
        cls = CLASSES[arch].removesuffix("(")
        rows.append((name, same, f"pytorch-fcn {path}:{url_line} (url), :{md5_line} (md5), in {cls} (line {start})"))
    return rows


def check_unet(repo: Path) -> list[Row]:
    lines = git_lines(repo, "hubconf.py")
    rows = []
    for name in ("unet_carvana_scale0.5", "unet_carvana_scale1.0"):
        entry = catalogue()[name]
        line = find(lines, f"'{entry.url}'")
        note = "load_state_dict_from_url without check_hash: no hash published, so not verified"
        rows.append((name, bool(line) and entry.hash is None, f"milesial hubconf.py:{line} ({note})"))
    return rows


def report(rows: list[Row]) -> None:
    """One line per entry: OK or DIFF, the URL and hash it holds, and where its source says so."""
    for name, same, where in rows:
        entry = catalogue()[name]
        held = "hash:none" if entry.hash is None else f"{entry.hash.algorithm}:{entry.hash.value}"
        print(f"{'OK ' if same else 'DIFF'} {name}: {entry.url} {held}  <- {where}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pytorch-fcn", type=Path, help="a git checkout (or bare repository) of wkentaro/pytorch-fcn")
    parser.add_argument("--unet", type=Path, help="a git checkout (or bare repository) of milesial/Pytorch-UNet")
    args = parser.parse_args()
    rows = check_torchvision()
    report(rows)
    for repo, check in ((args.pytorch_fcn, check_pytorch_fcn), (args.unet, check_unet)):
        if repo is not None:
            head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
            print(f"# {repo} at {head.strip()}")
            found = check(repo)
            report(found)
            rows += found
    matching = sum(same for _name, same, _where in rows)
    print(f"{matching} of {len(rows)} entries match their source")
    return 0 if matching == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
