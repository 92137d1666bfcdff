# Shared set-up for scripts/test.sh and scripts/demo.sh (sourced, not run).
# step TITLE: a heading, with the seconds since the script started (CI's time budget).
step() { printf '\n==> %s  [%d s]\n' "$*" "$SECONDS"; }

# setup_venv DIR EXTRAS [PYTHON [PROFILE]]: create the virtualenv with PYTHON (default
# python3), build fastprom with the Cargo profile PROFILE (default release) and install it
# with EXTRAS.
setup_venv() {
  local venv=$1 extras=$2 python=${3:-python3} profile=${4:-release}
  step "virtualenv $venv ($python)"
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
  fi
  # shellcheck disable=SC1091
  . "$venv/bin/activate"
  python -m pip install -q --upgrade pip
  python -m pip install -q "maturin>=1.16,<2"
  step "build fastprom (profile $profile, $(python -c 'import platform; print("Python", platform.python_version())')) and install [$extras]"
  if [ "$profile" = release ]; then
    maturin develop --release -q -E "$extras"
  else
    maturin develop --profile "$profile" -q -E "$extras"
  fi
}

# find_python X.Y: prints an interpreter of CPython X.Y (pyenv's versions, then pythonX.Y on
# PATH), checked by running it; prints nothing if there is none.
find_python() {
  local want=$1 root candidate
  root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
  for candidate in $(ls -d "$root"/versions/"$want".*/bin/python"$want" 2>/dev/null | sort -V -r) \
      "$(command -v "python$want" 2>/dev/null || true)"; do
    [ -n "$candidate" ] || continue
    if [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$want" ] \
        && "$candidate" -c 'import venv, ensurepip' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
}

# run_pytest ARGS...: pytest, where collecting no test at all is a failure too.
run_pytest() {
  local rc=0
  python -m pytest "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    return 1
  fi
  return "$rc"
}

# Debian's prometheus, promtool, pushgateway and alertmanager, for the tests that run the real
# servers. The alertmanager is optional: if it cannot be installed, its tests skip.
install_debian_tools() {
  if command -v prometheus >/dev/null && command -v promtool >/dev/null \
      && command -v prometheus-pushgateway >/dev/null && command -v prometheus-alertmanager >/dev/null; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "note: prometheus/promtool/pushgateway/alertmanager not installed and cannot apt-get; those tests will skip" >&2
    return 0
  fi
  step "apt-get install prometheus prometheus-pushgateway prometheus-alertmanager"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-pushgateway >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    prometheus-alertmanager >/dev/null \
    || echo "note: prometheus-alertmanager could not be installed; the alerting test will skip" >&2
}
