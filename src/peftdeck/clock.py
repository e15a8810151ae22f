"""How long this process has existed, without importing torch (the warm worker's jobs read it first)."""
from __future__ import annotations

import os
import time

ENV_T0 = "PEFTDECK_PROCESS_T0"


def process_age_s() -> float:
    """Seconds since this process started (imports included), from the kernel's own clock.

    A cell forked by the warm worker (peftdeck.warm) counts from the start of the job that handed it
    over (PEFTDECK_PROCESS_T0, epoch seconds), so its start-up includes the hand-over.
    """
    t0 = os.environ.get(ENV_T0)
    if t0:
        try:
            return time.time() - float(t0)
        except ValueError:
            pass
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")
