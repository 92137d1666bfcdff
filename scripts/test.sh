#!/usr/bin/env bash
# One command: set up everything on a fresh machine and run every check and test.
#   bash scripts/test.sh            (what README.md and .ci/run call)
# Creates .venv (override with FASTPROM_VENV), builds the extension in release mode,
# installs the test dependencies, then runs: cargo fmt --check, cargo clippy -D warnings
# (Cargo.toml's [lints]; with and without the python feature), cargo test (core, no
# Python), ruff, mypy + stubtest, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_setup.sh
setup_venv "${FASTPROM_VENV:-.venv}" test
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
step "mypy + stubtest"
mypy python/fastprom
python -m mypy.stubtest fastprom._core --allowlist scripts/stubtest-allowlist.txt
step "pytest"
set +e
python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
