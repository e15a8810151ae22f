"""One GPU per training cell, several small cells per GPU: a slot allocator for Snakemake jobs.

Snakemake's local executor counts GPUs (the `gpu` resource) but never tells a job *which* GPU to
use. Each cell therefore takes a slot itself, at its very start and before CUDA is initialised:

* the devices are `PEFTDECK_GPUS` (a comma-separated list of device ids, or `none`), else the
  entries of `CUDA_VISIBLE_DEVICES` when it is set (SLURM sets it to the GPUs of the job), else the
  GPUs the NVIDIA driver lists (`/proc/driver/nvidia/gpus`, then `nvidia-smi -L`); no device means
  the cell runs on the CPU and takes no slot;
* every device has `PEFTDECK_CELLS_PER_GPU` slots (default 1);
* a slot is a lock file `<dir>/gpu-<device>.slot-<k>.lock`, taken with `fcntl.flock(LOCK_EX |
  LOCK_NB)` and held for the life of the process. The kernel drops the lock when the process exits
  in any way, `kill -9` included, so a crashed cell never leaves a slot taken;
* slots are tried slot 0 of every device first, then slot 1, ...: cells spread over the devices
  before any device gets a second cell;
* when every slot is busy the cell says so once in its log and waits, up to
  `PEFTDECK_GPU_SLOT_TIMEOUT` seconds (default 3600), then fails with a message naming the settings.

The cell then sees only its device (`CUDA_VISIBLE_DEVICES=<device>`) and records the slot in its
JSON (`compute.device_slot`). The lock folder is `PEFTDECK_GPU_SLOT_DIR`, by default a folder under
the system's temporary directory (per SLURM job inside a SLURM job, since SLURM may renumber the
GPUs of each job from 0).

This module imports nothing heavy (no torch): it runs before torch is imported.
"""
from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ENV_DEVICES = "PEFTDECK_GPUS"
ENV_CELLS_PER_GPU = "PEFTDECK_CELLS_PER_GPU"
ENV_TIMEOUT = "PEFTDECK_GPU_SLOT_TIMEOUT"
ENV_DIR = "PEFTDECK_GPU_SLOT_DIR"
DEFAULT_TIMEOUT_S = 3600.0


class SlotTimeout(RuntimeError):
    """Every GPU slot stayed busy for longer than the timeout."""


@dataclass
class Slot:
    device: str       # the device id as CUDA_VISIBLE_DEVICES names it
    slot: int         # 0 .. cells_per_device - 1
    cells_per_device: int
    n_devices: int
    path: str
    waited_s: float
    fd: int | None = None

    def as_record(self) -> dict:
        return {"device": self.device, "slot": self.slot, "cells_per_device": self.cells_per_device,
                "devices": self.n_devices, "waited_s": round(self.waited_s, 3)}

    def release(self) -> None:
        if self.fd is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                os.close(self.fd)
                self.fd = None


_HELD: Slot | None = None


def held_slot() -> dict | None:
    """The slot this process holds, as recorded in the cell's JSON (None: no GPU slot taken)."""
    return _HELD.as_record() if _HELD is not None and _HELD.fd is not None else None


# --- configuration ------------------------------------------------------------------------------

def _split(value: str) -> list[str]:
    return [x.strip() for x in value.split(",") if x.strip()]


def detected_devices(environ: dict | None = None) -> list[str]:
    """The GPUs this machine (or this SLURM job) offers, without initialising CUDA."""
    env = os.environ if environ is None else environ
    override = env.get(ENV_DEVICES)
    if override is not None and override.strip():
        return [] if override.strip().lower() in ("none", "cpu", "-1") else _split(override)
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:  # set (even empty): CUDA sees exactly these
        return [] if visible.strip() in ("", "-1", "none", "NoDevFiles") else _split(visible)
    driver = Path("/proc/driver/nvidia/gpus")
    try:
        n = len([p for p in driver.iterdir() if p.is_dir()])
    except OSError:
        n = 0
    if n:
        return [str(i) for i in range(n)]
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        return [str(i) for i, line in enumerate(l for l in out.splitlines() if l.startswith("GPU "))]
    return []


def cells_per_device(environ: dict | None = None) -> int:
    env = os.environ if environ is None else environ
    raw = env.get(ENV_CELLS_PER_GPU, "").strip() or "1"
    try:
        k = int(raw)
    except ValueError:
        k = 0
    if k < 1:
        raise ValueError(f"{ENV_CELLS_PER_GPU}={raw!r}: expected a whole number >= 1 (cells that may share one GPU)")
    return k


def slot_timeout(environ: dict | None = None) -> float:
    env = os.environ if environ is None else environ
    raw = env.get(ENV_TIMEOUT, "").strip()
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ValueError(f"{ENV_TIMEOUT}={raw!r}: expected seconds") from None


