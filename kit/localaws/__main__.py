"""``python -m kit.localaws lake|athena|logs --port 4599 --data data/samples/trail [--ocsf DIR] [faults]``."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from kit.localaws.athena_server import (DATABASE, SECURITY_LAKE_DATABASE, SECURITY_LAKE_TABLE, TABLE, WORKGROUP,
                                        AthenaService)
from kit.localaws.base import Faults, make_server, url_of
from kit.localaws.lake_server import STORE_ID, LakeService
from kit.localaws.logs_server import LOG_GROUP, MAX_RUNNING, LogsService

LOOPBACK = ("127.0.0.1", "localhost")
"""The only addresses served: the endpoints have no authentication."""


def _safety(service: object) -> str:
    """What the endpoint will run, for its banner."""
    if isinstance(service, LogsService):
        return (f"  log group {LOG_GROUP}; runs only the kit's Logs Insights queries (kit/queries/logs_insights), "
                "evaluated in Python;\n  nothing outside the loaded trail files is read or written\n")
    tables = ", ".join(".".join(name) for name in sorted(getattr(service, "tables", ())))
    return (f"  runs only one SELECT (or WITH ... SELECT) over {tables}, with the functions in kit/localaws/guard.py;\n"
            "  no COPY, ATTACH, INSTALL, LOAD, PRAGMA, SET, file or table functions; DuckDB's external access is off,\n"
            "  so nothing outside the loaded data is read or written\n")


def main(argv: Sequence[str] | None = None) -> None:
    """Serve one local endpoint until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m kit.localaws", description=__doc__)
    parser.add_argument("service", choices=("lake", "athena", "logs"))
    parser.add_argument("--port", type=int, default=4599)
    parser.add_argument("--host", default="127.0.0.1", choices=LOOPBACK, help="a loopback address (default 127.0.0.1)")
    parser.add_argument("--data", type=Path, default=Path("data/samples/trail"), help="folder of trail files")
    parser.add_argument("--ocsf", type=Path, metavar="DIR",
                        help="athena: also serve the Security Lake Parquet files under DIR (python -m kit.ocsf) as "
                             "Security Lake's CloudTrail table")
    parser.add_argument("--fail", metavar="MESSAGE", help="every query ends FAILED with MESSAGE")
    parser.add_argument("--timeout", action="store_true", help="every query times out")
    parser.add_argument("--throttle", type=int, default=0, metavar="N", help="throttle the first N calls")
    parser.add_argument("--deny", action="append", default=[], metavar="OPERATION",
                        help="answer OPERATION with AccessDeniedException (* for all)")
    parser.add_argument("--hold", action="store_true", help="queries run until cancelled")
    parser.add_argument("--max-running", type=int, default=MAX_RUNNING,
                        help="logs: queries running at once before LimitExceededException")
    args = parser.parse_args(argv)
    if args.ocsf is not None and args.service != "athena":
        parser.error("--ocsf is for the athena endpoint (Athena over Security Lake's table)")
    if args.ocsf is not None and not any(args.ocsf.rglob("*.parquet")):
        parser.error(f"{args.ocsf} holds no .parquet files: write them with python -m kit.ocsf --out {args.ocsf}")
    faults = Faults(args.fail, args.timeout, args.throttle, frozenset(args.deny), args.hold)
    print(f"loading {args.data} ...", flush=True)
    if args.service == "logs":
        service = LogsService(args.data, faults, max_running=args.max_running)
    elif args.service == "lake":
        service = LakeService(args.data, faults)
    else:
        service = AthenaService(args.data, faults, ocsf=args.ocsf)
    server = make_server(service, args.host, args.port)
    url = url_of(server)
    if args.service == "logs":
        options = f"--source logs-insights --log-group {LOG_GROUP}"
    elif args.service == "lake":
        options = f"--source lake --event-data-store {STORE_ID}"
    else:
        options = (f"--source athena --database {DATABASE} --table {TABLE} --workgroup {WORKGROUP} "
                   "--output-location s3://local-results/")
    samples = ("--start 2025-03-01 --end 2025-09-01 --ip-ranges data/samples/ip-ranges.json "
               "--policies data/samples/policies")
    commands = [f"sts-kit plan {options} --endpoint-url {url} --aws-region us-east-1 {samples}"]
    if args.ocsf is not None:
        commands.append(f"sts-kit plan --source security-lake --database {SECURITY_LAKE_DATABASE} "
                        f"--table {SECURITY_LAKE_TABLE} --workgroup {WORKGROUP} --output-location s3://local-results/ "
                        f"--endpoint-url {url} --aws-region us-east-1 {samples}")
    print(f"{args.service} endpoint at {url}, serving {args.data}{f' and {args.ocsf}' if args.ocsf else ''}\n"
          + _safety(service) + "".join(f"  {command}\n" for command in commands) +
          "  (set AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing for the dummy signature)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()


if __name__ == "__main__":
    main()
