#!/usr/bin/env bash
# The detect-secrets gate: fail on a secret-like string that is not in the reviewed
# baseline (.secrets.baseline). The hook rewrites line numbers when code moves and
# exits 3 for that alone; the gate checks against a copy, so only a new finding
# (exit 1) fails. Add a reviewed false positive with
#   .venv-tools/bin/detect-secrets scan --baseline .secrets.baseline
# and mark it in `detect-secrets audit .secrets.baseline`, or put
# `pragma: allowlist secret` on the line.
set -uo pipefail
cd "$(dirname "$0")/.."
hook="${TOOLS:-.venv-tools}/bin/detect-secrets-hook"
copy="$(mktemp)"
trap 'rm -f "$copy"' EXIT
cp .secrets.baseline "$copy"
mapfile -d '' files < <(git ls-files -z -- ':!requirements*.lock' ':!.secrets.baseline')
"$hook" --baseline "$copy" "${files[@]}"
rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ]; then
  echo "detect-secrets: no secret outside the reviewed baseline (${#files[@]} files)"
  exit 0
fi
exit 1
