#!/usr/bin/env python3
"""Runs runstore's standard benchmark queries on peer engines.

Loads the workload JSONL written by `runstore generate` / `runstore bench`
into (a) MLflow's SQLite tracking store through MlflowClient, (b) DuckDB and
(c) SQLite with hand-made indexes; runs the queries listed in the
`expected.json` that `runstore bench` writes beside its workload; checks
every answer against the expected run ids; times each query; and, given
runstore's JSON report, prints runstore/peer ratios. Not part of CI.

    python3 benches/peers/run_peers.py --workload bench-data/workload-....jsonl \
        --expected bench-data/expected.json --report report.json
"""

import argparse
import json
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT_VENV = "/tmp/runstore-peers-venv"
PEERS = ("sqlite", "duckdb", "mlflow")


# ---------------------------------------------------------------- setup


def ensure_packages(venv, peers):
    """Re-executes this script inside a virtualenv that has mlflow and duckdb,
    creating it on first use (the install takes a few minutes)."""
    wanted = [p for p in ("mlflow", "duckdb") if p in peers]
    try:
        for name in wanted:
            __import__(name)
        return
    except ImportError:
        pass
    python = os.path.join(venv, "bin", "python")
    # A venv's python is often a symlink to the same binary: compare prefixes.
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        sys.exit(f"{venv} lacks {wanted}: pip install them there")
    if not os.path.exists(python):
        print(f"creating {venv} and installing {' '.join(wanted)} ...", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", venv])
    subprocess.check_call([python, "-m", "pip", "install", "-q", *wanted])
    os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])


# ---------------------------------------------------------------- workload


def point_value(v):
    return float(v) if not isinstance(v, str) else float(v.replace("Infinity", "inf"))


def read_workload(path):
    """Experiment lines and run lines, as dicts (values parsed to floats)."""
    experiments, runs = [], []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            obj = json.loads(line)
            if obj.get("kind") == "experiment":
                experiments.append(obj)
                continue
            for points in obj.get("metrics", {}).values():
                for p in points:
                    p["value"] = point_value(p["value"])
            runs.append(obj)
    return experiments, runs


def latest(points):
    """MLflow's latest point: greatest (step, timestamp, value), NaN as 0."""
    return max(points, key=lambda p: (p["step"], p["timestamp"],
                                      0.0 if math.isnan(p["value"]) else p["value"]))


# ---------------------------------------------------------------- SQL peers

SCHEMA = [
    "CREATE TABLE runs (run_id TEXT PRIMARY KEY, experiment_id TEXT, start_time BIGINT,"
    " deleted INTEGER)",
    "CREATE TABLE params (run_id TEXT, key TEXT, value TEXT)",
    "CREATE TABLE tags (run_id TEXT, key TEXT, value TEXT)",
    "CREATE TABLE latest (run_id TEXT, key TEXT, value DOUBLE, is_nan INTEGER)",
    "CREATE TABLE points (run_id TEXT, key TEXT, step BIGINT, ts BIGINT, value DOUBLE,"
    " is_nan INTEGER)",
]
# Indexes a careful engineer would add for these queries (SQLite only).
SQLITE_INDEXES = [
    "CREATE INDEX runs_order ON runs (deleted, start_time DESC, run_id)",
    "CREATE INDEX params_kv ON params (key, value, run_id)",
    "CREATE INDEX tags_kv ON tags (key, value, run_id)",
    "CREATE INDEX latest_kv ON latest (key, value, run_id)",
    "CREATE INDEX points_run ON points (run_id, key, ts, step)",
]


def rows(runs):
    r, p, t, lt, pts = [], [], [], [], []
    for run in runs:
        rid = run["run_id"]
        r.append((rid, run["experiment_id"], run["start_time"],
                  int(run.get("lifecycle_stage") == "deleted")))
        p += [(rid, k, v) for k, v in run.get("params", {}).items()]
        t += [(rid, k, v) for k, v in run.get("tags", {}).items()]
        for key, points in run.get("metrics", {}).items():
            last = latest(points)["value"]
            lt.append((rid, key, 0.0 if math.isnan(last) else last, int(math.isnan(last))))
            pts += [(rid, key, q["step"], q["timestamp"],
                     0.0 if math.isnan(q["value"]) else q["value"], int(math.isnan(q["value"])))
                    for q in points]
    return {"runs": r, "params": p, "tags": t, "latest": lt, "points": pts}


