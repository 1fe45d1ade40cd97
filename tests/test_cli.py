"""``sts-kit plan`` and ``python -m kit plan``: exit codes, messages and the files written."""
import subprocess
import sys
from pathlib import Path

import pytest

from builders import sts, user, write_trail
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
    assert sorted(p.name for p in out.iterdir()) == ["plan.csv", "plan.md", "quota.csv", "summary.json"]
