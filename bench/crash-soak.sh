#!/usr/bin/env bash
# Crash soak: SIGKILLs `rag train` children at 36 points (steps, checkpoint writes, KB encoding, HNSW
# builds, unpublished versions, refreshes spanning a checkpoint, publish-before-checkpoint, random times),
# resumes after each and checks nothing was lost (and, with --refresh-publish-lag, that the loss curve is unchanged).
# Prints a JSON summary (also left in target/crash-soak.json). Takes several minutes.
# Knobs: -Dsoak.deterministicKills=8 -Dsoak.refreshKills=16 -Dsoak.lagKills=12 -Dsoak.seed=1 (pass as extra args).
set -euo pipefail
cd "$(dirname "$0")/.."
nice -n 5 mvn -q -B -o test -Dtest=CrashSoakTest -Dgroups=soak -DexcludedTestGroups=none -Dsurefire.failIfNoSpecifiedTests=false "$@"
cat target/crash-soak.json
