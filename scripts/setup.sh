#!/usr/bin/env bash
# One idempotent set-up step for a fresh machine: Debian packages, npm packages, the Nomad binary.
# Both the README's commands (via npm scripts) and .ci/run call it; on a warm machine it does nothing
# and prints nothing with --quiet.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quiet=0
tests=0
print_packages=0
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    # The Debian packages it would install, one a line, and nothing else (scripts/fresh-machine-check.sh reads them).
    --print-packages) print_packages=1 ;;
    # The test command: Chromium for the browser tests of the HTML report; vagrant (validate only)
    # and ansible-lint for the static checks of the VM lab. --browser is the old name.
    --tests|--browser) tests=1 ;;
    *) echo "setup: unknown option $arg (known: --quiet, --tests, --print-packages)" >&2; exit 2 ;;
  esac
done
say() { [[ $quiet == 1 ]] || echo "setup: $*"; }
act() { echo "setup: $*"; }   # always printed: setup is about to change the machine

# Debian packages the lab needs (iproute2/util-linux are on a fresh machine but listed for clarity);
# with --tests also Chromium and a font (browser tests), vagrant, ansible-lint and systemd-analyze
# (static checks of the VM lab).
# openssh-server/-client: the SSH-reachable lab (`lab up --sshd`) and the inventory provider's
# provisioning (Ansible's ssh connection); the package does not start sshd here.
apt_packages=(iptables ansible-core iproute2 util-linux procps psmisc openssh-server openssh-client)
((tests)) && apt_packages+=(chromium fonts-liberation vagrant ansible-lint systemd)
if ((print_packages)); then
  printf '%s\n' "${apt_packages[@]}"
  exit 0
fi
missing=()
for p in "${apt_packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run as root (sudo npm run setup) or install them: apt-get install ${missing[*]}" >&2
    exit 2
  fi
  act "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages: reinstall only when the lock file changed since the last install.
lock_hash=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
stamp="$here/node_modules/.nomad-lab-lock-sha256"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$lock_hash" ]]; then
  act "installing npm packages (npm ci)"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_hash" > "$stamp"
fi

# The Nomad binary: an explicit one (NOMAD_BINARY, or nomad on PATH) wins; otherwise the pinned
# release is built once into a cache outside the checkout.
if [[ -n "${NOMAD_BINARY:-}" ]]; then
  say "using NOMAD_BINARY=$NOMAD_BINARY"
elif command -v nomad >/dev/null 2>&1; then
  say "using nomad on PATH: $(command -v nomad)"
else
  build_args=()
  ((quiet)) && build_args+=(--quiet)
  # A zx script run by tsx (a devDependency), so after the npm step above; node resolves --import from the checkout.
  if [[ ! -e "$here/node_modules/tsx/package.json" ]]; then
    echo "setup: tsx is missing from node_modules (npm ci left out devDependencies: NODE_ENV=production or omit=dev?); run npm ci --include=dev" >&2
    exit 2
  fi
  (cd "$here" && node --import tsx scripts/build-nomad.ts "${build_args[@]}")
fi
