#!/usr/bin/env bash
# The library as a new user gets it: packs DiLoCo.MLNet into a folder feed, creates fresh `dotnet new console` apps in a
# temp folder outside the repo (so none of the repo's Directory.*.props, NuGet.config or build/ files apply), adds the
# packages with the README's own `dotnet add package` lines (DiLoCo.MLNet from the folder feed only, libtorch and the
# rest from the repo's package source), and runs the README's two programs:
#   1. "Use it from code" (with a smaller model): train, Evaluate, Generate, ml.Model.Save   -> dotnet run
#   2. "Save, load, score and generate in another program": load, score, generate          -> dotnet publish, run twice
#      (same output both times: generation is seeded from the MLContext seed)
#   3. program 2 again through a ProjectReference to the library from outside the repo plus the one Import line that
#      docs/packaging.md gives for that case                                               -> dotnet run
# On Debian 12 each app fails at the first torch call unless the package's buildTransitive libstdc++ fix ran.
# Prints "consumer-check: PASS" or "consumer-check: FAIL at <step>" last; exit code 0 only on PASS.
# About 4–6 minutes on 2 cores. Removes its temp folder and the package it put in the NuGet cache.
#   bash build/consumer-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
cache="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
work="$(mktemp -d "${TMPDIR:-/tmp}/diloco-consumer.XXXXXX")"
step="start"
version=""

finish() {
  local rc=$?
  rm -rf "$work"
  if [ -n "$version" ]; then rm -rf "$cache/diloco.mlnet/$version"; rmdir "$cache/diloco.mlnet" 2>/dev/null || true; fi
  if [ "$rc" -eq 0 ]; then echo "consumer-check: PASS (DiLoCo.MLNet $version in fresh console apps: train, save, load, score, generate)"
  else echo "consumer-check: FAIL at $step (exit code $rc)"; fi
  exit "$rc"
}
trap finish EXIT
fail() { echo "error: $*" >&2; exit 1; }

step="where the apps live"
case "$work/" in "$repo/"*) fail "the temp folder $work is inside the repo: set TMPDIR elsewhere" ;; esac
for dir in "$work" $(d="$work"; while [ "$d" != / ]; do d="$(dirname "$d")"; echo "$d"; done); do
  for f in Directory.Build.props Directory.Build.targets Directory.Packages.props; do
    [ ! -e "$dir/$f" ] || fail "$dir/$f would apply to the fresh apps: a new user's machine has none"
  done
done

