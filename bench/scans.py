"""Bytes the Athena engine scans per rollup query, on the local Athena endpoint over the samples,
with and without ``--accounts``: a Markdown table.

``python -m bench.scans [--accounts 111122223333] [--endpoint-url URL]``. Without ``--endpoint-url``
the endpoint is started in this process on 127.0.0.1 (``kit.localaws.athena_server``: per scan of the
table, the compressed bytes of the trail files in the partitions its predicates select); with it,
an endpoint already running (``python -m kit.localaws athena --port 4598``) answers, so the queries
of another tree (``PYTHONPATH=OLD_TREE``, run outside the repository) are measured by the same one.
"""
from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path

import kit
from kit.engines import collect
from kit.params import validate

TRAIL = Path(__file__).resolve().parent.parent / "data" / "samples" / "trail"
WINDOW = {"start": "2025-03-01T00:00:00Z", "end": "2025-09-01T00:00:00Z"}
DUMMY_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
             "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
"""Credentials for the local endpoint's dummy signature; no profile or config file is read."""


def local_endpoint() -> str:
    """Start the local Athena endpoint over the samples in this process; its URL."""
    from kit.localaws.athena_server import AthenaService
    from kit.localaws.base import make_server, url_of

    server = make_server(AthenaService(TRAIL))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return url_of(server)


def scanned(url: str, accounts: str) -> dict[str, int]:
    """Bytes scanned per rollup query of one Athena run over the samples' window."""
    params = validate({"source": "athena", "database": "cloudtrail", "table": "cloudtrail_logs",
                       "workgroup": "primary", "output_location": "s3://local-results/", "aws_region": "us-east-1",
                       "endpoint_url": url, "accounts": accounts, **WINDOW})
    queries = collect(params).report.engine_stats["queries"]
    return {name: stats["bytes_scanned"] for name, stats in queries.items()}


def table(runs: dict[str, dict[str, int]]) -> str:
    """Markdown: one row per query and a total, one column per run."""
    names = list(next(iter(runs.values())))
    lines = ["| query | " + " | ".join(runs) + " |", "|---|" + "---:|" * len(runs)]
    lines += [f"| {name} | " + " | ".join(f"{run[name]:,}" for run in runs.values()) + " |" for name in names]
    lines.append("| **total** | " + " | ".join(f"**{sum(run.values()):,}**" for run in runs.values()) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.scans", description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", default="111122223333", help="the selection of the second run")
    parser.add_argument("--endpoint-url", help="a local Athena endpoint already running (default: start one)")
    args = parser.parse_args(argv)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ATHENA"):
        os.environ.pop(name, None)
    os.environ.update(DUMMY_AWS)
    url = args.endpoint_url or local_endpoint()
    if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        parser.error(f"{url} is not a loopback endpoint")
    runs = {"all accounts": scanned(url, ""), f"--accounts {args.accounts}": scanned(url, args.accounts)}
    print(f"kit: {Path(kit.__file__).parent}; endpoint: {url}; trail: {TRAIL}\n")
    print(table(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
