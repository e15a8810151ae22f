"""Downloads, run once on a machine with internet (Snakemake's local rules `fetch_model`, `fetch_data`).

    python -m peftdeck.fetch model --id google-bert/bert-base-uncased --out resources/models/google-bert--bert-base-uncased
    python -m peftdeck.fetch data --task TASK --out resources/data/TASK          # the task's own Hub dataset
    python -m peftdeck.fetch data --task TASK --hub-id my-org/my-glue --out ...  # another copy with its layout

Everything lands in a temporary folder beside the target and is renamed into place at the end, so an
interrupted download never looks complete. Training jobs then run with the Hub switched off.

When the Hub cannot be reached, the command says so in a few lines (no traceback) and names the ways
out: download where there is internet, point the config at local files, or run an offline study.
`HF_ENDPOINT` points the clients at another Hub (a mirror, or the stand-in Hub of the tests).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

# Only what a fine-tuning job reads: config, tokenizer files and safetensors weights.
MODEL_FILES = ["*.json", "*.safetensors", "vocab.txt", "*.model", "merges.txt"]
# Seconds to wait for the Hub's first answer before calling it unreachable.
CONNECT_TIMEOUT = 15

# Exception classes (by name, anywhere in the class hierarchy or the cause chain) that mean "no
# connection": the HTTP clients' transport errors, DNS failures, and huggingface_hub's "not in the
# cache and could not connect" / offline-mode errors.
_NETWORK_ERRORS = {
    "ConnectionError", "TimeoutError", "TransportError", "NetworkError", "ConnectError", "ConnectTimeout",
    "TimeoutException", "gaierror", "LocalEntryNotFoundError", "OfflineModeIsEnabled", "ProxyError",
    "SSLError", "MaxRetryError", "NewConnectionError",
}


class HubUnreachable(RuntimeError):
    """The Hub did not answer; the message is for the terminal as it is."""


class FetchError(RuntimeError):
    """A download that cannot succeed as asked (unknown id, no safetensors weights, ...)."""


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def is_network_error(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) says the Hub could not be reached at all."""
    for e in _chain(exc):
        if any(cls.__name__ in _NETWORK_ERRORS for cls in type(e).__mro__):
            return True
    return False


def _reason(exc: BaseException) -> str:
    last = list(_chain(exc))[-1]
    text = str(last).strip().splitlines()[0] if str(last).strip() else type(last).__name__
    return text[:200]


def unreachable_message(what: str, exc: BaseException | None, config_label: str | None = None) -> str:
    cfg = f" --configfile {config_label}" if config_label else ""
    reason = f" ({_reason(exc)})" if exc is not None else ""
    return (
        f"cannot reach the Hugging Face Hub at {endpoint()}{reason} to download {what}.\n"
        "This study reads its model or data from the Hub (`source: hub`). Either\n"
        f"  - run `snakemake --cores 1 fetch{cfg}` on a machine with internet (it fills resources/;\n"
        "    copy that folder here), or\n"
        "  - point `model` / `data.<task>` in the config at local files (`source: local, path: ...`), or\n"
        "  - build an offline study: `make demo` (config/demo.yaml), or config/cpu.yaml with local GLUE/SQuAD files."
    )


def _staged(out: Path):
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))


def _publish(tmp: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)


def check_reachable(repo_id: str, repo_type: str, what: str, config_label: str | None = None) -> None:
    """Ask the Hub about the repository once, with a short timeout: fail fast and clearly when there
    is no connection or the repository does not exist."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        HfApi().repo_info(repo_id, repo_type=repo_type, timeout=CONNECT_TIMEOUT)
    except GatedRepoError as exc:
        raise FetchError(f"{what} is gated on the Hub: accept its terms on {endpoint()}/"
                         f"{'datasets/' if repo_type == 'dataset' else ''}{repo_id} and log in (`hf auth login`)"
                         ) from exc
    except RepositoryNotFoundError as exc:
        raise FetchError(f"{what}: no such repository on {endpoint()} (check the id in the config; "
                         "ids have the form owner/name)") from exc
    except Exception as exc:
        if is_network_error(exc):
            raise HubUnreachable(unreachable_message(what, exc, config_label)) from exc
        raise


def check_endpoint(config_label: str | None = None) -> None:
    """Raise HubUnreachable unless the Hub answers an HTTP request (any status counts as an answer)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{endpoint()}/api/models?limit=1", timeout=CONNECT_TIMEOUT):
            pass
    except urllib.error.HTTPError:
        return  # it answered
    except (urllib.error.URLError, OSError) as exc:
        raise HubUnreachable(unreachable_message("the study's model and data", exc, config_label)) from exc


