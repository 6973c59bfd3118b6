#!/usr/bin/env bash
# Runs the test suite (README's test command) and prints the closing line CI reads:
#   N passed, N failed, N skipped
# dotnet test on Microsoft.Testing.Platform prints total:/failed:/succeeded:/skipped: lines instead,
# so we derive that line from them and pass dotnet's exit code through (0 ok, 2 failures, 8 no test ran).
set -uo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log="$(mktemp)"
dotnet test --project test/Microsoft.ML.DiLoCo.Tests/Microsoft.ML.DiLoCo.Tests.csproj -c Release "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
num() { grep -E "^\s*$1:\s*[0-9]+" "$log" | tail -1 | grep -oE '[0-9]+' | head -1; }
succeeded=$(num succeeded); failed=$(num failed); skipped=$(num skipped)
rm -f "$log"
echo "${succeeded:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
if [ "$rc" -eq 8 ]; then echo "error: no test ran" >&2; fi
exit "$rc"
