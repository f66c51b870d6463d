#!/usr/bin/env python3
"""Checks that a regenerated golden audit trail only added fields.

    python3 scripts/golden_additions_only.py [REV]

compares tests/data/sample_session.audit.jsonl as committed at REV (default HEAD) with the
working copy: the same records in the same order, every field of the old record present in the
new one with the same value. Prints the fields added per event; exits 1 on any other change.
"""

import json
import subprocess
import sys

GOLDEN = "tests/data/sample_session.audit.jsonl"


def main() -> int:
    rev = sys.argv[1] if len(sys.argv) > 1 else "HEAD"
    old_text = subprocess.run(["git", "show", f"{rev}:{GOLDEN}"], check=True, capture_output=True, text=True).stdout
    with open(GOLDEN, encoding="utf-8") as f:
        new_text = f.read()
    old = [json.loads(line) for line in old_text.splitlines() if line.strip()]
    new = [json.loads(line) for line in new_text.splitlines() if line.strip()]
    if len(old) != len(new):
        print(f"record count changed: {len(old)} -> {len(new)}")
        return 1
    added = set()
    for number, (before, after) in enumerate(zip(old, new), start=1):
        for key, value in before.items():
            if after.get(key) != value:
                print(f"record {number} ({before.get('event')}): {key} changed: {value!r} -> {after.get(key)!r}")
                return 1
        added |= {(after.get("event"), key) for key in after if key not in before}
    for event, key in sorted(added):
        print(f"added: {event}.{key}")
    print("only additions" if added else "unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
