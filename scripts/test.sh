#!/usr/bin/env bash
# One command: set up everything on a fresh machine and run every check and test.
#   bash scripts/test.sh [PYTEST ARGS]       (what README.md and .ci/run call)
# With the main interpreter (FASTPROM_PYTHON, default python3) in .venv (FASTPROM_VENV):
# release build, the test dependencies, then cargo fmt --check, cargo clippy -D warnings
# (Cargo.toml's [lints]; with and without the python feature), cargo test (core, no
# Python), ruff check and ruff format --check, mypy --strict + stubtest, pytest, and
# prometheus_client's own test suite (tests/upstream/run.py). Then, for every other CPython
# of FASTPROM_PYTHONS (default "3.10 3.11 3.12 3.13"; set it to "" to skip) found on the
# machine: its own .venv-X.Y, a build with the cheaper `ci` Cargo profile, and pytest. A
# version that is not installed is reported and skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_setup.sh
start=$SECONDS
main_python=${FASTPROM_PYTHON:-python3}
setup_venv "${FASTPROM_VENV:-.venv}" test "$main_python"
main_version=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
install_debian_tools

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --all-targets -- -D warnings
step "cargo clippy --no-default-features (core and server without pyo3)"
cargo clippy --all-targets --no-default-features -- -D warnings
step "cargo test (core and server, no Python)"
cargo test --no-default-features
step "ruff"
ruff check python tests examples
ruff format --check python tests examples
step "mypy (strict) + stubtest"
mypy python/fastprom
python -m mypy.stubtest fastprom._core --allowlist scripts/stubtest-allowlist.txt
step "pytest (Python $main_version)"
run_pytest "$@"
step "prometheus_client's own test suite on fastprom (tests/upstream/run.py)"
python tests/upstream/run.py
deactivate

tested=("$main_version (full)")
skipped=()
for version in ${FASTPROM_PYTHONS-3.10 3.11 3.12 3.13}; do
  [ "$version" = "$main_version" ] && continue
  interpreter=$(find_python "$version")
  if [ -z "$interpreter" ]; then
    echo "note: CPython $version is not installed here: skipped" >&2
    skipped+=("$version")
    continue
  fi
  # Each interpreter builds in its own target directory: pyo3 is compiled for one Python.
  CARGO_TARGET_DIR="target/py$version" setup_venv ".venv-$version" test "$interpreter" ci
  step "pytest (Python $version)"
  run_pytest "$@"
  deactivate
  tested+=("$version")
done

step "done in $((SECONDS - start)) s"
echo "tested on Python: ${tested[*]}"
if [ "${#skipped[@]}" -gt 0 ]; then
  echo "not installed, skipped: ${skipped[*]}"
fi
