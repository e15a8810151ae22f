"""The GPU slot allocator (peftdeck.devices), tested on the CPU with a made-up device list: it only
ever deals with device ids and lock files, never with CUDA."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from peftdeck import devices

SRC = str(Path(__file__).resolve().parents[2] / "src")

# A cell stand-in: take a slot, note when it held which one, hold it for a while, exit.
HOLDER = textwrap.dedent("""
    import json, os, sys, time
    from peftdeck import devices
    slot = devices.claim_for_cell(log=lambda m: print(m, file=sys.stderr, flush=True))
    t0 = time.time()
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
    rec = {"pid": os.getpid(), "device": slot.device, "slot": slot.slot, "start": t0, "end": time.time(),
           "visible": os.environ["CUDA_VISIBLE_DEVICES"], "waited_s": slot.waited_s}
    with open(sys.argv[1], "a") as f:
        f.write(json.dumps(rec) + "\\n")
""")


def _env(tmp_path: Path, gpus: str, per: int, timeout: float = 60) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID")}
    env.update({devices.ENV_DEVICES: gpus, devices.ENV_CELLS_PER_GPU: str(per),
                devices.ENV_TIMEOUT: str(timeout), devices.ENV_DIR: str(tmp_path / "slots"),
                "PYTHONPATH": SRC + os.pathsep + env.get("PYTHONPATH", "")})
    return env


def _holder(tmp_path: Path, env: dict, hold_s: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "held.jsonl"), str(hold_s)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_device_list_comes_from_the_override_then_cuda_visible_devices():
    assert devices.detected_devices({"PEFTDECK_GPUS": "a, b", "CUDA_VISIBLE_DEVICES": "3"}) == ["a", "b"]
    assert devices.detected_devices({"PEFTDECK_GPUS": "none", "CUDA_VISIBLE_DEVICES": "3"}) == []
    assert devices.detected_devices({"CUDA_VISIBLE_DEVICES": "2,5"}) == ["2", "5"]
    assert devices.detected_devices({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert devices.total_slots({"PEFTDECK_GPUS": "0,1", "PEFTDECK_CELLS_PER_GPU": "3"}) == 6
    assert devices.total_slots({"PEFTDECK_GPUS": "none", "PEFTDECK_CELLS_PER_GPU": "2"}) == 2  # CPU: >= 1 GPU's worth
    with pytest.raises(ValueError, match="PEFTDECK_CELLS_PER_GPU"):
        devices.cells_per_device({"PEFTDECK_CELLS_PER_GPU": "0"})


def test_no_gpu_means_no_slot_and_no_change(tmp_path):
    env = {"PEFTDECK_GPUS": "none", "PEFTDECK_GPU_SLOT_DIR": str(tmp_path)}
    assert devices.claim_for_cell(log=lambda m: None, environ=env) is None
    assert "CUDA_VISIBLE_DEVICES" not in env and devices.held_slot() is None


def test_concurrent_cells_never_share_a_slot_and_spread_over_devices(tmp_path):
    """7 processes started together for 2 devices x 2 cells per device: at most 4 run at once, no
    two at the same time on one slot, each sees only its device, and the waiting ones say so."""
    env = _env(tmp_path, "gpuA,gpuB", 2)
    procs = [_holder(tmp_path, env, 1.0) for _ in range(7)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 7, [o[1] for o in outs]
    recs = [json.loads(line) for line in (tmp_path / "held.jsonl").read_text().splitlines()]
    assert len(recs) == 7
    for r in recs:
        assert r["visible"] == r["device"] and r["device"] in ("gpuA", "gpuB") and r["slot"] in (0, 1)
    for i, a in enumerate(recs):
        for b in recs[i + 1:]:
            if (a["device"], a["slot"]) == (b["device"], b["slot"]):
                assert a["end"] <= b["start"] or b["end"] <= a["start"], f"slot shared at once: {a} {b}"
    # never more than 4 at once
    events = sorted([(r["start"], 1) for r in recs] + [(r["end"], -1) for r in recs])
    running = peak = 0
    for _, d in events:
        running += d
        peak = max(peak, running)
    assert peak <= 4
    # the rest waited
    waited = [err for _, err in outs if "waiting for a GPU slot: all 4 busy" in err]
    assert len(waited) >= 3 and all("PEFTDECK_CELLS_PER_GPU=2" in err for err in waited)


def test_a_second_cell_goes_to_the_idle_device_before_sharing_one(tmp_path):
    """Spread before sharing: with one cell already holding a GPU, the next takes the other GPU's
    first slot, not the busy GPU's second. (Started one after the other, so the order is known.)"""
    env = _env(tmp_path, "gpuA,gpuB", 2)
    first = _holder(tmp_path, env, 3.0)
    assert first.stdout.readline().strip() == "holding"
    second = _holder(tmp_path, env, 0.1)
    second.communicate(timeout=60)
    first.communicate(timeout=60)
    recs = sorted((json.loads(line) for line in (tmp_path / "held.jsonl").read_text().splitlines()),
                  key=lambda r: r["start"])
    assert [(r["slot"]) for r in recs] == [0, 0] and {r["device"] for r in recs} == {"gpuA", "gpuB"}


