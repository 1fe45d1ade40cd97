"""The command line: ``sts-kit plan`` (and ``python -m kit plan``).

Options are generated from the parameter schema, so the CLI, the notebooks and the query
renderer accept the same names. Every expected failure is one line on stderr. Exit codes:
0 success, 2 bad arguments, unusable input or an output folder that cannot be written,
1 a failing notebook or a bug (the traceback goes to a private file named in the message),
130 interrupted (Ctrl-C; what was kept is said).
"""
from __future__ import annotations

import argparse
import functools
import gc
import importlib
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Sequence

from kit.errors import Interrupted, KitError, NotebookFailed
from kit.params import SCHEMA, load_parameters_file, validate
from kit.readnotes import terminal_lines
from kit.version import kit_version


def _add_schema_options(parser: argparse.ArgumentParser) -> None:
    groups = {"run": parser.add_argument_group("run"), "aws": parser.add_argument_group(
        "AWS engines (lake, athena, security-lake, logs-insights)")}
    for param in SCHEMA:
        flag = "--" + param.name.replace("_", "-")
        if param.name == "cache":
            groups[param.group].add_argument("--no-cache", dest="cache", action="store_const", const=False,
                                             default=None, help="re-read every trail file")
        elif param.name == "quiet":
            groups[param.group].add_argument(flag, dest="quiet", action="store_const", const=True, default=None,
                                             help=param.help)
        elif param.name == "log_group":  # repeatable, each also comma-separated (kit.params joins them)
            groups[param.group].add_argument(flag, dest=param.name, metavar=param.metavar, action="append",
                                             default=None, help=param.help)
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
    parser.add_argument("--version", action="version", version=f"sts-kit {kit_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    plan = commands.add_parser("plan", allow_abbrev=False, help="write plan.csv, quota.csv, summary.json and plan.md")
    _add_schema_options(plan)
    plan.add_argument("--compare", metavar="DIR", help="a previous run's out folder: write changes.csv")
    plan.add_argument("--fail-on", metavar="KINDS", help="exit 3 when found: new,regressed,priority-up,at-risk,p1,breakage")
    plan.add_argument("--dry-run", action="store_true",
                      help="lake/athena/security-lake/logs-insights: print the rollup queries and exit, no AWS call")
    run = commands.add_parser("run", allow_abbrev=False, help="execute the notebooks with papermill into runs/<time>/")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="a notebook parameter (repeatable), as in papermill")
    run.add_argument("-f", "--parameters-file", type=Path, metavar="YAML", help="a YAML file of parameters")
    run.add_argument("--runs", type=Path, default=Path("runs"), metavar="DIR", help="where run folders go")
    run.add_argument("--compare", metavar="DIR", help="compare with this run (default: the previous one in --runs)")
    run.add_argument("--fail-on", metavar="KINDS", help="exit 3 when found: new,regressed,priority-up,at-risk,p1,breakage")
    commands.add_parser("params", help="list every parameter of plan, run and the notebooks: name, type, default")
    return parser


def print_params() -> int:
    """``sts-kit params``: every parameter with its type, default and help (from the one schema)."""
    from kit.paramdoc import listing

    for name, type_name, default, help_text in listing():
        print(f"{name:<17} {type_name:<6} {default or '-':<8} {help_text}")
    return 0


PLAN_MODULES = ("kit.plan", "kit.report")
"""What ``sts-kit plan`` needs once the events are read (pandas with them): imported while the local
engine's workers read, not before they start (``kit.engines.local.aggregate``)."""


def _import_plan_modules() -> None:
    """Import ``PLAN_MODULES`` (in a thread while the workers read)."""
    for name in PLAN_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # imported again after the read, which reports the error as any run would
            return


BLAS_THREADS = "OPENBLAS_NUM_THREADS"
"""How many threads OpenBLAS (numpy's BLAS in its wheels) starts when numpy is imported."""


def _import_numpy_with_one_blas_thread() -> None:
    """Import numpy with OpenBLAS on this process's thread only. At import it starts a thread for each
    further core, which spins for about 50 ms of CPU before it sleeps: time taken from the workers'
    reading on a machine of two cores, for matrix work ``sts-kit plan`` never does. A value set by the
    user is kept, and the processes the run starts see the environment as it was."""
    if "numpy" in sys.modules:
        return
    set_here = BLAS_THREADS not in os.environ
    if set_here:
        os.environ[BLAS_THREADS] = "1"
    try:
        importlib.import_module("numpy")
    finally:
        if set_here:
            del os.environ[BLAS_THREADS]


