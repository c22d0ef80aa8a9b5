"""Scale-out by shards: AIS split by particle range over separate processes, Ray tasks and
Dask workers merges into exactly the one-process result (log Z, standard error, ESS, bit for
bit); shards of another run are refused."""

import json
import multiprocessing as mp
import subprocess

import pytest

import pgmkit
from pgmkit import errors

from conftest import DATA

TORUS = str(DATA / "fg" / "ising_100x100_periodic.fg")
MID = str(DATA / "fg" / "ising_30x30_periodic.fg")
SMALL = str(DATA / "fg" / "ising_10x10_open.fg")
RUN = dict(seed=3, particles=128, steps=20)


def same(a, b):
    assert a.log_z == b.log_z and a.std_err == b.std_err and a.ess == b.ess, (a, b)


def shard_task(start, path=MID, run=RUN):
    """One shard of 32 particles, computed from the model file by whoever runs it."""
    import pgmkit

    return pgmkit.load(path).ais_shard(start, start + 32, **run)


@pytest.fixture(scope="module")
def one_process():
    return pgmkit.load(MID).log_z(method="ais", **RUN)


def test_shards_in_four_processes_merge_bit_for_bit(one_process):
    with mp.get_context("spawn").Pool(2) as pool:
        shards = pool.map(shard_task, [0, 32, 64, 96])
    same(pgmkit.merge(shards), one_process)
    same(pgmkit.merge(list(reversed(shards))), one_process)


def test_cli_shards_in_four_processes_merge_bit_for_bit(cli, tmp_path):
    """The 100x100 torus, 128 particles as 4 shards of 32 in 4 processes."""
    args = ["logz", TORUS, "--method", "ais", "--particles", "128", "--steps", "20", "--seed", "3"]
    whole = json.loads(cli(*args, "--json"))
    files = []
    procs = []
    for i in range(4):
        f = tmp_path / f"shard{i}.json"
        files.append(str(f))
        procs.append(subprocess.Popen([cli.binary, *args, "--particle-range",
                                       f"{32 * i}..{32 * i + 32}", "--shard-out", str(f), "-q"]))
    assert all(p.wait() == 0 for p in procs)
    merged = json.loads(cli("merge", *files, "--json"))
    for k in ["log_z", "std_err", "ess"]:
        assert merged[k] == whole[k], k
    # the Python API reads the same files and gives the same numbers
    py = pgmkit.merge(files)
    assert py.log_z == whole["log_z"] and py.std_err == whole["std_err"]
    assert py.ess == whole["ess"]


def test_ray_local_cluster(one_process):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        def task(start, path=MID, run=RUN):  # defined here: Ray ships it by value
            import pgmkit

            return pgmkit.load(path).ais_shard(start, start + 32, **run)

        remote = ray.remote(task)
        shards = ray.get([remote.remote(s) for s in [0, 32, 64, 96]])
    finally:
        ray.shutdown()
    same(pgmkit.merge(shards), one_process)


def test_dask_local_cluster(one_process):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            def task(start, path=MID, run=RUN):  # defined here: shipped by value
                import pgmkit

                return pgmkit.load(path).ais_shard(start, start + 32, **run)

            shards = client.gather(client.map(task, [0, 32, 64, 96]))
    same(pgmkit.merge(shards), one_process)


def test_shards_of_another_run_are_refused():
    m = pgmkit.load(SMALL)
    run = dict(particles=16, steps=30)
    a = m.ais_shard(0, 8, seed=1, **run)
    with pytest.raises(errors.ShardMismatchError) as e:
        pgmkit.merge([a, m.ais_shard(8, 16, seed=2, **run)])
    assert e.value.what == "seed" and e.value.shard == 1
    other = pgmkit.ising_grid(10, 10, coupling=0.3)
    with pytest.raises(errors.ShardMismatchError) as e:
        pgmkit.merge([a, other.ais_shard(8, 16, seed=1, **run)])
    assert e.value.what == "model"
    with pytest.raises(errors.ShardMismatchError) as e:
        pgmkit.merge([a, m.ais_shard(8, 16, seed=1, particles=16, steps=31)])
    assert e.value.what == "settings"
    with pytest.raises(errors.ShardMismatchError) as e:
        pgmkit.merge([a, m.ais_shard(9, 16, seed=1, **run)])
    assert e.value.what == "ranges"
    with pytest.raises(errors.ShardMismatchError):
        pgmkit.merge([a, m.ais_shard(8, 16, seed=1, evidence={m.variables[0]: 1}, **run)])
    with pytest.raises(ValueError):
        m.ais_shard(8, 4, seed=1, **run)


ALARM = str(DATA / "bif" / "alarm.bif")
CHAINS = dict(chains=4, draws=300, burn_in=50, seed=7)


def same_marginals(a, b):
    assert dict(a) == dict(b)
    assert a.mcse == b.mcse and a.rhat == b.rhat and a.ess == b.ess


def test_mcmc_chain_shards_merge_into_the_one_process_marginals(tmp_path):
    m = pgmkit.load(ALARM)
    ev = {"BP": "HIGH"}
    whole = m.marginals(ev, method="gibbs", **CHAINS)
    parts = [m.mcmc_shard(a, b, evidence=ev, **CHAINS) for a, b in [(0, 1), (1, 3), (3, 4)]]
    same_marginals(m.merge_chains(parts), whole)
    same_marginals(m.merge_chains(list(reversed(parts))), whole)
    # through files, as a Slurm array or a Ray / Dask task would hand them over
    files = []
    for i, p in enumerate(parts):
        f = tmp_path / f"chains{i}.json"
        p.save(str(f))
        files.append(str(f))
    same_marginals(m.merge_chains(files), whole)
    # pgmkit.merge is for AIS shards and says where MCMC shards go
    with pytest.raises(ValueError, match="merge_chains"):
        pgmkit.merge(parts)


def test_mcmc_shards_of_another_run_are_refused():
    m = pgmkit.load(SMALL)
    a = m.mcmc_shard(0, 2, **CHAINS)
    with pytest.raises(errors.ShardMismatchError):
        m.merge_chains([a, m.mcmc_shard(2, 4, **{**CHAINS, "seed": 8})])
    with pytest.raises(errors.ShardMismatchError):
        m.merge_chains([a, m.mcmc_shard(2, 4, **{**CHAINS, "draws": 301})])
    with pytest.raises(errors.ShardMismatchError):
        m.merge_chains([a, m.mcmc_shard(3, 4, **CHAINS)])
    with pytest.raises(ValueError):
        m.mcmc_shard(3, 2, **CHAINS)
    with pytest.raises(ValueError):
        m.mcmc_shard(0, 2, method="bp", **CHAINS)
