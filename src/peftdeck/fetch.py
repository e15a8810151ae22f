"""Downloads, run once on a machine with internet (Snakemake's local rules `fetch_model`, `fetch_data`).

    python -m peftdeck.fetch model --id bert-base-uncased --out resources/models/bert-base-uncased
    python -m peftdeck.fetch data --task sst2 --out resources/data/sst2

Everything lands in a temporary folder beside the target and is renamed into place at the end, so an
interrupted download never looks complete. Training jobs then run with the Hub switched off.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

# Only what a fine-tuning job reads: config, tokenizer files and safetensors weights.
MODEL_FILES = ["*.json", "*.safetensors", "vocab.txt", "*.model", "merges.txt"]


def _staged(out: Path):
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))


def _publish(tmp: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)


def fetch_model(hub_id: str, out: Path) -> None:
    from huggingface_hub import snapshot_download

    tmp = _staged(out)
    try:
        snapshot_download(repo_id=hub_id, local_dir=tmp, allow_patterns=MODEL_FILES)
        if not (tmp / "model.safetensors").is_file():
            raise FileNotFoundError(
                f"Hub model {hub_id} has no model.safetensors; peftdeck loads safetensors weights only"
            )
        _publish(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fetch_data(task_name: str, out: Path, hub_id: str | None = None) -> None:
    from .tasks import get_task

    task = get_task(task_name)
    tmp = _staged(out)
    try:
        if hub_id:
            task.fetch_hub(tmp, hub_id=hub_id)
        else:
            task.fetch_hub(tmp)
        _publish(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m peftdeck.fetch", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    m = sub.add_parser("model", help="download a model from the Hub")
    m.add_argument("--id", required=True)
    m.add_argument("--out", required=True, type=Path)
    d = sub.add_parser("data", help="download a task's dataset from the Hub")
    d.add_argument("--task", required=True)
    d.add_argument("--hub-id", default="")
    d.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        print("error: HF_HUB_OFFLINE=1 is set; downloads must run where the Hub is reachable "
              "(unset it for the fetch step)", file=sys.stderr)
        return 2
    if args.what == "model":
        fetch_model(args.id, args.out)
    else:
        fetch_data(args.task, args.out, args.hub_id or None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
