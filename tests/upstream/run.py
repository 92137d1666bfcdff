"""prometheus_client 0.26.0's own test suite, run on prometheus_client and on fastprom.

    python tests/upstream/run.py [--timeout SECONDS] [--cache DIR]

Fetches prometheus_client's sdist with pip (into a git-ignored cache, ``.upstream/`` at the
top of the repository unless ``--cache`` or ``$FASTPROM_UPSTREAM_CACHE`` says otherwise;
nothing of it is committed), and runs the test files listed in ``FILES`` twice with
pytest: on prometheus_client itself (the sdist's sources), and on fastprom installed as
``prometheus_client`` (``_alias.py``). The rule: every test that passes on
prometheus_client passes on fastprom, except the tests listed in ``differences.txt``,
each with its reason; a listed test must fail on fastprom (a list that no longer matches
is an error too), and each reason must be the bold lead of a bullet in README.md's
"How it differs from prometheus_client". Exits non-zero on anything unexpected.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

VERSION = "0.26.0"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DIFFERENCES = HERE / "differences.txt"
README = REPO / "README.md"
README_SECTION = "### How it differs from prometheus_client"
# The suite's files that cover what fastprom implements. Not run: the Twisted, aiohttp,
# Django and Graphite bridges, which fastprom does not have.
RETRIES = 3
FILES = [
    "test_core.py",
    "test_exposition.py",
    "test_asgi.py",
    "test_wsgi.py",
    "test_parser.py",
    "test_samples.py",
    "test_utils.py",
    "test_process_collector.py",
    "test_platform_collector.py",
    "test_gc_collector.py",
    "test_multiprocess.py",
]


def say(line: str = "") -> None:
    print(line, flush=True)


def fetch_sdist(cache: Path) -> Path:
    """The extracted sdist (downloaded with pip on first use)."""
    root = cache / f"prometheus_client-{VERSION}"
    if (root / "tests").is_dir() and (root / "prometheus_client").is_dir():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / f"prometheus_client-{VERSION}.tar.gz"
    if not archive.exists():
        say(f"downloading the prometheus_client {VERSION} sdist into {cache}")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-binary",
                ":all:",
                "--no-deps",
                f"prometheus_client=={VERSION}",
                "--dest",
                str(cache),
            ],
            check=True,
        )
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
        for m in members:
            if m.name.startswith("/") or ".." in Path(m.name).parts:
                raise RuntimeError(f"unsafe path in the sdist: {m.name}")
        tar.extractall(cache, members=members)
    return root


@dataclass
class Run:
    library: str
    results: dict[str, dict[str, str]]
    seconds: float
    log: Path

    def passed(self) -> set[str]:
        return {t for t, r in self.results.items() if r["outcome"] == "passed"}

    def counts(self) -> Counter[str]:
        return Counter(r["outcome"] for r in self.results.values())


def run_suite(library: str, sdist: Path, files: list[str], cache: Path, timeout: float, tag: str = "") -> Run:
    """pytest over ``files`` (or test ids) with prometheus_client, or fastprom aliased as it."""
    tests = sdist / "tests"
    ini = cache / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    results = cache / f"results-{library}{tag}.json"
    log = cache / f"pytest-{library}{tag}.log"
    results.unlink(missing_ok=True)
    plugins = ["-p", "_record"]
    path = [str(HERE)]
    if library == "fastprom":
        plugins = ["-p", "_alias", *plugins]
    else:
        path.insert(0, str(sdist))  # the sdist's own sources, not whatever is installed
    env = dict(os.environ, UPSTREAM_RESULTS=str(results), PYTHONPATH=os.pathsep.join(path))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(ini),
        "--rootdir",
        str(tests),
        "-p",
        "no:cacheprovider",
        *plugins,
        f"--timeout={timeout:g}",
        "-q",
        "-rfE",
        *files,
    ]
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.run(cmd, cwd=tests, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=900)
    seconds = time.monotonic() - start
    if not results.exists():
        say(log.read_text(encoding="utf-8")[-4000:])
        raise SystemExit(f"pytest on {library} wrote no results (exit {proc.returncode}); log: {log}")
    return Run(library, json.loads(results.read_text(encoding="utf-8")), seconds, log)


def read_differences() -> dict[str, str]:
    """``differences.txt``: test id → reason (its README bullet's bold lead)."""
    listed: dict[str, str] = {}
    for n, raw in enumerate(DIFFERENCES.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        test, _, reason = line.partition(" ")
        if not reason.strip():
            raise SystemExit(f"{DIFFERENCES.name}:{n}: a test id and its reason, separated by a space")
        if test in listed:
            raise SystemExit(f"{DIFFERENCES.name}:{n}: {test} is listed twice")
        listed[test] = reason.strip()
    return listed


def readme_reasons() -> set[str]:
    """The bold leads (``- **...**``) of README.md's "How it differs" bullets."""
    text = README.read_text(encoding="utf-8")
    start = text.index(README_SECTION) + len(README_SECTION)
    end = text.find("\n#", start)
    section = text[start : end if end != -1 else len(text)]
    return {" ".join(m.split()) for m in re.findall(r"^- \*\*(.+?)\*\*", section, flags=re.M | re.S)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per test (pytest-timeout)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(os.environ.get("FASTPROM_UPSTREAM_CACHE", REPO / ".upstream")),
        help="where the sdist is downloaded and extracted",
    )
    args = parser.parse_args()
    cache: Path = args.cache.resolve()

    listed = read_differences()
    problems: list[str] = []
    known = readme_reasons()
    for reason in sorted(set(listed.values()) - known):
        problems.append(f"differences.txt reason not a bold lead in README's {README_SECTION!r}: {reason}")

    sdist = fetch_sdist(cache)
    for stale_output in [*cache.glob("results-*.json"), *cache.glob("pytest-*.log")]:
        stale_output.unlink()
    present = [f for f in FILES if (sdist / "tests" / f).exists()]
    for f in sorted(set(FILES) - set(present)):
        say(f"note: {f} is not in the sdist: skipped")

    oracle = run_suite("prometheus_client", sdist, present, cache, args.timeout)
    ours = run_suite("fastprom", sdist, present, cache, args.timeout)

    want = oracle.passed()
    got = ours.passed()
    if not want:
        problems.append(f"no test passed on prometheus_client: the suite did not run (log: {oracle.log})")
    unexpected = sorted(want - got - set(listed))
    # A few of the suite's network tests depend on timing (a TLS alert racing the client's
    # read fails test_mtls_untrusted_client_cert_raises on either library, most times): a
    # test that fails on fastprom alone runs again on both, up to RETRIES rounds. It is
    # flaky if it then passes on fastprom, not compared if it then fails on
    # prometheus_client, and unexpected if it passes on prometheus_client every time only.
    flaky: list[str] = []
    for attempt in range(1, RETRIES + 1):
        if not unexpected:
            break
        again = run_suite("fastprom", sdist, unexpected, cache, args.timeout, tag=f"-retry{attempt}").passed()
        flaky += [t for t in unexpected if t in again]
        unexpected = [t for t in unexpected if t not in again]
        if not unexpected:
            break
        oracle_again = run_suite("prometheus_client", sdist, unexpected, cache, args.timeout, tag=f"-retry{attempt}")
        flaky += [t for t in unexpected if t not in oracle_again.passed()]
        want -= {t for t in unexpected if t not in oracle_again.passed()}
        unexpected = [t for t in unexpected if t in oracle_again.passed()]
    listed_but_pass = sorted(t for t in listed if t in got)
    stale = sorted(t for t in listed if t not in want)
    differing = sorted(t for t in listed if t in want and t not in got)

    say()
    say(f"prometheus_client {VERSION}'s own tests, on prometheus_client and on fastprom (aliased)")
    header = f"{'file':28} {'prometheus_client':>18} {'fastprom':>9} {'listed':>7} {'unexpected':>11}"
    say(header)
    say("-" * len(header))
    for f in present:

        def of(ids: set[str] | list[str], f: str = f) -> int:
            return sum(1 for t in ids if t.split("::", 1)[0] == f)

        say(f"{f:28} {of(want):>18} {of(want & got):>9} {of(differing):>7} {of([*unexpected, *listed_but_pass]):>11}")
    say("-" * len(header))
    bad = len(unexpected) + len(listed_but_pass)
    say(f"{'total':28} {len(want):>18} {len(want & got):>9} {len(differing):>7} {bad:>11}")
    say()
    for run in (oracle, ours):
        c = run.counts()
        say(
            f"{run.library}: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped "
            f"in {run.seconds:.1f} s (log: {run.log})"
        )
    if flaky:
        flaky_ids = ", ".join(sorted(flaky))
        say(f"flaky (passed on fastprom or failed on prometheus_client when run again; not counted): {flaky_ids}")
    fails_on_oracle = sorted(t for t, r in oracle.results.items() if r["outcome"] == "failed")
    if fails_on_oracle:
        say(f"failing on prometheus_client itself (not compared): {', '.join(fails_on_oracle)}")
    say()
    say(f"listed differences ({DIFFERENCES.relative_to(REPO)}), failing on fastprom as listed: {len(differing)}")
    for reason, n in Counter(listed[t] for t in differing).most_common():
        say(f"  {n:3} × {reason}")

    for t in unexpected:
        detail = ours.results.get(t, {}).get("detail", "")
        problems.append(f"passes on prometheus_client, fails on fastprom (every run): {t}\n{detail}")
    for t in listed_but_pass:
        problems.append(f"listed in differences.txt but passes on fastprom (remove it): {t}")
    for t in differing:
        detail = ours.results[t]["detail"]
        if not detail.startswith("call:") or "Timeout" in detail:
            problems.append(
                f"listed in differences.txt but failed outside its own call (setup, teardown or timeout): {t}\n{detail}"
            )
    for t in stale:
        problems.append(f"listed in differences.txt but did not pass on prometheus_client (or does not exist): {t}")

    say()
    if problems:
        for p in problems:
            say(f"UNEXPECTED: {p}")
        say()
        say(f"upstream suite: FAILED, {len(problems)} unexpected result(s)")
        return 1
    say(
        f"upstream suite: OK, {len(want)} tests pass on prometheus_client; on fastprom {len(want & got)} of them "
        f"pass and the {len(differing)} listed differences fail as listed"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
