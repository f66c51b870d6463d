"""What the measurement scripts read of a running daemon from /proc, and how they stop it (Linux, standard
library only). Imported by at_rest.py, resident_code.py, thousand_wallets.py and soak.py."""

import signal
import subprocess


def status_kb(pid, *fields):
    """The named fields of /proc/<pid>/status (VmRSS, RssAnon, VmHWM, ...) in kB, from one read, in the
    order asked for."""
    found = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in fields:
                found[name] = int(value.split()[0])
    missing = [field for field in fields if field not in found]
    if missing:
        raise RuntimeError(f"no {', '.join(missing)} in /proc/{pid}/status")
    return tuple(found[field] for field in fields)


def vm_rss_kb(pid):
    return status_kb(pid, "VmRSS")[0]


def cpu_ticks_and_faults(pid):
    """(utime + stime, minor + major page faults) from one read of /proc/<pid>/stat."""
    # Fields after the command name (which is in parentheses and may hold spaces).
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12]), int(rest[7]) + int(rest[9])


def stop(proc, timeout):
    """SIGTERM, then SIGKILL after `timeout` seconds; returns the exit code."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
