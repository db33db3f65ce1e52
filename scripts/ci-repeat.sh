#!/usr/bin/env bash
# The suite's steadiness, kept as evidence: runs .ci/run N times, each in a fresh clone of one commit
# under $HOME (root's 0700 home, as a user's clone may be), with ../shared beside it as CI has it,
# and prints each run's closing line, exit status and time. A flaky test shows as a run that differs.
#   usage (root): scripts/ci-repeat.sh [N=3] [COMMIT=HEAD]
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-3}
commit=$(git -C "$repo" rev-parse "${2:-HEAD}") || exit 2
shared=$(cd "$repo/../shared" 2>/dev/null && pwd) || { echo "no ../shared beside $repo" >&2; exit 2; }
echo "commit $commit, $n runs of .ci/run from fresh clones"
failed=0
for i in $(seq 1 "$n"); do
  work=$(mktemp -d "$HOME/mountstorm-ci-XXXXXX")
  git clone -q "$repo" "$work/main" && git -C "$work/main" checkout -q "$commit"
  cp -r "$shared" "$work/shared"
  start=$(date +%s)
  (cd "$work/main" && bash .ci/run </dev/null >"$work/ci.log" 2>&1)
  rc=$?
  [ "$rc" -eq 0 ] || failed=$((failed + 1))
  echo "run $i: $(tail -n 1 "$work/ci.log") (exit $rc, $(($(date +%s) - start)) s; log $work/ci.log)"
done
echo "$((n - failed)) of $n runs green"
[ "$failed" -eq 0 ]
