#!/usr/bin/env bash
# The fresh-machine check: from a clone, do the README's two commands alone set up everything and pass?
# A developer's machine hides missing set-up steps (packages installed by hand, a warm Nomad build, a provider
# that happens to be there), so this script takes them away first. It UNINSTALLS PACKAGES: run it only on a
# disposable machine, which it refuses to assume without --disposable-machine.
#
#   scripts/fresh-machine-check.sh --disposable-machine [--rev REV] [--keep] [--only scenario|test]
#
# What it does, in order:
#   1. clones the checkout (REV, default HEAD: committed work only) into a temporary directory;
#   2. purges the Debian packages scripts/setup.sh --tests names (except Essential and required/important ones, which
#      every Debian has), anything a test could find by accident (VirtualBox, libvirt, vagrant plugins), then the
#      dependencies that purge left unused, and empties apt's package lists, as on a new image;
#   3. removes ~/.cache/nomad-lab (the Nomad build) and runs the commands with empty Go module, Go build, npm,
#      Vagrant and Ansible caches of their own (the machine's own caches stay where they are), no nomad on PATH,
#      and no NOMAD_*/VAGRANT_* variables;
#   4. runs `npm run scenario spread` and `npm test` in the clone, as root, as the README says (without sudo, which
#      would reset HOME and the cache variables), and prints each one's tail and wall time;
#   5. runs the leak audit, writes everything under reports/fresh-machine/<stamp>/ in this checkout, and removes
#      the temporary directory (--keep leaves it).
# Exit 0 when both commands exit 0, the test summary counts no failed or skipped test, and the audit is clean.
# It is bash, not a zx script: it runs before any npm package is installed, and it removes node_modules.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
disposable=0 keep=0 rev=HEAD only=both
usage() { sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --disposable-machine) disposable=1 ;;
    --keep) keep=1 ;;
    --rev) rev=${2:?--rev needs a revision}; shift ;;
    --only) only=${2:?--only needs scenario or test}; shift
      [[ $only == scenario || $only == test ]] || { echo "fresh-machine-check: --only takes scenario or test, got $only" >&2; exit 2; } ;;
    -h|--help) usage; exit 0 ;;
    *) echo "fresh-machine-check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if ((!disposable)); then
  cat >&2 <<'EOF'
fresh-machine-check: refusing to run without --disposable-machine.
  It purges Debian packages (iptables, ansible-core, openssh-server, chromium, vagrant, ansible-lint, VirtualBox,
  libvirt, ...) and ~/.cache/nomad-lab from this machine. Run it on a machine you can throw away, with:
    scripts/fresh-machine-check.sh --disposable-machine
EOF
  exit 2
fi
[[ $(id -u) == 0 ]] || { echo "fresh-machine-check: run as root (it purges packages; the README's commands run as root)" >&2; exit 2; }
git -C "$here" rev-parse --verify --quiet "$rev^{commit}" >/dev/null || { echo "fresh-machine-check: $rev is not a commit of $here" >&2; exit 2; }
if [[ -n "$(git -C "$here" status --porcelain --untracked-files=no)" && $rev == HEAD ]]; then
  echo "fresh-machine-check: note: uncommitted changes in $here are not part of the check (it clones $rev)"
fi
lab_root=${NOMAD_LAB_ROOT:-/var/lib/nomad-lab}
for d in "$lab_root/labs" "$lab_root/ssh-labs"; do
  if [[ -d $d && -n "$(ls -A "$d" 2>/dev/null)" ]]; then
    echo "fresh-machine-check: labs are up or left over in $d ($(ls "$d" | tr '\n' ' ')); a new machine has none." >&2
    echo "  fix: npx nomad-lab lab down --all   (then run this again)" >&2
    exit 2
  fi
done

