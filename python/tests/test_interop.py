"""pgmpy and pyAgrum interop: their objects in, pgmpy objects out, their files both ways.
Skipped when pgmpy / pyAgrum are not installed (`pip install "./python[interop]"`)."""

import warnings

import numpy as np
import pytest

import pgmkit

from conftest import DATA

BIF = DATA / "bif"
SMALL = ["asia", "cancer", "sachs", "survey", "alarm", "child", "insurance"]

pgmpy = pytest.importorskip("pgmpy")


def leaf_evidence(m, k=3, seed=7):
    has_child = {p for v in m.variables for p in m.parents(v)}
    leaves = [v for v in m.variables if v not in has_child][:k]
    row = m.sample(1, seed=seed).iloc[0]
    return {v: str(row[v]) for v in leaves}


def pgmpy_read_bif(path):
    from pgmpy.readwrite import BIFReader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return BIFReader(str(path)).get_model()


@pytest.mark.parametrize("name", SMALL)
def test_from_pgmpy_gives_the_bifs_log_p_e(name):
    direct = pgmkit.load(BIF / f"{name}.bif")
    via = pgmkit.from_pgmpy(pgmpy_read_bif(BIF / f"{name}.bif"))
    assert sorted(via.variables) == sorted(direct.variables)
    ev = leaf_evidence(direct)
    assert abs(via.log_z(evidence=ev).log_z - direct.log_z(evidence=ev).log_z) < 1e-9
    for v in direct.variables:
        assert via.states(v) == direct.states(v)


@pytest.mark.parametrize(
    "path",
    ["xmlbif/asia.xml", "xmlbif/alarm.xml", "xmlbif/insurance.xml", "net/asia.net",
     "net/alarm.net", "net/insurance.net"],
)
def test_files_written_by_pgmpy_load_as_their_bif(path):
    name = path.split("/")[1].split(".")[0]
    direct = pgmkit.load(BIF / f"{name}.bif")
    m = pgmkit.load(DATA / path)
    ev = leaf_evidence(direct)
    assert abs(m.log_z(evidence=ev).log_z - direct.log_z(evidence=ev).log_z) < 1e-9


@pytest.mark.parametrize("name", ["asia", "alarm", "insurance"])
def test_pgmkits_xmlbif_and_net_load_back_in_pgmpy(name, tmp_path):
    from pgmpy.readwrite import NETReader, XMLBIFReader

    m = pgmkit.load(BIF / f"{name}.bif")
    ev = leaf_evidence(m)
    want = m.log_z(evidence=ev).log_z
    x = tmp_path / f"{name}.xml"
    n = tmp_path / f"{name}.net"
    m.save(x)
    m.save(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_xml = XMLBIFReader(str(x)).get_model()
        from_net = NETReader(str(n)).get_model()
    for back in (from_xml, from_net):
        assert abs(pgmkit.from_pgmpy(back).log_z(evidence=ev).log_z - want) < 1e-9


def test_to_pgmpy_round_trip_and_pgmpy_inference_agree():
    from pgmpy.inference import VariableElimination

    m = pgmkit.load(BIF / "asia.bif")
    p = pgmkit.to_pgmpy(m)
    assert p.check_model()
    back = pgmkit.from_pgmpy(p)
    ev = {"dysp": "yes", "xray": "no"}
    assert abs(back.log_z(evidence=ev).log_z - m.log_z(evidence=ev).log_z) < 1e-12
    post = m.marginals(evidence=ev)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = VariableElimination(p).query(["lung"], evidence=ev, show_progress=False)
    for s, pr in zip(q.state_names["lung"], q.values):
        assert abs(post["lung"][s] - pr) < 1e-12


def test_markov_networks_convert_both_ways():
    g = pgmkit.ising_grid(3, 3, coupling=0.4, field=0.1)
    p = pgmkit.to_pgmpy(g)
    back = pgmkit.from_pgmpy(p)
    assert abs(back.log_z().log_z - g.log_z().log_z) < 1e-9
    # pgmpy's own partition function of the same network
    assert abs(np.log(p.get_partition_function()) - g.log_z().log_z) < 1e-9


def test_from_pyagrum_gives_the_bifs_log_p_e():
    gum = pytest.importorskip("pyagrum")
    for name in ["asia", "alarm", "insurance"]:  # pyAgrum cannot read child.bif ("Asy/Patch")
        direct = pgmkit.load(BIF / f"{name}.bif")
        via = pgmkit.from_pyagrum(gum.loadBN(str(BIF / f"{name}.bif")))
        ev = leaf_evidence(direct)
        # pyAgrum keeps probabilities in float32
        assert abs(via.log_z(evidence=ev).log_z - direct.log_z(evidence=ev).log_z) < 1e-5
