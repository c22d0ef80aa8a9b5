"""The Python API: the same numbers as the command line, data in and out of DataFrames,
errors as exceptions, the GIL released, Ctrl-C and progress."""

import json
import math
import threading
import time

import numpy as np
import pandas as pd
import pytest

import pgmkit
from pgmkit import errors

from conftest import DATA

BIF = DATA / "bif"


def leaf_evidence(m, k=3, seed=7):
    """The first k leaves of a network at the states of one forward draw (possible evidence)."""
    has_child = {p for v in m.variables for p in m.parents(v)}
    leaves = [v for v in m.variables if v not in has_child][:k]
    row = m.sample(1, seed=seed).iloc[0]
    return {v: str(row[v]) for v in leaves}


def spec(ev):
    return ",".join(f"{k}={v}" for k, v in ev.items())


def test_version():
    assert isinstance(pgmkit.__version__, str) and pgmkit.__version__.count(".") == 2


@pytest.mark.parametrize("name", ["asia", "cancer", "alarm", "insurance", "child", "hailfinder"])
def test_same_numbers_as_the_cli(name, cli):
    path = BIF / f"{name}.bif"
    m = pgmkit.load(path)
    ev = leaf_evidence(m)
    lz = m.log_z(evidence=ev)
    j = json.loads(cli("logz", str(path), "-e", spec(ev), "--json"))
    assert lz.kind == "exact"
    assert abs(lz.log_z - j["log_z"]) <= 1e-12
    post = m.marginals(evidence=ev)
    jm = json.loads(cli("marginals", str(path), "-e", spec(ev), "--json"))
    worst = max(
        abs(post[v][s] - p)
        for v, d in jm["marginals"].items()
        for s, p in zip(d["states"], d["p"])
    )
    assert worst <= 1e-12
    assert set(post) == set(m.variables)
    for v, dist in post.items():
        assert list(dist) == m.states(v)
        assert abs(sum(dist.values()) - 1.0) < 1e-12


def test_map_equals_the_cli(cli):
    path = BIF / "alarm.bif"
    m = pgmkit.load(path)
    ev = leaf_evidence(m)
    r = m.map(evidence=ev)
    j = json.loads(cli("map", str(path), "-e", spec(ev), "--json"))
    assert r.assignment == j["assignment"]
    assert abs(r.log_value - j["log_value"]) <= 1e-12
    assert r.optimal and r.method == "exact" and r.proof == "max_product"
    # the value recomputed: ln P(x, e) is log P of the full assignment as evidence
    full = {**r.assignment, **ev}
    assert abs(m.log_z(evidence=full).log_z - r.log_value) < 1e-10
    assert abs(r.log10_value * math.log(10) - r.log_value) < 1e-12
    q = m.map(evidence=ev, query=["HYPOVOLEMIA", "LVFAILURE"])
    jq = json.loads(
        cli("map", str(path), "-e", spec(ev), "--query", "HYPOVOLEMIA,LVFAILURE", "--json")
    )
    assert q.kind == "marginal_map" and q.assignment == jq["assignment"]
    assert abs(q.log_value - jq["log_value"]) <= 1e-12


def test_approximate_map_on_a_grid_reports_its_bound():
    g = pgmkit.ising_grid(12, 12, coupling=0.5, field=0.05, periodic=True)
    d = g.map(method="dual", max_sweeps=200)
    a = g.map(method="anneal", seed=3)
    assert d.upper_bound is not None and d.upper_bound >= d.log_value - 1e-9
    assert a.upper_bound is None and a.gap is None and not a.optimal
    # a ferromagnet with a positive field: all spins up
    assert set(a.assignment.values()) == {"+1"}


def test_every_log_z_method_runs_and_says_what_it_is():
    g = pgmkit.ising_grid(4, 4, coupling=0.3, field=0.1)
    exact = g.log_z().log_z
    ais = g.log_z(method="ais", seed=1, particles=64, steps=300)
    assert ais.kind == "stochastic" and ais.std_err > 0
    assert abs(ais.log_z - exact) < 3.29 * ais.std_err + 1e-3  # alpha = 0.001, two-sided
    mf = g.log_z(method="mf")
    trw = g.log_z(method="trw")
    assert mf.kind == "lower_bound" and mf.log_z <= exact + 1e-9
    assert trw.kind == "upper_bound" and trw.log_z >= exact - 1e-9
    assert g.log_z(method="bp").kind == "approximate"
    again = g.log_z(method="ais", seed=1, particles=64, steps=300)
    assert again.log_z == ais.log_z  # same seed, same answer