def load_sql(con, runs, indexes, placeholder="?"):
    for stmt in SCHEMA:
        con.execute(stmt)
    for table, data in rows(runs).items():
        if data:
            marks = ", ".join([placeholder] * len(data[0]))
            con.executemany(f"INSERT INTO {table} VALUES ({marks})", data)
    for stmt in indexes:
        con.execute(stmt)
    con.commit()


def quote(s):
    return "'" + s.replace("'", "''") + "'"


def condition_sql(cond):
    """One workload Condition as an EXISTS clause over the peer schema."""
    (kind, (key, arg)), = cond.items()
    k = quote(key)
    if kind == "ParamEq":
        return f"EXISTS (SELECT 1 FROM params x WHERE x.run_id = r.run_id AND x.key = {k}" \
               f" AND x.value = {quote(arg)})"
    if kind == "TagEq":
        return f"EXISTS (SELECT 1 FROM tags x WHERE x.run_id = r.run_id AND x.key = {k}" \
               f" AND x.value = {quote(arg)})"
    if kind == "TagContains":
        return f"EXISTS (SELECT 1 FROM tags x WHERE x.run_id = r.run_id AND x.key = {k}" \
               f" AND instr(x.value, {quote(arg)}) > 0)"
    op = {"MetricGt": ">", "MetricLt": "<"}[kind]
    return f"EXISTS (SELECT 1 FROM latest x WHERE x.run_id = r.run_id AND x.key = {k}" \
           f" AND x.is_nan = 0 AND x.value {op} {float(arg)!r})"


def search_sql(search, limit, offset):
    where = ["r.deleted = 0"] + [condition_sql(c) for c in search["conditions"]]
    order, join = "", ""
    key = search.get("order_by_desc")
    if key:
        join = f" LEFT JOIN latest o ON o.run_id = r.run_id AND o.key = {quote(key)}"
        order = ("CASE WHEN o.run_id IS NULL THEN 2 WHEN o.is_nan = 1 THEN 1 ELSE 0 END,"
                 " o.value DESC, ")
    return (f"SELECT r.run_id FROM runs r{join} WHERE {' AND '.join(where)}"
            f" ORDER BY {order}r.start_time DESC, r.run_id ASC LIMIT {limit} OFFSET {offset}")


def run_sql_query(con, query):
    (kind, body), = query.items()
    if kind == "History":
        out = []
        for rid in body["run_ids"]:
            out.append(con.execute(
                "SELECT step, ts, CASE WHEN is_nan = 1 THEN NULL ELSE value END FROM points"
                f" WHERE run_id = {quote(rid)} AND key = {quote(body['key'])}"
                " ORDER BY ts, step, value").fetchall())
        return {"history_lengths": [len(h) for h in out]}
    size = body["page_size"]
    ids, offset = [], 0
    while True:
        page = [r[0] for r in con.execute(search_sql(body, size, offset)).fetchall()]
        ids += page
        offset += size
        if not body["all_pages"] or len(page) < size:
            return {"run_ids": ids}


# ---------------------------------------------------------------- MLflow