def test_a_killed_holder_frees_its_slot_at_once(tmp_path):
    env = _env(tmp_path, "0", 1)
    p = _holder(tmp_path, env, 60)
    assert p.stdout.readline().strip() == "holding"
    # busy while it lives
    assert devices.try_acquire(["0"], 1, tmp_path / "slots") is None
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    t0 = time.monotonic()
    slot = devices.acquire(["0"], 1, tmp_path / "slots", timeout=5, log=lambda m: None)
    assert time.monotonic() - t0 < 1.0 and (slot.device, slot.slot) == ("0", 0)
    slot.release()


def test_all_slots_busy_waits_then_fails_naming_the_settings(tmp_path):
    held = [devices.try_acquire(["0", "1"], 1, tmp_path) for _ in range(2)]
    assert all(held) and {(s.device, s.slot) for s in held} == {("0", 0), ("1", 0)}
    lines: list[str] = []
    t0 = time.monotonic()
    with pytest.raises(devices.SlotTimeout) as err:
        devices.acquire(["0", "1"], 1, tmp_path, timeout=0.6, log=lines.append, poll_s=0.05)
    assert 0.5 <= time.monotonic() - t0 < 5
    assert len(lines) == 1 and "waiting for a GPU slot: all 2 busy" in lines[0]
    assert "PEFTDECK_CELLS_PER_GPU" in str(err.value) and "PEFTDECK_GPU_SLOT_TIMEOUT" in str(err.value)
    # one holder ends: the next waiter gets its slot
    held[1].release()
    slot = devices.acquire(["0", "1"], 1, tmp_path, timeout=2, log=lines.append)
    assert (slot.device, slot.slot) == ("1", 0)
    slot.release()
    held[0].release()


def test_run_cell_exits_4_when_no_slot_frees_up(tmp_path, monkeypatch, capsys):
    from peftdeck import run_cell

    monkeypatch.setenv("PEFTDECK_GPUS", "fake0")
    monkeypatch.setenv("PEFTDECK_GPU_SLOT_DIR", str(tmp_path))
    monkeypatch.setenv("PEFTDECK_GPU_SLOT_TIMEOUT", "0.3")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    busy = devices.try_acquire(["fake0"], 1, tmp_path)
    try:
        rc = run_cell.main(["--spec", json.dumps({"cell": {}}), "--out", str(tmp_path / "m.json")])
    finally:
        busy.release()
    assert rc == 4
    assert "PEFTDECK_GPU_SLOT_TIMEOUT" in capsys.readouterr().err


def test_a_cell_runs_on_its_slot_and_records_it(tmp_path):
    """A real (tiny) cell with a made-up GPU list: it takes slot 0 of the one device, sees only that
    device, and its JSON says so. On this CPU-only machine it then trains on the CPU."""
    from bench_inputs import cell_spec, generated_sst2, tiny_model, word_vocab

    data = generated_sst2(tmp_path / "sst2", 32, 16, seed=1)
    model = tiny_model(tmp_path / "model", vocab=word_vocab(data))
    spec = cell_spec(model, "random", data, "bitfit", lr=1e-3, batch_size=16, epochs=1, seed=1,
                     max_length=32, eval_batch_size=16, threads=1)
    out = tmp_path / "metrics.json"
    env = _env(tmp_path, "fake0", 2)
    env.update({"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    proc = subprocess.run([sys.executable, "-m", "peftdeck.run_cell", "--spec", json.dumps(spec), "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "GPU slot: device fake0, slot 0 of 2" in proc.stdout
    slot = json.loads(out.read_text())["compute"]["device_slot"]
    assert slot == {"device": "fake0", "slot": 0, "cells_per_device": 2, "devices": 1, "waited_s": 0.0}
    # the process is gone, so is its lock
    assert devices.try_acquire(["fake0"], 1, tmp_path / "slots") is not None