def test_mcmc_marginals_have_mcse_and_rhat():
    m = pgmkit.load(BIF / "asia.bif")
    ev = {"dysp": "yes"}
    ex = m.marginals(evidence=ev)
    mc = m.marginals(evidence=ev, method="mcmc", seed=2, draws=4000, burn_in=500)
    assert mc.kind == "stochastic" and mc.mcse is not None and mc.rhat is not None
    for v in m.variables:
        if v == "dysp":
            continue
        for s, p in ex[v].items():
            se = mc.mcse[v][s]
            assert abs(mc[v][s] - p) <= 3.29 * se + 1e-3, (v, s)
    df = mc.to_pandas()
    assert {"variable", "state", "probability", "mcse"} <= set(df.columns)


def test_evidence_by_index_equals_by_name():
    m = pgmkit.load(BIF / "asia.bif")
    yes = m.states("dysp").index("yes")
    assert m.log_z(evidence={"dysp": yes}).log_z == m.log_z(evidence={"dysp": "yes"}).log_z


def test_sample_is_a_frame_of_categoricals_reproducible_and_faithful():
    m = pgmkit.load(BIF / "alarm.bif")
    df = m.sample(20000, seed=5)
    assert list(df.columns) == m.variables and len(df) == 20000
    for v in m.variables:
        assert isinstance(df[v].dtype, pd.CategoricalDtype)
        assert list(df[v].cat.categories) == m.states(v)
    assert m.sample(20000, seed=5).equals(df)
    assert not m.sample(20000, seed=6).equals(df)
    # frequencies of one variable against its exact marginal: chi-square at alpha = 0.001
    exact = m.marginals()["HR"]
    counts = df["HR"].value_counts()
    chi2 = sum((counts[s] - 20000 * p) ** 2 / (20000 * p) for s, p in exact.items())
    assert chi2 < 13.82  # 2 degrees of freedom


def test_sample_methods_add_their_columns():
    m = pgmkit.load(BIF / "asia.bif")
    lw = m.sample(100, method="lw", evidence={"dysp": "yes"}, seed=1)
    assert "log_weight" in lw.columns and (lw["dysp"] == "yes").all()
    gb = m.sample(100, method="gibbs", evidence={"dysp": "yes"}, seed=1, chains=2, burn_in=50)
    assert list(gb.columns[:1]) == ["chain"] and len(gb) == 100
    assert (gb["dysp"] == "yes").all()
    with pytest.raises(ValueError):
        m.sample(10, method="forward", evidence={"dysp": "yes"})
    g = pgmkit.ising_grid(3, 3, coupling=0.2, field=0.0)
    assert len(g.sample(10, seed=1, burn_in=10)) == 10


def test_score_equals_log_probability_of_each_row():
    m = pgmkit.load(BIF / "asia.bif")
    df = m.sample(50, seed=3)
    s = m.score(df)
    for i in range(5):
        row = {v: str(df[v].iloc[i]) for v in m.variables}
        assert abs(s["per_row"][i] - m.log_z(evidence=row).log_z) < 1e-12
    assert abs(s["total_log_lik"] - s["per_row"].sum()) < 1e-9
    # a hole is summed out: the row scores as the evidence of its other cells
    holes = df.copy()
    holes["lung"] = holes["lung"].astype(object)
    holes.loc[0, "lung"] = None
    row = {v: str(df[v].iloc[0]) for v in m.variables if v != "lung"}
    assert abs(m.score(holes)["per_row"][0] - m.log_z(evidence=row).log_z) < 1e-12


