"""A real corpus for benchmarks/curate_e2e.py: the documentation and text files of several versions of
two Python packages, from their source distributions on PyPI.

    python3 benchmarks/package_corpus.py [--corpus /work/bench-e2e/corpus]

Text nobody on this project wrote, with the near duplicates a company's document store has: the same
manual in ten releases, each a little edited, and one manual in two formats (SQLAlchemy ships its
reST sources and the HTML built from them in one archive).

- Django (BSD-3-Clause, docs included): 10 releases from 2.2 to 5.2. Its sdist holds the manual as
  reST in .txt files (docs/), the tests' text fixtures and the templates (.html, Django's own
  template language around HTML).
- SQLAlchemy (MIT, docs included): 8 releases from 1.3 to 2.1. Its sdist holds the manual both as
  reST (doc/build/) and as built HTML pages (doc/*.html), the changelog included: most of the bytes.

Each archive is fetched with pip (`pip download --no-deps --no-binary NAME NAME==VERSION`, the sdist,
never a wheel), checked against the sha256 pinned in ARCHIVES (PyPI's files never change; a mismatch
stops the build), and unpacked into CORPUS/<name>-<version>/ keeping only the files whose suffix has
a text reader in Forge (forge_core/readers/dispatch.py: .txt .text .md .markdown .rst, and .html
.htm .xhtml). The binary and tabular formats Forge also reads (.pdf .docx .eml .jsonl .csv .parquet)
are left out, as are .py sources (no reader): datatrove's chain compared in curate_e2e.py reads text
and HTML only. The manifest (files and bytes per package version and suffix, each archive's sha256)
is written beside the corpus, as corpus-manifest.json, so that the corpus folder holds documents
only, and printed.

Idempotent: an archive already downloaded (right sha256) is not fetched again, and a package version
already unpacked (its marker in CORPUS/../unpacked/, written last, outside the corpus so that Forge
does not ingest it) is not unpacked again. pip needs PyPI (and, to read each sdist's metadata, the
build backend's wheels: setuptools for both); nothing else is fetched. Archives go to
CORPUS/../archives. The first build takes about 3 minutes and ~550 MB of disk (archives 164 MB, the
corpus 12,891 files, 358 MB); a rerun, under a second.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

# package, version, sdist file name (as pip saves it), sha256 of that file. Pinned: the corpus is the same
# on every machine.
ARCHIVES = [
    tuple(line.split())
    for line in """
django      2.2.28  Django-2.2.28.tar.gz      0200b657afbf1bc08003845ddda053c7641b9b24951e52acd51f6abda33a7413
django      3.0.14  Django-3.0.14.tar.gz      d58d8394036db75a81896037d757357e79406e8f68816c3e8a28721c1d9d4c11
django      3.1.14  Django-3.1.14.tar.gz      72a4a5a136a214c39cf016ccdd6b69e2aa08c7479c66d93f3a9b5e4bb9d8a347
django      3.2.25  Django-3.2.25.tar.gz      7ca38a78654aee72378594d63e51636c04b8e28574f5505dff630895b5472777
django      4.0.10  Django-4.0.10.tar.gz      2c2f73c16b11cb272c6d5e3b063f0d1be06f378d8dc6005fbe8542565db659cc
django      4.1.13  Django-4.1.13.tar.gz      94a3f471e833c8f124ee7a2de11e92f633991d975e3fa5bdd91e8abd66426318
django      4.2.16  Django-4.2.16.tar.gz      6f1616c2786c408ce86ab7e10f792b8f15742f7b7b7460243929cb371e7f1dad
django      5.0.9   Django-5.0.9.tar.gz       6333870d342329b60174da3a60dbd302e533f3b0bb0971516750e974a99b5a39
django      5.1.4   Django-5.1.4.tar.gz       de450c09e91879fa5a307f696e57c851955c910a438a35e6b4c895e86bedc82a
django      5.2     Django-5.2.tar.gz         1a47f7a7a3d43ce64570d350e008d2949abe8c7e21737b351b6a1611277c6d89
sqlalchemy  1.3.24  SQLAlchemy-1.3.24.tar.gz  ebbb777cbf9312359b897bf81ba00dae0f5cb69fba2a18265dcc18a6f5ef7519
sqlalchemy  1.4.0   SQLAlchemy-1.4.0.tar.gz   9cfef2ad30c5ee1d494d98f3c55a9ac29ec6d294b70849c541d139e4fe1a74e6
sqlalchemy  1.4.46  SQLAlchemy-1.4.46.tar.gz  6913b8247d8a292ef8315162a51931e2b40ce91681f1b6f18f697045200c4a30
sqlalchemy  1.4.54  sqlalchemy-1.4.54.tar.gz  4470fbed088c35dc20b78a39aaf4ae54fe81790c783b3264872a0224f437c31a
sqlalchemy  2.0.0   SQLAlchemy-2.0.0.tar.gz   92388d03220eda6d744277a4d2cbcbb557509c7f7582215f61f8a04ec264be59
sqlalchemy  2.0.20  SQLAlchemy-2.0.20.tar.gz  ca8a5ff2aa7f3ade6c498aaafce25b1eaeabe4e42b73e25519183e4566a16fc6
sqlalchemy  2.0.36  sqlalchemy-2.0.36.tar.gz  7f2767680b6d2398aea7082e45a774b2b0767b5c8d8ffb9c8b683088ea9b29c5
sqlalchemy  2.1.0   sqlalchemy-2.1.0.tar.gz   37600e4641c435a7e4549f4e6df79d9dfc096bb9712a10dba8925921bc87bc3c
""".strip().splitlines()
]
LICENCES = {"django": "BSD-3-Clause", "sqlalchemy": "MIT"}
# The suffixes Forge reads as text or HTML (forge_core/readers/dispatch.py, READERS).
SUFFIXES = (".txt", ".text", ".md", ".markdown", ".rst", ".html", ".htm", ".xhtml")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(archives: Path, name: str, version: str, filename: str, pinned: str | None) -> tuple[Path, str, bool]:
    """The sdist on disk and its sha256: downloaded with pip unless it is already there."""
    path = archives / filename
    fetched = False
    if not path.exists():
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", name]
        cmd += [f"{name}=={version}", "--dest", str(archives)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not path.exists():
            got = sorted(p.name for p in archives.iterdir())
            sys.exit(
                f"pip download {name}=={version} did not give {filename} (exit {proc.returncode}; in {archives}: "
                f"{got}):\n{proc.stderr[-2000:]}"
            )
        fetched = True
    digest = sha256_of(path)
    if pinned and digest != pinned:
        sys.exit(f"{path}: sha256 {digest}, pinned {pinned} in ARCHIVES: delete the file and rerun, or fix the pin")
    return path, digest, fetched


def members(archive: Path):
    """(path inside the package, bytes) of each regular file with a text suffix, the top folder stripped."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                if not info.is_dir() and PurePosixPath(info.filename).suffix.lower() in SUFFIXES:
                    yield PurePosixPath(*PurePosixPath(info.filename).parts[1:]), z.read(info)
        return
    with tarfile.open(archive) as t:
        for m in t:
            if m.isfile() and PurePosixPath(m.name).suffix.lower() in SUFFIXES:
                yield PurePosixPath(*PurePosixPath(m.name).parts[1:]), t.extractfile(m).read()


