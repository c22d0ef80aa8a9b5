"""AIS over a Dask cluster: one future per shard of particles (`client.map`), merged into
exactly the one-process result (same log Z, standard error and ESS, bit for bit).

    pip install "./python[scale]"
    python examples/scale/dask_ais.py tests/data/fg/ising_100x100_periodic.fg --shards 4

With no scheduler address a `LocalCluster` of `--workers` single-threaded processes runs;
pass `--scheduler tcp://host:8786` for a running cluster. Each task loads the model from the
path (a shared file system) itself.
"""

import argparse

from dask.distributed import Client, LocalCluster

import pgmkit


def shard(bounds, path, particles, steps, seed):
    import pgmkit

    start, end = bounds
    return pgmkit.load(path).ais_shard(start, end, particles=particles, steps=steps, seed=seed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--particles", type=int, default=128)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scheduler", default=None)
    ap.add_argument("--check", action="store_true", help="also run in one process and compare")
    a = ap.parse_args()
    per = -(-a.particles // a.shards)
    ranges = [(s, min(s + per, a.particles)) for s in range(0, a.particles, per)]
    cluster = None
    if a.scheduler is None:
        cluster = LocalCluster(n_workers=a.workers, threads_per_worker=1, dashboard_address=None)
    with Client(a.scheduler or cluster) as client:
        futures = client.map(
            shard, ranges, path=a.model, particles=a.particles, steps=a.steps, seed=a.seed
        )
        shards = client.gather(futures)
    if cluster is not None:
        cluster.close()
    r = pgmkit.merge(shards)
    print(f"log Z {r.log_z!r}  std err {r.std_err!r}  ESS {r.ess!r}  ({len(shards)} shards)")
    if a.check:
        one = pgmkit.load(a.model).log_z(
            method="ais", particles=a.particles, steps=a.steps, seed=a.seed
        )
        same = (one.log_z, one.std_err, one.ess) == (r.log_z, r.std_err, r.ess)
        print(f"one process: log Z {one.log_z!r}; bit-identical: {same}")


if __name__ == "__main__":
    main()