def run_plan(values: dict) -> int:
    """``sts-kit plan``: validate, read, build and write the plan; print the summary line, the notes
    that change how to read it, and where it went."""
    _import_numpy_with_one_blas_thread()
    from kit.campaign import cli_finish, cli_options
    from kit.engines import collect
    from kit.outputs import folder_lock

    previous, fail_on = cli_options(values.pop("compare", None), values.pop("fail_on", None))
    params = validate({name: value for name, value in values.items() if value is not None})
    began = time.perf_counter()
    with folder_lock(params.out_dir):  # checked and locked before any work
        rollup = collect(params, warm_up=_import_plan_modules)
        from kit.plan import make_plan
        from kit.report import write_plan

        plan = make_plan(params, rollup, began)
        paths = write_plan(plan, params.out_dir)
        found = cli_finish(plan, params.out_dir, previous, fail_on)
    print("\n".join(terminal_lines(plan.summary)))
    print(f"Plan written to {paths[0].parent}/ ({', '.join(p.name for p in paths)})")
    if found:
        print(f"sts-kit plan: {found}", file=sys.stderr)
        return 3
    return 0


def _summary_of(folder: Path) -> dict:
    """The summary.json a run's last notebook wrote in ``folder`` ({} when there is none)."""
    try:
        return json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return {}


def run_notebooks(args: dict) -> int:
    """``sts-kit run``: execute every notebook into a new run folder; print the plan's summary line
    and notes, and where the run went."""
    from kit.runner import run_notebooks as execute

    parameters = load_parameters_file(args["parameters_file"]) if args["parameters_file"] else {}
    parameters.update(dict(args["parameter"]))
    from kit.campaign import cli_options, run_finish, runs_folder
    previous, fail_on = cli_options(args["compare"], args["fail_on"], default_previous=True)
    with runs_folder(args["runs"]) as runs:  # an s3:// runs folder is staged here and uploaded
        result = execute(parameters, runs)
        found = run_finish(result.run_dir, runs, previous, fail_on)
        summary = _summary_of(result.run_dir)
    if summary:
        print("\n".join(terminal_lines(summary)))
    print(f"Ran {len(result.notebooks)} notebooks in {result.seconds:.1f} s; run folder: {result.run_dir}")
    if found:
        print(f"sts-kit run: {found}", file=sys.stderr)
        return 3
    return 0


def print_queries(values: dict) -> int:
    """``sts-kit plan --dry-run``: the rendered rollup queries, without calling AWS."""
    from kit.queries import render_all

    params = validate({name: value for name, value in values.items() if value is not None})
    window = params.to_dict()
    for name, text in render_all(params).items():
        if params.source == "logs-insights":  # '#' comments and no ';', as the console takes it
            print(f"# {name} (Logs Insights QL, {len(text):,} characters; log groups {', '.join(params.log_group)}; "
                  f"time range {window['start']} to {window['end']})\n{text.rstrip()}\n")
        else:
            print(f"-- {name} ({params.source}, {len(text):,} characters)\n{text.rstrip()};\n")
    return 0


def _interrupt(signum: int, frame: object, main_pid: int) -> None:
    """Ctrl-C: stop this process's workers at once, then unwind as ``KeyboardInterrupt``.
    Workers (forked, same terminal) ignore it: their parent stops them."""
    if os.getpid() != main_pid:
        return
    for child in multiprocessing.active_children():
        child.terminate()
    raise KeyboardInterrupt


def _bug_report(command: str) -> str:
    """Save the traceback of an unexpected error to a private file; the line that names it."""
    handle, name = tempfile.mkstemp(prefix="sts-kit-error-", suffix=".txt")
    with os.fdopen(handle, "w") as file:
        traceback.print_exc(file=file)
    error = sys.exc_info()[1]
    return (f"sts-kit {command}: unexpected error ({type(error).__name__}: {error}); this is a bug, "
            f"please report it with the traceback saved in {name}")


def program() -> int:
    """The ``sts-kit`` program (the console script and ``python -m kit``): ``main``, then every object
    left is frozen (``gc.freeze``), so that the interpreter, as it exits, no longer walks them all in its
    last collections: 0.06 s of a plan's 2 s over 315k events (bench/RESULTS.md)."""
    code = main()
    gc.freeze()
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """``sts-kit`` with the arguments ``argv`` (those of the command line when None): the exit code."""
    args = vars(build_parser().parse_args(argv))
    command = args.pop("command")
    dry_run = args.pop("dry_run", False)
    previous = None
    if threading.current_thread() is threading.main_thread():  # signal handlers can only be set there
        previous = signal.signal(signal.SIGINT, functools.partial(_interrupt, main_pid=os.getpid()))
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
    except BrokenPipeError:  # the reader went away (``| head``): nothing more to say, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        print(f"sts-kit {command}: error: {error.strerror or error}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as error:
        kept = error.kept if isinstance(error, Interrupted) else "nothing written"
        print(f"sts-kit {command}: interrupted; {kept}", file=sys.stderr)
        return 130
    except Exception:  # a bug: one line on stderr, the traceback kept for the report
        print(_bug_report(command), file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return 1