def slot_dir(environ: dict | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(ENV_DIR):
        return Path(env[ENV_DIR])
    base = Path(tempfile.gettempdir()) / "peftdeck-gpu-slots"
    job = env.get("SLURM_JOB_ID")
    return base / (f"slurm-{job}" if job else "local")


def total_slots(environ: dict | None = None) -> int:
    """GPUs x cells per GPU: what the `gpu` resource of a local run should be (at least 1)."""
    return max(1, len(detected_devices(environ))) * cells_per_device(environ)


# --- the allocator ------------------------------------------------------------------------------

def _safe(device: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", device)


def _open_lock(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:  # another user's lock file: flock works on a read-only descriptor too
        fd = os.open(path, os.O_RDONLY)
    return fd


def _make_dir(d: Path) -> None:
    if d.is_dir():
        return
    d.mkdir(parents=True, exist_ok=True)
    # Shared by every user of the machine, as the GPUs are (sticky, like /tmp).
    for folder in (d, d.parent) if d.parent.name == "peftdeck-gpu-slots" else (d,):
        try:
            os.chmod(folder, 0o1777)
        except OSError:
            pass


def try_acquire(devices: list[str], per_device: int, directory: Path) -> Slot | None:
    """Take the first free slot (slot 0 of every device first), or None when all are busy."""
    _make_dir(directory)
    for k in range(per_device):
        for dev in devices:
            path = directory / f"gpu-{_safe(dev)}.slot-{k}.lock"
            fd = _open_lock(path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    continue
                raise
            try:  # for people looking at the folder: who holds it
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            except OSError:
                pass
            return Slot(dev, k, per_device, len(devices), str(path), 0.0, fd)
    return None


def acquire(devices: list[str], per_device: int, directory: Path, timeout: float,
            log: Callable[[str], None] = print, poll_s: float = 0.25) -> Slot:
    """Wait for a free slot; raise SlotTimeout after `timeout` seconds."""
    t0 = time.monotonic()
    slot = try_acquire(devices, per_device, directory)
    waited = slot is None
    if waited:
        log(f"waiting for a GPU slot: all {len(devices) * per_device} busy ({len(devices)} GPU(s) "
            f"[{','.join(devices)}] x {per_device} cell(s) per GPU, {ENV_CELLS_PER_GPU}={per_device}; "
            f"lock files in {directory}); giving up after {timeout:g} s ({ENV_TIMEOUT})")
    while slot is None:
        if time.monotonic() - t0 >= timeout:
            raise SlotTimeout(
                f"no free GPU slot after {timeout:g} s: all {len(devices)} GPU(s) x {per_device} cell(s) per GPU "
                f"were busy (lock files in {directory}). Raise {ENV_CELLS_PER_GPU} if cells fit on a GPU "
                f"together, lower Snakemake's `gpu` resource to GPUs x {ENV_CELLS_PER_GPU}, or wait longer "
                f"with {ENV_TIMEOUT}=<seconds>.")
        time.sleep(poll_s)
        slot = try_acquire(devices, per_device, directory)
    if waited:
        slot.waited_s = time.monotonic() - t0
        log(f"GPU slot free after {slot.waited_s:.1f} s")
    return slot


def claim_for_cell(log: Callable[[str], None] = print, environ: dict | None = None) -> Slot | None:
    """At the start of a cell: take a GPU slot and make it the only device this process sees.

    Returns None (and changes nothing) on a machine without GPUs. Must run before CUDA is initialised.
    """
    global _HELD
    env = os.environ if environ is None else environ
    devices = detected_devices(env)
    if not devices:
        return None
    per = cells_per_device(env)
    slot = acquire(devices, per, slot_dir(env), slot_timeout(env), log=log)
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():  # too late for CUDA_VISIBLE_DEVICES
        torch.cuda.set_device(devices.index(slot.device))
    else:
        env["CUDA_VISIBLE_DEVICES"] = slot.device
    _HELD = slot
    log(f"GPU slot: device {slot.device}, slot {slot.slot} of {per} ({len(devices)} GPU(s))")
    return slot


def release_held() -> None:
    global _HELD
    if _HELD is not None:
        _HELD.release()
        _HELD = None


def main(argv: list[str] | None = None) -> int:
    """`python -m peftdeck.devices`: what this machine offers (for profiles and by hand)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m peftdeck.devices", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--total-slots", action="store_true", help="print GPUs x cells per GPU (at least 1)")
    args = ap.parse_args(argv)
    if args.total_slots:
        print(total_slots())
        return 0
    devs = detected_devices()
    print(f"devices: {','.join(devs) or 'none'}; cells per GPU: {cells_per_device()}; "
          f"slots: {len(devs) * cells_per_device()}; lock folder: {slot_dir()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
