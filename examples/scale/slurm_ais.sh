#!/usr/bin/env bash
# AIS over a Slurm job array: task i computes particles [32 i, 32 i + 32) of one 128-particle
# run and writes its shard; a dependent job merges the shards into exactly the one-process
# result (same log Z, standard error and ESS, bit for bit).
#
#   sbatch --array=0-3 examples/scale/slurm_ais.sh            # the shards
#   sbatch --dependency=afterok:<jobid> --wrap \
#     "pgmkit merge shards/ais_*.json --json > ais.json"       # the merge
#
# Runs without Slurm too: `SLURM_ARRAY_TASK_ID=2 examples/scale/slurm_ais.sh`.
#SBATCH --job-name=pgmkit-ais
#SBATCH --cpus-per-task=2
#SBATCH --time=01:00:00
set -euo pipefail

MODEL=${MODEL:-tests/data/fg/ising_100x100_periodic.fg}
PARTICLES=${PARTICLES:-128}
SHARDS=${SHARDS:-4}
STEPS=${STEPS:-1000}
SEED=${SEED:-1}
i=${SLURM_ARRAY_TASK_ID:?set by sbatch --array (or by hand)}
per=$(( (PARTICLES + SHARDS - 1) / SHARDS ))
start=$(( i * per ))
end=$(( start + per < PARTICLES ? start + per : PARTICLES ))
mkdir -p shards
pgmkit logz "$MODEL" --method ais --particles "$PARTICLES" --steps "$STEPS" --seed "$SEED" \
  --particle-range "$start..$end" --shard-out "shards/ais_$i.json" \
  --threads "${SLURM_CPUS_PER_TASK:-1}"
