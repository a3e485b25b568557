"""Write a container image as a `docker save` tar, from directories, one layer each.

The local cluster's real node has no registry: its images are built here and
imported with `ctr images import`, which takes this format (what `docker save`
writes). Layers shared by several images (a Debian root filesystem, Node.js,
the installed node_modules) are written byte-for-byte alike, so containerd
stores each once.

    python3 image_tar.py --tag localhost/store-provisioner/x:1 --out x.tar \\
        --layer base-dir --layer app-dir [--entrypoint /bin/sh] [--cmd ...] \\
        [--env NAME=value] [--user 1000:1000] [--workdir /opt/app] [--label k=v] [--stop-signal SIGINT]

A layer directory is taken as the root of the image's file system. Owners and
modes come from the directory as it is (numeric ids); times are clamped so the
same files give the same layer digest.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import tarfile
import tempfile
from pathlib import Path

# Files newer than this are written with this time: a rebuild of the same
# content gives the same digest, so an unchanged layer is not imported twice.
CLAMP_MTIME = 1_700_000_000


def _normalised(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mtime = min(int(info.mtime), CLAMP_MTIME)
    info.uname = info.gname = ""
    return info


def write_layer(source: Path, out: Path) -> str:
    """Tar `source` (as the image's /) into `out`; returns the layer's sha256."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(source):
            dirnames.sort()
            base = Path(dirpath)
            rel = base.relative_to(source)
            if rel != Path("."):
                tar.add(base, arcname=str(rel), recursive=False, filter=_normalised)
            for name in sorted(filenames):
                tar.add(base / name, arcname=str(rel / name), recursive=False, filter=_normalised)
            # Symbolic links to directories are listed as directories by os.walk
            # but must be stored as links, not followed.
            for name in list(dirnames):
                if (base / name).is_symlink():
                    tar.add(base / name, arcname=str(rel / name), recursive=False, filter=_normalised)
                    dirnames.remove(name)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def build(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(dir=Path(args.out).parent) as tmp:
        work = Path(tmp)
        diff_ids = []
        for index, layer in enumerate(args.layer):
            layer_tar = work / f"layer-{index}.tar"
            digest = write_layer(Path(layer), layer_tar)
            (work / digest).mkdir(exist_ok=True)
            layer_tar.rename(work / digest / "layer.tar")
            diff_ids.append(digest)
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Env": args.env or ["PATH=/usr/local/bin:/usr/bin:/bin"],
                "Entrypoint": args.entrypoint or None,
                "Cmd": args.cmd or None,
                "User": args.user or "",
                "WorkingDir": args.workdir or "",
                "Labels": dict(label.split("=", 1) for label in args.label or []),
                **({"StopSignal": args.stop_signal} if args.stop_signal else {}),
            },
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in diff_ids]},
        }
        config_bytes = json.dumps(config, sort_keys=True).encode()
        config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
        manifest = [{"Config": config_name, "RepoTags": [args.tag], "Layers": [f"{d}/layer.tar" for d in diff_ids]}]
        with tarfile.open(args.out, "w") as out:
            for name, data in ((config_name, config_bytes), ("manifest.json", json.dumps(manifest).encode())):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mtime = CLAMP_MTIME
                out.addfile(info, io.BytesIO(data))
            for digest in diff_ids:
                out.add(work / digest / "layer.tar", arcname=f"{digest}/layer.tar")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--layer", action="append", required=True)
    parser.add_argument("--entrypoint", nargs="+")
    parser.add_argument("--cmd", nargs="+")
    parser.add_argument("--env", action="append")
    parser.add_argument("--user")
    parser.add_argument("--workdir")
    parser.add_argument("--label", action="append")
    parser.add_argument("--stop-signal")
    build(parser.parse_args())


if __name__ == "__main__":
    main()