def fetch_model(hub_id: str, out: Path, config_label: str | None = None) -> None:
    from huggingface_hub import snapshot_download

    from .config import check_hub_id

    check_hub_id(hub_id, "model", "model.id")
    what = f"model {hub_id}"
    check_reachable(hub_id, "model", what, config_label)
    tmp = _staged(out)
    try:
        try:
            snapshot_download(repo_id=hub_id, local_dir=tmp, allow_patterns=MODEL_FILES)
        except Exception as exc:
            if is_network_error(exc):
                raise HubUnreachable(unreachable_message(what, exc, config_label)) from exc
            raise
        if not (tmp / "model.safetensors").is_file():
            raise FetchError(
                f"Hub model {hub_id} has no model.safetensors; peftdeck loads safetensors weights only "
                "(pick a repository that has them, or convert the weights and use source: local)"
            )
        _publish(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fetch_data(task_name: str, out: Path, hub_id: str | None = None, config_label: str | None = None) -> None:
    from .config import check_hub_id
    from .tasks import get_task

    task = get_task(task_name)
    repo = hub_id or task.hub_id
    check_hub_id(repo, "dataset", f"data.{task_name}.hub_id")
    what = f"dataset {repo}" + (f" ({task.hub_config})" if task.hub_config else "") + f" for task {task_name}"
    check_reachable(repo, "dataset", what, config_label)
    tmp = _staged(out)
    try:
        try:
            task.fetch_hub(tmp, hub_id=repo)
        except Exception as exc:
            if is_network_error(exc):
                raise HubUnreachable(unreachable_message(what, exc, config_label)) from exc
            raise
        _publish(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m peftdeck.fetch", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config-label", default=os.environ.get("PEFTDECK_CONFIG_LABEL") or None,
                    help="the study's config file(s), named in the advice printed on failure "
                         "(default: $PEFTDECK_CONFIG_LABEL, set by the workflow)")
    sub = ap.add_subparsers(dest="what", required=True)
    m = sub.add_parser("model", help="download a model from the Hub")
    m.add_argument("--id", required=True)
    m.add_argument("--out", required=True, type=Path)
    d = sub.add_parser("data", help="download a task's dataset from the Hub")
    d.add_argument("--task", required=True)
    d.add_argument("--hub-id", help="another Hub dataset with the task's layout (default: the task's own)")
    d.add_argument("--out", required=True, type=Path)
    c = sub.add_parser("check", help="check that the Hub answers at all; write --out")
    c.add_argument("--out", required=True, type=Path)
    args = ap.parse_args(argv)
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        print("fetch: HF_HUB_OFFLINE=1 is set; downloads must run where the Hub is reachable "
              "(unset it for the fetch step)", file=sys.stderr)
        return 2
    from .config import ConfigError

    try:
        if args.what == "check":
            check_endpoint(args.config_label)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(f"{endpoint()} answered at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
            print(f"fetch: the Hub at {endpoint()} answers")
            return 0
        if args.what == "model":
            fetch_model(args.id, args.out, args.config_label)
        else:
            fetch_data(args.task, args.out, args.hub_id or None, args.config_label)
    except (HubUnreachable, FetchError, ConfigError) as exc:
        print(f"fetch: {exc}", file=sys.stderr)
        return 1
    print(f"fetch: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
