#!/usr/bin/env bash
# Crash soak: SIGKILLs `rag train` children at 24 points (steps, checkpoint writes, KB encoding, HNSW
# builds, unpublished versions, random times), resumes after each and checks nothing was lost.
# Prints a JSON summary (also left in target/crash-soak.json). Takes several minutes.
# Knobs: -Dsoak.deterministicKills=8 -Dsoak.refreshKills=16 -Dsoak.seed=1 (pass as extra args).
set -euo pipefail
cd "$(dirname "$0")/.."
nice -n 5 mvn -q -B -o test -Dtest=CrashSoakTest -Dgroups=soak -DexcludedTestGroups=none -Dsurefire.failIfNoSpecifiedTests=false "$@"
cat target/crash-soak.json