# The README's code: block NAME is the fenced block after the line <!-- consumer-check:NAME ... -->.
readme_block() {
  local block
  block="$(awk -v tag="<!-- consumer-check:$1 " 'index($0, tag) == 1 { found = 1; next }
    found && /^```/ { if (inside) exit; inside = 1; next } inside { print }' "$repo/README.md")"
  [ -n "$block" ] || fail "README.md has no code block after <!-- consumer-check:$1 ... -->"
  printf '%s\n' "$block"
}
# Replaces one exact piece of the README's code; fails if the README no longer has it.
shrink() {
  [[ "$program" == *"$1"* ]] || fail "README's training code no longer contains '$1' (build/consumer-check.sh makes the model smaller there)"
  program="${program//"$1"/"$2"}"
}
add_packages() { # runs the README's `dotnet add package` lines in the current project, except those naming $1
  local line
  while IFS= read -r line; do
    [[ "$line" == "dotnet add package "* ]] || continue
    [[ -z "${1:-}" || "$line" != *"$1"* ]] || continue
    echo "+ $line"
    eval "$line" >/dev/null || fail "'$line' failed in $PWD"
  done <<<"$packages"
}

packages="$(readme_block packages)"

step="pack"
library="$(bash build/pack-library.sh "$work/feed" | tail -1)"
version="$(basename "$library" .nupkg)"; version="${version#DiLoCo.MLNet.}"
rm -rf "$cache/diloco.mlnet/$version" # else restore would take an earlier build of the same version from the cache

step="NuGet.config"
# The repo's package sources (NuGet.config), plus the folder feed, which alone may serve DiLoCo.MLNet.
sources="$(sed -n '/<packageSources>/,/<\/packageSources>/p' NuGet.config | grep -E '<(clear|add) ')"
keys="$(grep -oE '<add key="[^"]+"' <<<"$sources" | sed -E 's/<add key="([^"]+)"/\1/')"
{
  echo '<?xml version="1.0" encoding="utf-8"?>'
  echo '<configuration>'
  echo '  <packageSources>'
  echo "$sources"
  echo "    <add key=\"diloco-feed\" value=\"$work/feed\" />"
  echo '  </packageSources>'
  echo '  <packageSourceMapping>'
  echo '    <packageSource key="diloco-feed"><package pattern="DiLoCo.MLNet" /></packageSource>'
  for key in $keys; do echo "    <packageSource key=\"$key\"><package pattern=\"*\" /></packageSource>"; done
  echo '  </packageSourceMapping>'
  echo '</configuration>'
} >"$work/NuGet.config"

step="the training app (README: Use it from code)"
mkdir -p "$work/run"
{ echo Text; for i in $(seq 1 300); do echo "the cat sees the moon, and the dog sees the sun on day $i."; done; } >"$work/run/train.tsv"
{ echo Text; for i in $(seq 1 40); do echo "the dog sees the moon, and the cat sees the sun on night $i."; done; } >"$work/run/valid.tsv"
dotnet new console -o "$work/Train" >/dev/null
cd "$work/Train"
add_packages
program="$(readme_block train)"
shrink 'ContextLength = 128, EmbeddingSize = 128, NumberOfLayers = 4, NumberOfHeads = 4' 'ContextLength = 32, EmbeddingSize = 32, NumberOfLayers = 3, NumberOfHeads = 2'
shrink 'InnerSteps = 44,' 'InnerSteps = 12,'
shrink 'TrainingSteps = 2000,' 'TrainingSteps = 48,'
printf '%s\n' "$program" >Program.cs
dotnet build -c Release -v quiet -nologo >"$work/train-build.log" 2>&1 || { cat "$work/train-build.log"; fail "the training app does not build"; }
cd "$work/run"
dotnet run --no-build -c Release --project "$work/Train" | tee "$work/train.log"
grep -qE '^validation: [0-9]+\.[0-9]+ nats/token' "$work/train.log" || fail "the training app printed no finite validation loss"
grep -q '^generated: ' "$work/train.log" || fail "the training app did not generate"
[ -s "$work/run/lm.zip" ] || fail "the training app did not save lm.zip"

step="the scoring app, published (README: Save, load, score and generate in another program)"
dotnet new console -o "$work/Score" >/dev/null
cd "$work/Score"
add_packages
program="$(readme_block score)"
printf '%s\n' "$program" >Program.cs
dotnet publish -c Release -o "$work/Score/out" -v quiet -nologo >"$work/score-build.log" 2>&1 || { cat "$work/score-build.log"; fail "the scoring app does not publish"; }
cd "$work/run"
dotnet "$work/Score/out/Score.dll" | tee "$work/score.log"
dotnet "$work/Score/out/Score.dll" >"$work/score-again.log"
grep -qE '^loss [0-9]+\.[0-9]+ nats/token, perplexity [0-9.]+, 33 tokens$' "$work/score.log" || fail "the scoring app printed no finite loss over 33 tokens"
grep -q '^generated: ' "$work/score.log" || fail "the scoring app did not generate"
cmp -s "$work/score.log" "$work/score-again.log" || fail "two runs with MLContext(seed: 1) printed different text: $(diff "$work/score.log" "$work/score-again.log")"

step="the scoring app through a ProjectReference (docs/packaging.md)"
dotnet new console -o "$work/ProjectRef" >/dev/null
cd "$work/ProjectRef"
dotnet add reference "$repo/src/Microsoft.ML.DiLoCo/Microsoft.ML.DiLoCo.csproj" >/dev/null
add_packages DiLoCo.MLNet # the library is the referenced project here: only the libtorch line applies
sed -i "s|</Project>|  <Import Project=\"$repo/build/LibStdCxxFix.targets\" />\n</Project>|" ProjectRef.csproj
program="$(readme_block score)"
printf '%s\n' "$program" >Program.cs
dotnet build -c Release -v quiet -nologo >"$work/projectref-build.log" 2>&1 || { cat "$work/projectref-build.log"; fail "the ProjectReference app does not build"; }
cd "$work/run"
dotnet run --no-build -c Release --project "$work/ProjectRef" >"$work/projectref.log"
cmp -s "$work/score.log" "$work/projectref.log" || fail "the ProjectReference app printed something else than the packaged one: $(diff "$work/score.log" "$work/projectref.log")"
echo "the ProjectReference app printed the same"
step="done"
