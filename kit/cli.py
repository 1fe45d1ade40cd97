"""The command line: ``sts-kit plan`` (and ``python -m kit plan``).

Options are generated from the parameter schema, so the CLI, the notebooks and the query
renderer accept the same names. Exit codes: 0 success, 2 bad arguments or unusable input,
1 anything unexpected.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from kit.errors import KitError, NotebookFailed, ParameterError
from kit.params import SCHEMA, validate


def _add_schema_options(parser: argparse.ArgumentParser) -> None:
    groups = {"run": parser.add_argument_group("run"),
              "aws": parser.add_argument_group("AWS engines (lake, athena)")}
    for param in SCHEMA:
        flag = "--" + param.name.replace("_", "-")
        if param.name == "cache":
            groups[param.group].add_argument("--no-cache", dest="cache", action="store_const", const=False,
                                             default=None, help="re-read every trail file")
        elif param.name == "quiet":
            groups[param.group].add_argument(flag, dest="quiet", action="store_const", const=True, default=None,
                                             help=param.help)
        else:
            default = f" (default: {param.default})" if param.default not in (None, ()) else ""
            flags = [flag, "--out"] if param.name == "out_dir" else [flag]
            groups[param.group].add_argument(*flags, dest=param.name, metavar=param.metavar, default=None,
                                             help=param.help + default)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as for every bad argument
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``sts-kit`` argument parser."""
    parser = _Parser(prog="sts-kit", allow_abbrev=False, description="Find callers of the AWS STS global endpoint and plan "
                                                 "their move to Regional endpoints.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    plan = commands.add_parser("plan", allow_abbrev=False, help="write plan.csv, quota.csv, summary.json and plan.md")
    _add_schema_options(plan)
    plan.add_argument("--dry-run", action="store_true", help="lake/athena: print the rollup SQL and exit, no AWS call")
    run = commands.add_parser("run", allow_abbrev=False, help="execute the notebooks with papermill into runs/<time>/")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="a notebook parameter (repeatable), as in papermill")
    run.add_argument("-f", "--parameters-file", type=Path, metavar="YAML", help="a YAML file of parameters")
    run.add_argument("--runs", type=Path, default=Path("runs"), metavar="DIR", help="where run folders go")
    commands.add_parser("params", help="list every parameter of plan, run and the notebooks: name, type, default")
    return parser


def print_params() -> int:
    """``sts-kit params``: every parameter with its type, default and help (from the one schema)."""
    from kit.paramdoc import listing

    for name, type_name, default, help_text in listing():
        print(f"{name:<17} {type_name:<6} {default or '-':<8} {help_text}")
    return 0


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def run_plan(values: dict) -> int:
    """``sts-kit plan``: validate, build and write the plan; print where it went."""
    from kit.plan import make_plan
    from kit.report import write_plan

    params = validate({name: value for name, value in values.items() if value is not None})
    plan = make_plan(params)
    paths = write_plan(plan, params.out_dir)
    counts = plan.summary["callers_per_priority"]
    print(f"{_count(len(plan.callers), 'caller')} of the global endpoint "
          f"({', '.join(f'{n} {p}' for p, n in counts.items())}); "
          f"{_count(len(plan.summary['at_risk_buckets']), 'quota bucket')} at risk; "
          f"{_count(plan.summary['files_invalid'], 'unreadable file')} skipped.")
    print(f"Plan written to {paths[0].parent}/ ({', '.join(p.name for p in paths)})")
    return 0


def run_notebooks(args: dict) -> int:
    """``sts-kit run``: execute every notebook into a new run folder."""
    import yaml

    from kit.runner import run_notebooks as execute

    parameters: dict = {}
    if args["parameters_file"]:
        try:
            loaded = yaml.safe_load(args["parameters_file"].read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ParameterError("parameters_file", f"{args['parameters_file']}: {error}") from None
        if not isinstance(loaded, dict):
            raise ParameterError("parameters_file", f"{args['parameters_file']} must hold a mapping of names to values")
        parameters.update(loaded)
    parameters.update(dict(args["parameter"]))
    result = execute(parameters, args["runs"])
    print(f"Ran {len(result.notebooks)} notebooks in {result.seconds:.1f} s; run folder: {result.run_dir}")
    return 0


def print_queries(values: dict) -> int:
    """``sts-kit plan --dry-run``: the rendered rollup queries, without calling AWS."""
    from kit.queries import render_all

    params = validate({name: value for name, value in values.items() if value is not None})
    for name, sql in render_all(params).items():
        print(f"-- {name} ({params.source}, {len(sql):,} characters)\n{sql.rstrip()};\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sts-kit`` console script."""
    args = vars(build_parser().parse_args(argv))
    command = args.pop("command")
    dry_run = args.pop("dry_run", False)
    try:
        if command == "params":
            return print_params()
        if command == "plan" and dry_run:
            return print_queries(args)
        if command == "plan":
            return run_plan(args)
        if command == "run":
            return run_notebooks(args)
    except NotebookFailed as error:
        print(f"sts-kit run: error: {error}", file=sys.stderr)
        return 1
    except KitError as error:
        print(f"sts-kit {command}: error: {error}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
