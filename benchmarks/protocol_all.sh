#!/usr/bin/env bash
# Every stage of the declared protocol (benchmarks/protocol.toml), in order, each a resumable sweep:
# re-running this script skips the stages whose results file exists and resumes the others.
#
#   benchmarks/protocol_all.sh                     # the code of this checkout
#   TREE=/path/to/worktree benchmarks/protocol_all.sh
#
# TREE: a checkout whose code the trials run (a git worktree at a fixed commit keeps edits made meanwhile in
# this checkout away from running trials); the sweeps and the results files stay in this checkout.
# WORKERS: trials at once (default 2). About 8 CPU-hours in all on one AMD EPYC core per trial.
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"
TREE="${TREE:-$HERE}"
PY="${PY:-$HERE/.venv/bin/python}"
RESULTS="$HERE/benchmarks/results"
export PYTHONPATH="$TREE"
cd "$TREE"
while read -r study family stage; do
    name="${study}_${family}"
    out="$RESULTS/protocol_${name}.json"
    [ "$stage" = tune ] && out="$RESULTS/protocol_${name}_tuning.json"
    if [ -f "$out" ]; then
        echo "=== $name $stage: $out exists, skipped"
        continue
    fi
    args=("$study" --stage "$stage")
    [ "$study" = continual ] && args+=(--family "$family")
    echo "=== $(date -Is) $name $stage (code at $(git -C "$TREE" rev-parse --short HEAD))"
    /usr/bin/time -f "=== stage wall %e s, user %U s, sys %S s" "$PY" benchmarks/protocol.py "${args[@]}" \
        --workers "${WORKERS:-2}" --out "$HERE/sweeps/protocol" --results "$RESULTS"
done <<'STAGES'
meta pendulum tune
meta pendulum report
continual cartpole tune
continual cartpole report
continual pendulum tune
continual pendulum report
STAGES
echo "=== all done $(date -Is)"
