"""``sts-kit plan`` and ``python -m kit plan``: exit codes, messages and the files written."""
import importlib.metadata
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builders import sts, user, write_trail
from processes import HAS_PROC, alive, descendants
from kit.cli import main

INVICTUS = Path(__file__).resolve().parent.parent / "data" / "invictus-aws-2023" / "CloudTrail"


@pytest.mark.parametrize("argv, fragment", [
    (["plan", "--source", "nowhere"], "'nowhere' is not one of samples, local, lake, athena"),
    (["plan", "--source", "local", "--start", "2025-01-01", "--end", "2025-02-01"], "'path': required"),
    (["plan", "--source", "local", "--path", "/tmp"], "'start': required"),
    (["plan", "--start", "yesterday"], "not an ISO 8601"),
    (["plan", "--accounts", "42"], "12-digit"),
    (["plan", "--source", "local", "--path", "/does/not/exist", "--start", "2025-01-01", "--end", "2025-02-01"],
     "not a folder"),
])
def test_bad_arguments_exit_2_with_one_line(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


def test_unknown_option_exits_2(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["plan", "--sourse", "samples"])
    assert caught.value.code == 2 and "unrecognized arguments: --sourse" in capsys.readouterr().err


def test_python_dash_m_and_the_console_script_share_main(tmp_path):
    write_trail(tmp_path / "trail" / "f.json", [sts(user("111122223333", "alice"), "2025-07-01T10:00:00Z")])
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "kit", "plan", "--source", "local", "--path", str(tmp_path / "trail"),
                           "--start", "2025-07-01", "--end", "2025-07-02", "--out", str(out)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert f"Plan written to {out}/" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == ["plan.csv", "plan.md", "quota.csv", "signals.csv", "summary.json"]


def test_the_program_freezes_what_is_left_before_the_interpreter_exits():
    """``kit.cli.program`` (the console script and ``python -m kit``) runs ``main``, then ``gc.freeze``."""
    script = ("import gc, sys, kit.cli\n"
              "kit.cli.main = lambda: 7\n"
              "code = kit.cli.program()\n"
              "print(code, gc.get_freeze_count() > 0)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["7", "True"]
    entry = {point.name: point.value for point in importlib.metadata.entry_points(group="console_scripts")}
    assert entry["sts-kit"] == "kit.cli:program"


def _out_cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    (tmp_path / "a-file").write_text("x")
    return {"existing file": (tmp_path / "a-file", "is a file, not a folder"),
            "parent is a file": (tmp_path / "a-file" / "out", "is a file, not a folder")}


@pytest.mark.parametrize("case", ["existing file", "parent is a file"])
def test_unusable_out_fails_before_any_work_with_one_line(case, tmp_path, capsys, monkeypatch):
    import kit.engines

    monkeypatch.setattr(kit.engines, "collect", lambda *args, **kwargs: pytest.fail("work started"))
    out, fragment = _out_cases(tmp_path)[case]
    assert main(["plan", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_fails_before_any_work(tmp_path, capsys, monkeypatch):
    import kit.engines

    monkeypatch.setattr(kit.engines, "collect", lambda *args, **kwargs: pytest.fail("work started"))
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    assert main(["plan", "--out", str(locked)]) == 2 and main(["plan", "--out", str(locked / "sub")]) == 2
    assert capsys.readouterr().err.count("not writable") == 2


def test_a_failed_run_leaves_no_out_folder_it_created(tmp_path, capsys):
    out = tmp_path / "new" / "out"
    assert main(["plan", "--source", "local", "--path", str(tmp_path), "--start", "2025-07-01", "--end", "2025-07-02",
                 "--out", str(out)]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "new").exists()


@pytest.mark.parametrize("argv", [["--end", "9999-12-31"], ["--start", "0001-01-01"],
                                  ["--end", "9999-12-31T23:59:59-05:00"]])
def test_absurd_windows_exit_2_with_one_line(argv, capsys):
    assert main(["plan", *argv]) == 2
    err = capsys.readouterr().err
    assert "lies outside 2005-01-01 to 2100-01-01" in err and err.count("\n") == 1


def test_a_bad_cidr_in_ip_ranges_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "ranges.json").write_text('{"prefixes": [{"ip_prefix": "10.0.0.300/8", "region": "x"}]}')
    assert main(["plan", "--ip-ranges", str(tmp_path / "ranges.json"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "is not a network (CIDR)" in err and err.count("\n") == 1 and not (tmp_path / "out").exists()


def test_a_bug_is_one_line_exit_1_and_its_traceback_is_kept(capsys, monkeypatch, tmp_path):
    import kit.plan

    monkeypatch.setattr(kit.plan, "make_plan", lambda *args: 1 / 0)
    assert main(["plan", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ZeroDivisionError" in err and "this is a bug" in err
    saved = Path(err.rsplit(" ", 1)[1].strip())
    assert "Traceback" in saved.read_text() and "1 / 0" in saved.read_text()
    saved.unlink()


def test_an_os_error_is_one_line_exit_2(capsys, monkeypatch, tmp_path):
    import kit.plan

    def full(*args):
        raise OSError(28, "No space left on device", str(tmp_path / "x"))
    monkeypatch.setattr(kit.plan, "make_plan", full)
    assert main(["plan", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"sts-kit plan: error: No space left on device ({tmp_path / 'x'})\n"


@pytest.mark.skipif(not HAS_PROC, reason="needs /proc")
def test_ctrl_c_while_workers_read_exits_130_with_one_line_and_no_worker_left(tmp_path):
    samples = Path(__file__).resolve().parent.parent / "data" / "samples" / "trail"
    files = [path for path in samples.rglob("*") if path.is_file()]
    for copy in range(6):  # hard links: a large input at no cost
        for path in files:
            target = tmp_path / "trail" / f"c{copy}" / path.relative_to(samples)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)
    run = subprocess.Popen([sys.executable, "-m", "kit", "plan", "--source", "local", "--path", str(tmp_path / "trail"),
                            "--start", "2025-03-01", "--end", "2025-09-01", "--workers", "2", "--no-cache",
                            "--quiet", "--out", str(tmp_path / "out")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while len(workers) < 2 and run.poll() is None and time.monotonic() < deadline:
        workers = descendants(run.pid)
        time.sleep(0.02)
    assert len(workers) >= 2, "the workers never started"
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=30)
    assert run.returncode == 130 and err == "sts-kit plan: interrupted; nothing written\n"
    assert not alive(workers)
    assert not (tmp_path / "out").exists()


def test_a_reader_that_goes_away_ends_the_output_quietly():
    """`sts-kit plan --dry-run | head -1`: the closed pipe is no error to report."""
    process = subprocess.Popen([sys.executable, "-m", "kit", "plan", "--source", "athena", "--database", "d",
                                "--table", "t", "--start", "2025-07-01", "--end", "2025-07-02", "--dry-run"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # before the kit has started: every write meets a closed pipe
    assert process.wait(timeout=60) == 0
    assert process.stderr.read() == b""


BLAS_PROBE = """
import os, sys
from kit.cli import BLAS_THREADS, _import_numpy_with_one_blas_thread
_import_numpy_with_one_blas_thread()
print(len(os.listdir("/proc/self/task")), os.environ.get(BLAS_THREADS, "unset"))
"""


@pytest.mark.skipif(not HAS_PROC, reason="counts the process's threads in /proc")
@pytest.mark.parametrize("own_value, threads, seen_after", [(None, "1", "unset"), ("2", None, "2")])
def test_numpy_is_imported_with_one_blas_thread_unless_the_user_set_a_count(own_value, threads, seen_after):
    env = {name: value for name, value in os.environ.items() if name != "OPENBLAS_NUM_THREADS"}
    if own_value:
        env["OPENBLAS_NUM_THREADS"] = own_value
    out = subprocess.run([sys.executable, "-c", BLAS_PROBE], env=env, capture_output=True, text=True, check=True)
    count, after = out.stdout.split()
    assert after == seen_after  # the processes the run starts see the environment as it was
    if threads:
        assert count == threads  # no OpenBLAS thread besides the main one