def load_mlflow(uri, experiments, runs):
    """Logs the workload through MlflowClient; returns {mlflow id: workload id}."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp_ids = {e["experiment_id"]: client.create_experiment(e["name"]) for e in experiments}
    mapping = {}
    for run in runs:
        tags = run.get("tags", {})
        created = client.create_run(exp_ids[run["experiment_id"]], start_time=run["start_time"],
                                    tags={k: v for k, v in tags.items()},
                                    run_name=run.get("run_name"))
        rid = created.info.run_id
        mapping[rid] = run["run_id"]
        metrics = [Metric(k, p["value"], p["timestamp"], p["step"])
                   for k, pts in run.get("metrics", {}).items() for p in pts]
        params = [Param(k, v) for k, v in run.get("params", {}).items()]
        # MLflow's limits per log_batch: 1000 metrics, 100 params.
        for i in range(0, len(metrics), 1000):
            client.log_batch(rid, metrics=metrics[i:i + 1000])
        for i in range(0, len(params), 100):
            client.log_batch(rid, params=params[i:i + 100])
        client.set_terminated(rid, status=run.get("status", "FINISHED"),
                              end_time=run.get("end_time"))
        if run.get("lifecycle_stage") == "deleted":
            client.delete_run(rid)
    return client, list(exp_ids.values()), mapping


def run_mlflow_query(client, exp_ids, mapping, back, query, entry):
    (kind, body), = query.items()
    if kind == "History":
        lengths = [len(client.get_metric_history(back[rid], body["key"]))
                   for rid in body["run_ids"]]
        return {"history_lengths": lengths}
    ids, token = [], None
    while True:
        page = client.search_runs(exp_ids, filter_string=entry["filter"] or "",
                                  order_by=entry["order_by"] or None,
                                  max_results=body["page_size"], page_token=token)
        ids += [mapping[r.info.run_id] for r in page]
        token = page.token
        if not body["all_pages"] or not token:
            return {"run_ids": ids}


# ---------------------------------------------------------------- timing


def timed(fn, repeats):
    times, answer = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        answer = fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p99 = times[max(0, math.ceil(len(times) * 0.99) - 1)]
    return answer, statistics.median(times), p99


def folder_bytes(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def bench_peer(name, workdir, experiments, runs, expected, repeats):
    t0 = time.perf_counter()
    if name == "mlflow":
        db = os.path.join(workdir, "mlflow.db")
        client, exp_ids, mapping = load_mlflow(f"sqlite:///{db}", experiments, runs)
        back = {v: k for k, v in mapping.items()}
        run = lambda e: run_mlflow_query(client, exp_ids, mapping, back, e["query"], e)
        size_path = db
    elif name == "duckdb":
        import duckdb
        size_path = os.path.join(workdir, "peer.duckdb")
        con = duckdb.connect(size_path)
        load_sql(con, runs, [])
        run = lambda e: run_sql_query(con, e["query"])
    else:
        size_path = os.path.join(workdir, "peer.sqlite")
        con = sqlite3.connect(size_path)
        load_sql(con, runs, SQLITE_INDEXES)
        con.execute("ANALYZE")
        run = lambda e: run_sql_query(con, e["query"])
    ingest = time.perf_counter() - t0

    points = sum(len(p) for r in runs for p in r.get("metrics", {}).values())
    report = {"peer": name, "ingest_secs": ingest, "ingest_runs_per_sec": len(runs) / ingest,
              "ingest_points_per_sec": points / ingest, "disk_bytes": folder_bytes(size_path),
              "queries": []}
    for entry in expected:
        answer, median, p99 = timed(lambda: run(entry), repeats)
        verified = answer == entry["expected"]
        report["queries"].append({"name": entry["name"], "median_ms": median, "p99_ms": p99,
                                  "verified": verified})
        mark = "yes" if verified else "NO"
        print(f"  {name:7} {entry['name']:22} {median:10.3f} ms  verified {mark}",
              file=sys.stderr)
    return report


def print_ratios(ours, peers):
    """runstore / peer for each figure. Rates: above 1 is runstore faster.
    Bytes and latencies: below 1 is runstore smaller or faster."""
    print(f"{'runstore / peer':40}" + "".join(f"{p['peer']:>10}" for p in peers))
    figures = [("ingest runs/s", lambda r: r["ingest_runs_per_sec"]),
               ("ingest points/s", lambda r: r["ingest_points_per_sec"]),
               ("disk bytes", lambda r: r["disk_bytes"])]
    for q in ours["queries"]:
        figures.append((f"{q['name']} median ms", lambda r, n=q["name"]: next(
            x for x in r["queries"] if x["name"] == n)["median_ms"]))
    for label, get in figures:
        ratios = [get(ours) / max(get(p), 1e-9) for p in peers]
        print(f"{label:40}" + "".join(f"{x:10.3f}" for x in ratios))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", required=True, help="workload JSONL")
    ap.add_argument("--expected", required=True, help="expected.json from runstore bench")
    ap.add_argument("--report", help="runstore bench --json report, for ratios")
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--venv", default=DEFAULT_VENV)
    ap.add_argument("--out", help="write the peer figures as JSON here")
    args = ap.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    ensure_packages(args.venv, peers)

    experiments, runs = read_workload(args.workload)
    with open(args.expected) as f:
        expected = json.load(f)
    workdir = tempfile.mkdtemp(prefix="runstore-peers-")
    try:
        reports = []
        for peer in peers:
            os.makedirs(os.path.join(workdir, peer))
            reports.append(bench_peer(peer, os.path.join(workdir, peer), experiments, runs,
                                      expected, args.repeats))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    if args.out:
        with open(args.out, "w") as f:
            json.dump(reports, f, indent=2)
    if args.report:
        with open(args.report) as f:
            print_ratios(json.load(f), reports)
    failed = [f"{r['peer']}:{q['name']}" for r in reports for q in r["queries"]
              if not q["verified"]]
    if failed:
        sys.exit(f"answers differ from runstore's ground truth: {', '.join(failed)}")


if __name__ == "__main__":
    main()
