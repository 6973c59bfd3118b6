#!/usr/bin/env bash
# Packs the library as DiLoCo.MLNet.<version>.nupkg into FEED_DIR and checks what a consumer depends on:
#   - the nuspec declares Microsoft.ML, Microsoft.ML.Tokenizers and TorchSharp, an MIT license expression, a README;
#   - buildTransitive/DiLoCo.MLNet.targets is the Debian 12 libstdc++ fix (build/LibStdCxxFix.targets);
#   - the packed DLL carries ML.NET's model-loader registration (build/CheckLoaderRegistration.cs).
# Prints the package's path on its last line. Used by build/pack.sh and build/consumer-check.sh.
#   bash build/pack-library.sh FEED_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
[ $# -eq 1 ] || { echo "usage: bash build/pack-library.sh FEED_DIR" >&2; exit 2; }
feed="$(realpath -m "$1")"
mkdir -p "$feed"
id=DiLoCo.MLNet

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
dotnet pack src/Microsoft.ML.DiLoCo/Microsoft.ML.DiLoCo.csproj -c Release -o "$feed" --nologo -v quiet >"$scratch/pack.log" 2>&1 \
  || { cat "$scratch/pack.log" >&2; echo "error: dotnet pack of the library failed" >&2; exit 1; }
library="$(ls -t "$feed"/$id.*.nupkg | head -1)"
fail() { echo "error: $library $1" >&2; exit 1; }

nuspec="$(unzip -p "$library" $id.nuspec)"
for dependency in Microsoft.ML Microsoft.ML.Tokenizers TorchSharp; do
  grep -q "<dependency id=\"$dependency\"" <<<"$nuspec" || fail "does not declare $dependency"
done
grep -q '<license type="expression">MIT</license>' <<<"$nuspec" || fail "has no MIT license expression"
listing="$(unzip -l "$library")" # (not piped into grep -q: an early exit of grep fails the pipe under pipefail)
grep -q ' README.md$' <<<"$listing" || fail "has no README.md"
unzip -p "$library" buildTransitive/$id.targets | cmp -s - build/LibStdCxxFix.targets \
  || fail "does not carry build/LibStdCxxFix.targets as buildTransitive/$id.targets"

unzip -q -j "$library" 'lib/net10.0/Microsoft.ML.DiLoCo.dll' -d "$scratch" || fail "has no lib/net10.0/Microsoft.ML.DiLoCo.dll"
dotnet run --file build/CheckLoaderRegistration.cs -- "$scratch/Microsoft.ML.DiLoCo.dll" >&2 || fail "holds a DLL without the model-loader registration"
echo "ok: $library (dependencies, MIT, README, buildTransitive libstdc++ fix, model-loader registration)" >&2
echo "$library"
