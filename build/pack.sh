#!/usr/bin/env bash
# Packs the library (DiLoCo.MLNet.<version>.nupkg, checked by build/pack-library.sh: dependencies, license, README, the
# buildTransitive libstdc++ fix and the model-loader registration in the DLL) and the CLI as a .NET tool
# (diloco.<version>.nupkg, ~215 MB: it carries libtorch), then checks that the tool installs with
#   dotnet tool install --tool-path DIR --add-source FEED diloco
# and trains the tiny example config end to end. About 2–3 minutes on 2 cores; not part of build/test.sh.
# build/consumer-check.sh (run by CI) installs the library package in a fresh console app.
#   bash build/pack.sh [FEED_DIR]     (default artifacts/packages)
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
feed="$(realpath -m "${1:-artifacts/packages}")"
mkdir -p "$feed"

bash build/pack-library.sh "$feed" >/dev/null
dotnet pack src/Examples/DiLoCo.Cli/DiLoCo.Cli.csproj -c Release -o "$feed" --nologo -v quiet

tools="$(mktemp -d)"; work="$(mktemp -d)"
trap 'rm -rf "$tools" "$work"' EXIT
# The same version would otherwise come from the global package cache, not from the package just built.
rm -rf "${NUGET_PACKAGES:-$HOME/.nuget/packages}/diloco"
dotnet tool install --tool-path "$tools" --add-source "$feed" diloco >/dev/null
"$tools/diloco" help >/dev/null
set +e; "$tools/diloco" train --config does-not-exist.json 2>/dev/null; code=$?; set -e
[ "$code" -eq 2 ] || { echo "error: a missing config should exit with 2, got $code" >&2; exit 1; }
"$tools/diloco" train --config src/Examples/configs/tiny.json --output-dir "$work" >/dev/null
for f in model.zip report.json loss.png; do
  [ -s "$work/artifacts/tiny/$f" ] || { echo "error: the installed tool did not write artifacts/tiny/$f" >&2; exit 1; }
done
"$tools/diloco" score --model "$work/artifacts/tiny/model.zip" --text "the cat sees the moon." | grep -q '^tokens: *22$'
echo "ok: $(ls -t "$feed"/diloco.*.nupkg | head -1) installs as a .NET tool and trains, saves and scores"
