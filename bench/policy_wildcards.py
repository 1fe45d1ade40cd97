"""Policy wildcard matching on adversarial patterns: the kit's matcher beside the regex reading it replaced.

Prints, per case, the seconds one match takes with ``kit.policy.evaluate.matches`` and with a
regular expression built the old way (``*`` -> ``.*``), which backtracks; the regex is run in a
child process and given up after ``--timeout`` seconds. Usage: ``python -m bench.policy_wildcards``.
"""
from __future__ import annotations

import argparse
import multiprocessing
import re
import time

from kit.policy.evaluate import matches

CASES = [  # (name, pattern, value)
    ("40 × 'a*' + 'b' vs 'a' × 20k", "a*" * 40 + "b", "a" * 20_000),
    ("S3 ARN with 100 × '*a' vs 50k chars", "arn:aws:s3:::" + "*a" * 100 + "*z", "arn:aws:s3:::" + "a" * 50_000),
    ("40 × '*?' + '*b' vs 20k chars", "*?" * 40 + "*b", "x" * 20_000 + "c"),
    ("12 × '*a' + '*b' vs 'a' × 200", "*a" * 12 + "*b", "a" * 200),
]


def regex_match(pattern: str, value: str) -> bool:
    """The old reading: one regular expression, backtracking."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.match(f"^{body}$", value, re.DOTALL) is not None


def timed(function, *args) -> tuple[float, object]:
    began = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - began, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds before the regex run is given up")
    args = parser.parse_args()
    print(f"{'case':<40} {'kit s':>10} {'regex s':>12}  result")
    for name, pattern, value in CASES:
        kit_seconds, result = timed(matches, pattern, value)
        child = multiprocessing.Process(target=regex_match, args=(pattern, value))
        began = time.perf_counter()
        child.start()
        child.join(args.timeout)
        if child.is_alive():
            child.terminate()
            child.join()
            regex = f">{args.timeout:.0f} (gave up)"
        else:
            regex = f"{time.perf_counter() - began:.4f}"
        print(f"{name:<40} {kit_seconds:>10.5f} {regex:>12}  {result}")


if __name__ == "__main__":
    main()
