#!/usr/bin/env bash
# CDK side of the state benchmark.
#
#   bash host/benches/cdk/run.sh N1 N2 ...
#
# Creates (once, cached) a Python 3.11 venv with airbyte-cdk 7.39.x (or the
# newest 7.x when 7.39 cannot be installed) and runs legacy_to_per_partition.py
# with the given partition counts. Its stdout is exactly the lines the .py
# prints; everything else goes to stderr. When something is missing (no
# python, no network for pip, ...) it prints one line "skip: <reason>" and
# exits 0.
#
# Environment:
#   CUTOVER_CDK_VENV  venv location (default: $HOME/.cache/cutover-bench/cdk-venv)
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${CUTOVER_CDK_VENV:-$HOME/.cache/cutover-bench/cdk-venv}"
marker="$venv/.cutover-cdk-ready"

skip() {
  echo "skip: $*"
  exit 0
}

if [ "$#" -eq 0 ]; then
  echo "usage: $0 N [N ...]" >&2
  exit 2
fi
for n in "$@"; do
  case "$n" in
    '' | *[!0-9]*) echo "not a partition count: $n" >&2; exit 2 ;;
  esac
done

# Python 3.11: `python3`, or `python3.11` when python3 is another version.
py=""
for cand in python3 python3.11; do
  if command -v "$cand" >/dev/null 2>&1 &&
     "$cand" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' >/dev/null 2>&1; then
    py="$cand"
    break
  fi
done
[ -n "$py" ] || skip "no Python 3.11 (python3 / python3.11) found"

setup_venv() {
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")" || return 1
  echo "creating venv $venv with $("$py" --version 2>&1)" >&2
  "$py" -m venv "$venv" >&2 || return 1
  "$venv/bin/python" -m pip install --quiet 'airbyte-cdk==7.39.*' >&2 ||
    {
      echo "airbyte-cdk 7.39.* not installable; trying the newest 7.x" >&2
      "$venv/bin/python" -m pip install --quiet 'airbyte-cdk>=7,<8' >&2
    } || return 1
  "$venv/bin/python" -c 'import airbyte_cdk.sources.declarative.migrations.legacy_to_per_partition_state_migration' >&2 ||
    return 1
  touch "$marker"
}

if [ ! -f "$marker" ] || [ ! -x "$venv/bin/python" ]; then
  (
    # Serialise concurrent first runs when flock is there.
    if command -v flock >/dev/null 2>&1; then
      mkdir -p "$(dirname "$venv")" && exec 9>"$venv.lock" && flock 9
    fi
    [ -f "$marker" ] && [ -x "$venv/bin/python" ] && exit 0
    setup_venv
  ) || {
    rm -rf "$venv"
    skip "could not set up a venv with airbyte-cdk 7.x at $venv (no network or no pip?)"
  }
fi

cdk_version="$("$venv/bin/python" -c 'from importlib.metadata import version; print(version("airbyte-cdk"))' 2>/dev/null)" ||
  skip "airbyte-cdk not importable from $venv"
echo "airbyte-cdk $cdk_version ($("$venv/bin/python" --version 2>&1), venv $venv)" >&2

"$venv/bin/python" "$here/legacy_to_per_partition.py" "$@"
rc=$?
[ "$rc" -eq 0 ] || skip "legacy_to_per_partition.py failed (exit $rc)"
exit 0