def test_a_state_named_None_stays_a_state():
    bn = pgmkit.BayesNet()
    bn.add_variable("a", ["None", "some"]).add_variable("b", ["x", "y"])
    bn.add_cpd("a", [], [0.4, 0.6]).add_cpd("b", ["a"], [0.9, 0.1, 0.2, 0.8])
    m = bn.build()
    df = pd.DataFrame({"a": ["None", None, "some"], "b": ["x", "x", None]}, dtype=object)
    s = m.score(df)
    assert abs(s["per_row"][0] - math.log(0.4 * 0.9)) < 1e-12
    assert abs(s["per_row"][1] - math.log(0.4 * 0.9 + 0.6 * 0.2)) < 1e-12
    out = m.impute(df)
    assert out["a"].tolist() == ["None", "None", "some"]  # p(a=None | b=x) = .36/.48
    assert out["b"].tolist() == ["x", "x", "y"]
    assert df["a"].tolist()[1] is None  # the input is untouched


def test_impute_sample_multiple_and_map():
    m = pgmkit.load(BIF / "asia.bif")
    df = m.sample(200, seed=4)
    holes = df.copy()
    for v in ["either", "lung", "tub"]:
        holes[v] = holes[v].astype(object)
        holes.loc[::3, v] = np.nan
    outs = m.impute(holes, method="sample", multiple=3, seed=1)
    assert len(outs) == 3
    for o in outs:
        assert not o[m.variables].isna().any().any()
        # either = lung or tub (a deterministic node): never an impossible combination
        ok = (o["either"] == "yes") == ((o["lung"] == "yes") | (o["tub"] == "yes"))
        assert ok.all()
    assert m.impute(holes, method="sample", multiple=3, seed=1)[2].equals(outs[2])
    mp = m.impute(holes, method="map")
    assert ((mp["either"] == "yes") == ((mp["lung"] == "yes") | (mp["tub"] == "yes"))).all()


def test_learn_recovers_the_network():
    m = pgmkit.load(BIF / "asia.bif")
    df = m.sample(50000, seed=11)
    fitted = pgmkit.learn(df, structure=m)
    for v in ["smoke", "lung", "bronc"]:
        _, t_true = m.cpd(v)
        _, t_fit = fitted.cpd(v)
        assert np.abs(t_true - t_fit).max() < 0.02
    # with holes: EM
    holes = df.head(5000).copy()
    holes["smoke"] = holes["smoke"].astype(object)
    holes.loc[::4, "smoke"] = None
    em = pgmkit.learn(holes, structure=m)
    assert abs(em.cpd("smoke")[1][1] - m.cpd("smoke")[1][1]) < 0.05
    learned = pgmkit.learn(df)
    assert sorted(learned.variables) == sorted(m.variables)
    assert set(learned.parents("dysp")) <= {"bronc", "either", "lung", "tub", "smoke"}


