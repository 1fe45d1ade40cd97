"""``python -m kit.localaws lake|athena|logs --port 4599 --data data/samples/trail [faults]``."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from kit.localaws.athena_server import DATABASE, TABLE, WORKGROUP, AthenaService
from kit.localaws.base import Faults, make_server, url_of
from kit.localaws.lake_server import STORE_ID, LakeService
from kit.localaws.logs_server import LOG_GROUP, MAX_RUNNING, LogsService

LOOPBACK = ("127.0.0.1", "localhost")
"""The only addresses served: the endpoints have no authentication."""


def main(argv: Sequence[str] | None = None) -> None:
    """Serve one local endpoint until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m kit.localaws", description=__doc__)
    parser.add_argument("service", choices=("lake", "athena", "logs"))
    parser.add_argument("--port", type=int, default=4599)
    parser.add_argument("--host", default="127.0.0.1", choices=LOOPBACK, help="a loopback address (default 127.0.0.1)")
    parser.add_argument("--data", type=Path, default=Path("data/samples/trail"), help="folder of trail files")
    parser.add_argument("--fail", metavar="MESSAGE", help="every query ends FAILED with MESSAGE")
    parser.add_argument("--timeout", action="store_true", help="every query times out")
    parser.add_argument("--throttle", type=int, default=0, metavar="N", help="throttle the first N calls")
    parser.add_argument("--deny", action="append", default=[], metavar="OPERATION",
                        help="answer OPERATION with AccessDeniedException (* for all)")
    parser.add_argument("--hold", action="store_true", help="queries run until cancelled")
    parser.add_argument("--max-running", type=int, default=MAX_RUNNING,
                        help="logs: queries running at once before LimitExceededException")
    args = parser.parse_args(argv)
    faults = Faults(args.fail, args.timeout, args.throttle, frozenset(args.deny), args.hold)
    print(f"loading {args.data} ...", flush=True)
    if args.service == "logs":
        service = LogsService(args.data, faults, max_running=args.max_running)
    else:
        service = (LakeService if args.service == "lake" else AthenaService)(args.data, faults)
    server = make_server(service, args.host, args.port)
    url = url_of(server)
    if args.service == "logs":
        options = f"--source logs-insights --log-group {LOG_GROUP}"
    elif args.service == "lake":
        options = f"--source lake --event-data-store {STORE_ID}"
    else:
        options = (f"--source athena --database {DATABASE} --table {TABLE} --workgroup {WORKGROUP} "
                   "--output-location s3://local-results/")
    tables = ", ".join(".".join(name) for name in sorted(service.tables))
    print(f"{args.service} endpoint at {url}, serving {args.data}\n"
          f"  runs only one SELECT (or WITH ... SELECT) over {tables}, with the functions in "
          "kit/localaws/guard.py;\n  no COPY, ATTACH, INSTALL, LOAD, PRAGMA, SET, file or table functions; "
          "DuckDB's external access is off,\n  so nothing outside the loaded data is read or written\n"
          f"  sts-kit plan {options} --endpoint-url {url} --aws-region us-east-1 "
          "--start 2025-03-01 --end 2025-09-01 --ip-ranges data/samples/ip-ranges.json\n"
          "  (set AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing for the dummy signature)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()


if __name__ == "__main__":
    main()