def unpack(archive: Path, dest: Path, marker: Path) -> None:
    if marker.exists():
        return
    shutil.rmtree(dest, ignore_errors=True)  # a half-unpacked folder from an interrupted build
    for rel, data in members(archive):
        if not rel.parts or ".." in rel.parts or rel.is_absolute():
            continue  # never write outside dest
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(archive.name + "\n")


def tally(dest: Path) -> dict:
    files: dict[str, int] = {}
    size: dict[str, int] = {}
    for p in dest.rglob("*"):
        if p.is_file():
            s = p.suffix.lower()
            files[s] = files.get(s, 0) + 1
            size[s] = size.get(s, 0) + p.stat().st_size
    return {
        "files": sum(files.values()),
        "bytes": sum(size.values()),
        "by_suffix": {s: [files[s], size[s]] for s in sorted(files)},
    }


def check_suffixes() -> None:
    """Warn when Forge no longer reads one of SUFFIXES (run from Forge's venv to check)."""
    try:
        from forge_core.readers.dispatch import READERS
    except ImportError:
        return
    if missing := [s for s in SUFFIXES if s not in READERS]:
        print(f"WARNING: Forge has no reader for {', '.join(missing)} any more (forge_core/readers/dispatch.py)")


def build(corpus: Path) -> dict:
    archives = corpus.parent / "archives"
    archives.mkdir(parents=True, exist_ok=True)
    corpus.mkdir(parents=True, exist_ok=True)
    check_suffixes()
    rows = []
    for name, version, filename, pinned in ARCHIVES:
        path, digest, fetched = fetch(archives, name, version, filename, pinned)
        dest = corpus / f"{name}-{version}"
        unpack(path, dest, corpus.parent / "unpacked" / dest.name)
        rows.append(
            {
                "package": name,
                "version": version,
                "licence": LICENCES[name],
                "archive": filename,
                "sha256": digest,
                "downloaded": fetched,
                **tally(dest),
            }
        )
    manifest = {
        "corpus": str(corpus),
        "suffixes": list(SUFFIXES),
        "files": sum(r["files"] for r in rows),
        "bytes": sum(r["bytes"] for r in rows),
        "packages": rows,
    }
    (corpus.parent / "corpus-manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def print_manifest(manifest: dict) -> None:
    print(f"{'package':<11} {'version':<8} {'licence':<13} {'files':>6} {'MB':>7}  {'by suffix (files/MB)':<44} sha256")
    for r in manifest["packages"]:
        parts = ", ".join(f"{s} {n}/{b / 1e6:.1f}" for s, (n, b) in r["by_suffix"].items())
        print(
            f"{r['package']:<11} {r['version']:<8} {r['licence']:<13} {r['files']:>6} {r['bytes'] / 1e6:>7.1f}  "
            f"{parts:<44} {r['sha256']}"
        )
    print(f"{'total':<34} {manifest['files']:>6} {manifest['bytes'] / 1e6:>7.1f}  in {manifest['corpus']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path("/work/bench-e2e/corpus"), help="where the documents go")
    args = ap.parse_args()
    print_manifest(build(args.corpus.resolve()))


if __name__ == "__main__":
    main()