def test_builders_and_roundtrip_through_files(tmp_path):
    fg = pgmkit.FactorGraph()
    fg.add_variable("a", ["0", "1"]).add_variable("b", ["0", "1", "2"])
    fg.add_factor(["a", "b"], [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    m = fg.build()
    assert abs(m.log_z().log_z - math.log(21.0)) < 1e-12
    p = tmp_path / "m.uai"
    m.save(p)
    back = pgmkit.load(p)
    assert abs(back.log_z().log_z - math.log(21.0)) < 1e-12
    bn = pgmkit.load(BIF / "alarm.bif")
    ev = {"BP": "HIGH"}
    want = bn.log_z(evidence=ev).log_z
    for ext in ["bif", "xml", "net"]:
        q = tmp_path / f"alarm.{ext}"
        bn.save(q)
        assert abs(pgmkit.load(q).log_z(evidence=ev).log_z - want) < 1e-9
    q = tmp_path / "alarm.uai"  # UAI has no names: variables are 0, 1, ... and states indices
    bn.save(q)
    i = bn.variables.index("BP")
    by_index = {str(i): bn.states("BP").index("HIGH")}
    assert abs(pgmkit.load(q).log_z(evidence=by_index).log_z - want) < 1e-9
    assert pgmkit.loads(bn.to_string("bif")).variables == bn.variables
    potts = pgmkit.potts_grid(3, 3, 3, coupling=0.5)
    assert potts.kind == "markov" and len(potts.variables) == 9


def test_parse_errors_carry_file_line_and_column(tmp_path):
    p = tmp_path / "bad.bif"
    p.write_text("network x {\n}\nvariable a {\n  type discrete [ 2 ] { yes, no };\n}\nprobability ( a ) {\n  table 0.5 0.5 0.5;\n}\n")
    with pytest.raises(errors.ParseError) as e:
        pgmkit.load(p)
    assert e.value.file == str(p) and e.value.line >= 1 and e.value.column >= 1
    assert isinstance(e.value, ValueError) and e.value.kind == "Parse"
    with pytest.raises(errors.FileError):
        pgmkit.load(tmp_path / "missing.bif")
    (tmp_path / "model.txt").write_text("x")
    with pytest.raises(errors.InvalidArgumentError):
        pgmkit.load(tmp_path / "model.txt")


def test_errors_mirror_the_library():
    m = pgmkit.load(BIF / "asia.bif")
    with pytest.raises(errors.EvidenceError) as e:
        m.log_z(evidence={"nope": "yes"})
    assert e.value.variable == "nope"
    with pytest.raises(errors.EvidenceError) as e:
        m.log_z(evidence={"dysp": "maybe"})
    assert e.value.states == m.states("dysp")
    with pytest.raises(errors.ZeroProbabilityError):
        m.marginals(evidence={"either": "no", "lung": "yes"})
    big = pgmkit.ising_grid(30, 30, coupling=0.2)
    with pytest.raises(errors.TooLargeError) as e:
        big.log_z(memory_limit=1e6)
    assert isinstance(e.value, MemoryError) and e.value.width > 0 and e.value.limit == 1e6
    with pytest.raises(ValueError):
        m.log_z(method="nonsense")
    with pytest.raises(ValueError):
        m.log_z(method="ais", particles=0)
    with pytest.raises(ValueError):
        m.log_z(time_limit=-1)
    with pytest.raises(TypeError):
        m.log_z(evidence={"dysp": 1.5})
    with pytest.raises(errors.DataError):
        m.score(pd.DataFrame({"asia": ["yes"]}))


def test_the_gil_is_released_during_heavy_work():
    g = pgmkit.ising_grid(40, 40, coupling=0.3, periodic=True)
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.005)

    t = threading.Thread(target=tick)
    t.start()
    try:
        t0 = time.monotonic()
        g.log_z(method="ais", seed=1, particles=16, steps=1500)
        t1 = time.monotonic()
    finally:
        stop.set()
        t.join()
    inside = [x for x in ticks if t0 < x < t1]
    assert t1 - t0 > 0.2 and len(inside) >= 0.3 * (t1 - t0) / 0.005


def test_ctrl_c_interrupts_a_long_run():
    import _thread

    g = pgmkit.ising_grid(60, 60, coupling=0.3, periodic=True)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    t0 = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        g.log_z(method="ais", seed=1, particles=256, steps=100000)
    assert time.monotonic() - t0 < 2.0


def test_progress_is_reported():
    g = pgmkit.ising_grid(20, 20, coupling=0.3)
    seen = []
    g.log_z(method="ais", seed=1, particles=32, steps=2000,
            progress=lambda label, done, total: seen.append((label, done, total)))
    assert seen and seen[-1][1] > 0
    assert any(total for _, _, total in seen)


def test_to_graphviz_shades_evidence_and_labels_marginals():
    m = pgmkit.load(BIF / "asia.bif")
    dot = m.to_graphviz(evidence={"dysp": "yes"}, marginals=True)
    assert dot.startswith("digraph") and '"smoke" -> "lung"' in dot
    assert "dysp = yes" in dot and "fillcolor" in dot and "lung\\nno: 0.897" in dot


def test_plots_are_matplotlib_figures():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    g = pgmkit.ising_grid(5, 5, coupling=0.3)
    r = g.log_z(method="bdmc", seed=1, particles=16, steps=100, diagnostics=True)
    assert r.log_weights.shape == (16,) and r.reverse_log_weights.shape == (16,)
    assert len(r.per_temperature) > 10
    fig = r.plot()
    titles = [a.get_title() for a in fig.axes]
    assert titles == ["log weights", "ESS along the path", "log Z increments",
                      "log-weight variance"]
    m = pgmkit.load(BIF / "alarm.bif")
    mc = m.marginals(evidence={"BP": "HIGH"}, method="gibbs", draws=200, burn_in=50, seed=2)
    assert mc.traces.shape == (4, 200, len(m.variables))
    fig = mc.plot()
    assert len(fig.axes) == 5 and "R-hat" in fig.axes[0].get_title()
    with pytest.raises(ValueError):
        m.log_z().plot()
