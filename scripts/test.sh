#!/usr/bin/env bash
# The README's test command (`npm test`): unit tests, then lab tests on real agents (root), then a
# summary that fails when lab tests were skipped or none ran under CI. Extra arguments go to vitest.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
mkdir -p reports
results=reports/test-results.json
rm -f "$results"
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@"
vitest_rc=$?
node --import tsx scripts/test-summary.ts "$results" "$vitest_rc"
