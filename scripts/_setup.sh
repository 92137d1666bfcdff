# Shared set-up for scripts/test.sh and scripts/demo.sh (sourced, not run).
step() { printf '\n==> %s\n' "$*"; }

# setup_venv DIR EXTRAS: create the virtualenv, build and install fastprom with EXTRAS.
setup_venv() {
  local venv=$1 extras=$2
  step "virtualenv $venv"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  # shellcheck disable=SC1091
  . "$venv/bin/activate"
  python -m pip install -q --upgrade pip
  python -m pip install -q "maturin>=1.16,<2"
  step "build fastprom (release) and install [$extras]"
  maturin develop --release -q -E "$extras"
}

# Debian's prometheus, promtool and pushgateway, for the tests that run the real servers.
install_debian_tools() {
  if command -v prometheus >/dev/null && command -v promtool >/dev/null \
      && command -v prometheus-pushgateway >/dev/null; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "note: prometheus/promtool/pushgateway not installed and cannot apt-get; those tests will skip" >&2
    return 0
  fi
  step "apt-get install prometheus prometheus-pushgateway"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-pushgateway >/dev/null
}
