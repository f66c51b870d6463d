#!/usr/bin/env python3
"""Which of the daemon's code is resident at rest: the file-backed part of `scripts/at_rest.py`'s RSS, by crate.

Usage (python3, standard library only; Linux, reads /proc/<pid>/pagemap; needs `nm` and `readelf`):

    cargo build --release
    python3 scripts/resident_code.py --binary target/release/whale-trader --settle 60

Runs the README's first command in a throw-away workspace as `at_rest.py` does, and after --settle seconds
reads the present bit of every page of the binary's mappings. Each resident page of the executable mapping is
attributed to the function symbols in it (`nm -S`, demangled); a symbol counts resident in the proportion of
its pages that are. Crates are read from the symbols' paths (`core::…`, `tokio::…`); symbols without one (C
code: AWS-LC, SQLite) are "C/other". Prints the process's RSS, the resident megabytes per mapping kind and
per crate (largest first).
"""

import argparse
import collections
import os
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import at_rest  # noqa: E402  (the default run in a throw-away workspace)
from procfs import status_kb  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024


def resident_pages(pid, binary):
    """{(mapping permissions, file offset of the page): resident?} for every page the binary maps."""
    pages = {}
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for line in maps:
            parts = line.rstrip("\n").split(maxsplit=5)  # the path, last, may hold spaces
            if len(parts) < 6 or parts[5] != binary:
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            count = (hi - lo) // PAGE
            pagemap.seek(lo // PAGE * 8)
            entries = pagemap.read(count * 8)
            for i in range(count):
                (entry,) = struct.unpack_from("<Q", entries, i * 8)
                pages[(parts[1], int(parts[2], 16) + i * PAGE)] = bool(entry >> 63)
    return pages


def text_file_delta(binary):
    """Virtual address minus file offset of the executable segment."""
    headers = subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True, check=True).stdout
    for line in headers.splitlines():
        fields = line.split()
        # LOAD Offset VirtAddr PhysAddr FileSiz MemSiz Flags… Align; the flags are "R E" or "RWE".
        if fields and fields[0] == "LOAD" and "E" in "".join(fields[6:-1]):
            return int(fields[2], 16) - int(fields[1], 16)
    raise RuntimeError("no executable LOAD segment")


def crate_of(symbol):
    name = symbol.lstrip("<&*( ").replace("dyn ", "").replace("impl ", "")
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", name)
    return match.group(1) if match else "C/other"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=str(at_rest.REPO / "target" / "release" / "whale-trader"))
    parser.add_argument("--settle", type=float, default=60.0)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    binary = str(Path(args.binary).resolve())

    with at_rest.default_run(binary) as proc:
        time.sleep(args.settle)
        if proc.poll() is not None:
            raise RuntimeError(f"daemon exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        pages = resident_pages(proc.pid, binary)
        fields = ("VmRSS", "RssAnon", "RssFile")
        rss = {f: kb / 1024 for f, kb in zip(fields, status_kb(proc.pid, *fields))}

    print("RSS {VmRSS:.1f} MB (anonymous {RssAnon:.1f}, file-backed {RssFile:.1f})".format(**rss))
    by_kind = collections.Counter()
    for (perms, _), present in pages.items():
        by_kind[perms] += PAGE if present else 0
    print("binary's mappings resident: " + ", ".join(f"{k} {v / MB:.2f} MB" for k, v in sorted(by_kind.items())))

    code = {offset // PAGE: present for (perms, offset), present in pages.items() if perms.startswith("r-x")}
    delta = text_file_delta(binary)
    symbols = subprocess.run(["nm", "-S", "--defined-only", "-C", binary], capture_output=True, text=True, check=True)
    size, resident = collections.Counter(), collections.Counter()
    for line in symbols.stdout.splitlines():
        fields = line.split(" ", 3)
        if len(fields) < 4 or fields[2] not in ("t", "T", "w", "W"):
            continue
        address, length = int(fields[0], 16), int(fields[1], 16)
        first = (address - delta) // PAGE
        last = (address - delta + max(length, 1) - 1) // PAGE
        share = sum(1 for p in range(first, last + 1) if code.get(p)) / (last - first + 1)
        crate = crate_of(fields[3])
        size[crate] += length
        resident[crate] += length * share
    mapped = len(code) * PAGE / MB
    print(
        f"code: {sum(code.values()) * PAGE / MB:.1f} of {mapped:.1f} MB mapped is resident; "
        f"functions {sum(size.values()) / MB:.2f} MB, of them resident {sum(resident.values()) / MB:.2f} MB"
    )
    for crate in sorted(size, key=lambda c: -resident[c])[: args.top]:
        print(f"  {crate:<28} {resident[crate] / MB:6.2f} of {size[crate] / MB:6.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