stamp=$(date -u +%Y%m%d-%H%M%S)
out="$here/reports/fresh-machine/$stamp"
work=$(mktemp -d /tmp/nomad-lab-fresh.XXXXXX)
mkdir -p "$out"
log() { echo "[$(date -u +%T)] fresh-machine-check: $*" | tee -a "$out/check.log"; }
cleanup() {
  if ((keep)); then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# 1. The clone.
commit=$(git -C "$here" rev-parse "$rev")
log "cloning $here at ${commit:0:12} into $work/nomad-lab"
git clone --quiet --no-hardlinks "$here" "$work/nomad-lab" && git -C "$work/nomad-lab" checkout --quiet "$commit" || { log "clone failed"; exit 2; }
clone="$work/nomad-lab"

# 2. Packages. Setup's own list (so this cannot drift from it), less what every Debian has.
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
to_purge=()
while read -r p; do
  installed "$p" || continue
  essential=$(dpkg-query -W -f='${Essential}' "$p")
  priority=$(dpkg-query -W -f='${Priority}' "$p")
  if [[ $essential == yes || $priority == required || $priority == important ]]; then
    log "keeping $p (essential=$essential, priority=$priority: part of every Debian)"
    continue
  fi
  to_purge+=("$p")
done < <(bash "$clone/scripts/setup.sh" --tests --print-packages)
# What a test could find by accident: a VM provider, its plugin, Vagrant plugins packaged by Debian.
while read -r p; do
  [[ -n $p ]] && to_purge+=("$p")
done < <(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 'virtualbox*' 'vagrant-*' 'libvirt-daemon*' libvirt-clients \
  'qemu-system*' 2>/dev/null | awk '$1 ~ /^ii/ {print $2}')
autoremovable() { apt-get -s autoremove 2>/dev/null | awk '/^Remv/ {print $2}' | sort; }
before=$(autoremovable)
export DEBIAN_FRONTEND=noninteractive
if ((${#to_purge[@]})); then
  log "purging ${to_purge[*]}"
  apt-get purge -y -qq "${to_purge[@]}" >>"$out/apt.log" 2>&1 || { log "apt-get purge failed (see $out/apt.log)"; exit 2; }
  left=$(comm -13 <(echo "$before") <(autoremovable) | tr '\n' ' ')
  if [[ -n ${left// } ]]; then
    log "purging what that left unused: $left"
    # shellcheck disable=SC2086
    apt-get purge -y -qq $left >>"$out/apt.log" 2>&1 || { log "apt-get purge of dependencies failed (see $out/apt.log)"; exit 2; }
  fi
fi
find /var/lib/apt/lists -maxdepth 1 -type f ! -name lock -delete
log "emptied apt's package lists (set-up must run apt-get update itself)"

# 3. Caches and environment.
rm -rf "${XDG_CACHE_HOME:-$HOME/.cache}/nomad-lab"
log "removed ${XDG_CACHE_HOME:-$HOME/.cache}/nomad-lab"
mkdir -p "$work"/{gomod,gobuild,npm,vagrant,ansible}
clean_path=""
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  if [[ -x "$d/nomad" ]]; then log "left $d off PATH: it holds a nomad ($d/nomad)"; continue; fi
  clean_path+="${clean_path:+:}$d"
done
unset_vars=()
while read -r v; do unset_vars+=(-u "$v"); done < <(env | awk -F= '/^(NOMAD_|VAGRANT_|CI=|XDG_CACHE_HOME=|GOMODCACHE=|GOCACHE=|npm_config_cache=|ANSIBLE_)/ {print $1}')
fresh_env=(env "${unset_vars[@]}" PATH="$clean_path" GOMODCACHE="$work/gomod" GOCACHE="$work/gobuild"
  npm_config_cache="$work/npm" VAGRANT_HOME="$work/vagrant" ANSIBLE_HOME="$work/ansible")

# 4. The README's two commands.
declare -A rc secs
run_command() { # name, then the command
  local name=$1; shift
  log "running: $* (in $clone)"
  local start end
  start=$(date +%s.%N)
  (cd "$clone" && "${fresh_env[@]}" "$@" </dev/null >"$out/$name.log" 2>&1)
  rc[$name]=$?
  end=$(date +%s.%N)
  secs[$name]=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  log "$* exited ${rc[$name]} after ${secs[$name]} s; its last lines:"
  tail -n 25 "$out/$name.log" | sed 's/^/    | /' | tee -a "$out/check.log"
}
[[ $only == test ]] || run_command scenario npm run scenario spread
[[ $only == scenario ]] || run_command test npm test

# 5. Leaks and the verdict.
audit_rc=0
(cd "$clone" && "${fresh_env[@]}" node --import tsx harness/cli/lab.ts audit >"$out/audit.log" 2>&1) || audit_rc=$?
log "leak audit: $(tail -n 1 "$out/audit.log") (exit $audit_rc)"

verdict=PASS
problems=()
for name in "${!rc[@]}"; do ((rc[$name] == 0)) || problems+=("$name exited ${rc[$name]}"); done
if [[ -n ${rc[test]:-} ]]; then
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out/test.log" | tail -n 1)
  [[ $summary =~ ^[0-9]+\ passed,\ 0\ failed,\ 0\ skipped$ ]] || problems+=("test summary: ${summary:-none}")
fi
((audit_rc == 0)) || problems+=("leak audit exited $audit_rc")
((${#problems[@]})) && verdict=FAIL
{
  echo
  echo "fresh-machine check: $verdict  (commit ${commit:0:12}, $(date -u +%FT%TZ))"
  [[ -n ${rc[scenario]:-} ]] && printf '  %-32s exit %s  %8s s\n' "sudo npm run scenario spread" "${rc[scenario]}" "${secs[scenario]}"
  [[ -n ${rc[test]:-} ]] && printf '  %-32s exit %s  %8s s  (%s)\n' "sudo npm test" "${rc[test]}" "${secs[test]}" "${summary:-no summary line}"
  for p in "${problems[@]}"; do echo "  problem: $p"; done
  echo "  logs: $out"
} | tee -a "$out/check.log"
[[ $verdict == PASS ]]
