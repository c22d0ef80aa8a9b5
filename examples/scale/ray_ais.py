"""AIS over a Ray cluster: one task per shard of particles, merged into exactly the
one-process result (same log Z, standard error and ESS, bit for bit).

    pip install "./python[scale]"
    python examples/scale/ray_ais.py tests/data/fg/ising_100x100_periodic.fg --shards 4

With no address, `ray.init` starts a local cluster of `--cpus` CPUs; pass `--address auto` on a
running cluster. Each task loads the model from the path (a shared file system) itself.
"""

import argparse

import ray

import pgmkit


def shard(path, start, end, particles, steps, seed):
    import pgmkit

    return pgmkit.load(path).ais_shard(start, end, particles=particles, steps=steps, seed=seed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--particles", type=int, default=128)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--address", default=None)
    ap.add_argument("--check", action="store_true", help="also run in one process and compare")
    a = ap.parse_args()
    ray.init(address=a.address, num_cpus=None if a.address else a.cpus, include_dashboard=False)
    per = -(-a.particles // a.shards)
    ranges = [(s, min(s + per, a.particles)) for s in range(0, a.particles, per)]
    task = ray.remote(shard)
    shards = ray.get(
        [task.remote(a.model, s, e, a.particles, a.steps, a.seed) for s, e in ranges]
    )
    ray.shutdown()
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
