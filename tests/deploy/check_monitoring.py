#!/usr/bin/python3
"""CI check of the monitoring and compose files.

  - promtool: `check config` on deploy/prometheus/prometheus.yml (and its rule file),
    `check rules` and the alert unit tests (`test rules` on alerts_test.yml);
  - docker-compose.yml: parses it and checks its structure (services, mounted files exist,
    Prometheus scrapes the server's metrics port, Grafana's datasource and dashboard paths);
  - Grafana: the provisioned datasource and dashboard agree, every panel has a query;
  - deploy/k8s: the PrometheusRule holds exactly the groups of alerts.yml; the
    prometheus-adapter rules serve the metrics the autoscalers ask for;
  - docs/operations.md lists every server flag (server/main.cc) and every metric (metrics.cc);
  - metric names: starts the real styletransfer-server on the model, scrapes its /metrics,
    and checks that every metric used by the dashboard, the alerts, the adapter rules is there
    (DCGM_* GPU metrics, from NVIDIA's exporter, and Prometheus' own `up` excepted).

usage: check_monitoring.py --server build/server/styletransfer-server --work DIR
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import yaml

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXTERNAL = re.compile(r"^(up|DCGM_[A-Z0-9_]+)$")  # metrics that are not the server's
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
            "offset", "inf", "nan"}

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def load_yaml(relative):
    with open(os.path.join(SRC, relative)) as f:
        return yaml.safe_load(f)


def run(args):
    result = subprocess.run(args, cwd=SRC, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    check(result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}")
    print(f"check_monitoring: {' '.join(args)}: {'ok' if result.returncode == 0 else 'FAILED'}")


# ---- PromQL metric names ----------------------------------------------------------------------

def metric_names(expr):
    """The metric names an expression (PromQL, or a Grafana label_values() query) selects."""
    expr = re.sub(r"label_values\(\s*([A-Za-z_:][\w:]*)\s*,[^)]*\)", r"\1", expr)
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # strings
    expr = re.sub(r"\$\{?\w+\}?", "", expr)                   # Grafana variables
    expr = re.sub(r"<<\.\w+>>", "", expr)                     # prometheus-adapter templates
    expr = re.sub(r"\{[^}]*\}", "", expr)                     # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)                    # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][\w:]*", expr):
        rest = expr[m.end():].lstrip()
        if rest.startswith("(") or m.group(0).lower() in KEYWORDS:
            continue
        if m.start() > 0 and (expr[m.start() - 1].isdigit() or expr[m.start() - 1] == "."):
            continue  # 1e3, 0.5 ...
        names.add(m.group(0))
    return names


def self_test_metric_names():
    got = metric_names('histogram_quantile(0.99, sum by (le) (rate(a_bucket{rpc="x",code=~"A|B"}[5m]))) > 10')
    assert got == {"a_bucket"}, got
    got = metric_names("sum(rate(b_total[$__rate_interval])) / on(instance) group_left c_info unless up == 0")
    assert got == {"b_total", "c_info", "up"}, got
    assert metric_names("label_values(d_info, instance)") == {"d_info"}
    assert metric_names("sum by (<<.GroupBy>>) (avg_over_time(<<.Series>>{<<.LabelMatchers>>}[1m]))") == set()


# ---- Files ------------------------------------------------------------------------------------

def dashboard_queries(dashboard):
    queries = []

    def walk(panels):
        for panel in panels:
            if panel.get("type") == "row":
                walk(panel.get("panels", []))
                continue
            targets = panel.get("targets", [])
            check(targets, f"dashboard panel {panel.get('title')!r} has no query")
            check(panel.get("datasource", {}).get("uid") == "prometheus",
                  f"dashboard panel {panel.get('title')!r} does not use the provisioned datasource")
            for target in targets:
                check(target.get("expr"), f"dashboard panel {panel.get('title')!r} has an empty query")
                queries.append((panel.get("title"), target.get("expr", "")))

    walk(dashboard.get("panels", []))
    for var in dashboard.get("templating", {}).get("list", []):
        query = var.get("query")
        queries.append((f"variable {var.get('name')}", query.get("query") if isinstance(query, dict) else query))
    return queries


def check_compose_and_grafana():
    compose = load_yaml("docker-compose.yml")
    services = compose.get("services", {})
    for name in ("server", "prometheus", "grafana"):
        check(name in services, f"docker-compose.yml: no service {name}")
    server = services.get("server", {})
    build = server.get("build", {})
    check(os.path.isfile(os.path.join(SRC, build.get("context", "."), build.get("dockerfile", "Dockerfile"))),
          "docker-compose.yml: the server's Dockerfile does not exist")
    mounts = {}
    for name, service in services.items():
        image = service.get("image", "")
        check(not image.endswith(":latest") and (":" in image or "build" in service),
              f"docker-compose.yml: {name}: pin the image version ({image!r})")
        for volume in service.get("volumes", []):
            parts = volume.split(":")
            if parts[0].startswith("./"):
                check(os.path.exists(os.path.join(SRC, parts[0])), f"docker-compose.yml: {name}: {parts[0]} does not exist")
                mounts[(name, parts[1])] = os.path.normpath(parts[0])
            else:
                check(parts[0] in (compose.get("volumes") or {}), f"docker-compose.yml: {name}: undeclared volume {parts[0]}")

    # Prometheus reads the mounted configuration, whose rule file lies beside it.
    command = services.get("prometheus", {}).get("command", [])
    config_path = next((c.split("=", 1)[1] for c in command if c.startswith("--config.file=")), "/etc/prometheus/prometheus.yml")
    check(mounts.get(("prometheus", config_path)) == "deploy/prometheus/prometheus.yml",
          "docker-compose.yml: prometheus does not mount deploy/prometheus/prometheus.yml as its --config.file")
    prometheus = load_yaml("deploy/prometheus/prometheus.yml")
    for rule_file in prometheus.get("rule_files", []):
        in_container = os.path.join(os.path.dirname(config_path), rule_file)
        check(mounts.get(("prometheus", in_container)) == os.path.normpath(os.path.join("deploy/prometheus", rule_file)),
              f"docker-compose.yml: prometheus does not mount the rule file {rule_file} at {in_container}")
    # It scrapes the server's metrics port.
    server_flags = dict(c.lstrip("-").split("=", 1) for c in server.get("command", []) if "=" in c)
    metrics_port = server_flags.get("metrics_listen", "0.0.0.0:9090").rsplit(":", 1)[1]
    job = next((j for j in prometheus.get("scrape_configs", []) if j.get("job_name") == "styletransfer"), None)
    if check(job, "prometheus.yml: no styletransfer job"):
        targets = [t for c in job.get("static_configs", []) for t in c.get("targets", [])]
        check(f"server:{metrics_port}" in targets, f"prometheus.yml: the styletransfer job does not scrape server:{metrics_port}")
        check(str(metrics_port) in [str(p) for p in server.get("expose", [])], "docker-compose.yml: the server does not expose its metrics port")

    # Grafana: the datasource points at the compose Prometheus; the dashboards folder is mounted
    # where the provider looks.
    grafana_mounts = {k[1]: v for k, v in mounts.items() if k[0] == "grafana"}
    check(grafana_mounts.get("/etc/grafana/provisioning") == "deploy/grafana/provisioning",
          "docker-compose.yml: grafana does not mount deploy/grafana/provisioning")
    datasources = load_yaml("deploy/grafana/provisioning/datasources/prometheus.yml")["datasources"]
    check(len(datasources) == 1 and datasources[0]["url"] == "http://prometheus:9090" and datasources[0]["uid"] == "prometheus",
          "grafana datasource: expected uid prometheus at http://prometheus:9090")
    provider = load_yaml("deploy/grafana/provisioning/dashboards/styletransfer.yml")["providers"][0]
    check(grafana_mounts.get(provider["options"]["path"]) == "deploy/grafana/dashboards",
          "grafana: the dashboard provider's path is not where deploy/grafana/dashboards is mounted")
    with open(os.path.join(SRC, "deploy/grafana/dashboards/styletransfer.json")) as f:
        dashboard = json.load(f)
    ids = []

    def collect(panels):
        for p in panels:
            ids.append(p["id"])
            collect(p.get("panels", []))

    collect(dashboard["panels"])
    check(len(ids) == len(set(ids)), "dashboard: panel ids are not unique")
    return dashboard


def check_kubernetes_rules(alerts):
    rule = load_yaml("deploy/k8s/base/prometheusrule.yaml")
    check(rule["spec"]["groups"] == alerts["groups"],
          "deploy/k8s/base/prometheusrule.yaml: its groups differ from deploy/prometheus/alerts.yml")
    adapter = load_yaml("deploy/k8s/prometheus-adapter/values.yaml")["rules"]["custom"]
    served = {r["name"]["as"] for r in adapter}
    for path in ("deploy/k8s/base/hpa.yaml", "deploy/k8s/overlays/gpu/hpa-gpu.yaml"):
        for metric in load_yaml(path)["spec"]["metrics"]:
            if metric["type"] == "Pods":
                name = metric["pods"]["metric"]["name"]
                check(name in served, f"{path}: the custom metric {name} is not served by the prometheus-adapter rules")
    return [(f"adapter rule {r['name']['as']}", r["seriesQuery"]) for r in adapter] + \
           [(f"adapter rule {r['name']['as']}", r["metricsQuery"]) for r in adapter]


def check_docs():
    with open(os.path.join(SRC, "docs/operations.md")) as f:
        docs = f.read()
    with open(os.path.join(SRC, "server/main.cc")) as f:
        flags = re.findall(r"ABSL_FLAG\(\s*[\w:]+\s*,\s*(\w+)\s*,", f.read())
    with open(os.path.join(SRC, "server/metrics.cc")) as f:
        metrics = set(re.findall(r'"(styletransfer_\w+)"', f.read()))
    check(len(flags) >= 30 and len(metrics) >= 15, f"found only {len(flags)} flags and {len(metrics)} metrics in the sources")
    for flag in flags:
        check(f"`--{flag}`" in docs, f"docs/operations.md does not document the flag --{flag}")
    for metric in sorted(metrics):
        check(f"`{metric}`" in docs, f"docs/operations.md does not document the metric {metric}")
    print(f"check_monitoring: docs/operations.md documents {len(flags)} flags and {len(metrics)} metrics")


# ---- The real /metrics ------------------------------------------------------------------------

def model_dir(work):
    default = os.path.join(SRC, "models/default")
    if os.path.isfile(os.path.join(default, "decoder.pt")):
        return default
    shared = os.environ.get("STYLE_SHARED_DIR", os.path.join(SRC, "../shared"))
    out = os.path.join(work, "models/adain-vgg19")
    if not os.path.isfile(os.path.join(out, "decoder.pt")):
        vgg = os.path.join(shared, "models/adain-vgg19")
        if not os.path.isfile(os.path.join(vgg, "decoder.pth")):
            return None
        subprocess.run(["/usr/bin/python3", os.path.join(SRC, "tools/convert_weights.py"),
                        os.path.join(vgg, "vgg_normalised.pth"), os.path.join(vgg, "decoder.pth"), "--out-dir", out],
                       check=True, stdout=subprocess.DEVNULL)
    return out


def scrape_real_server(binary, work):
    models = model_dir(work)
    if models is None:
        if os.environ.get("CI") == "true":
            check(False, "no model: neither models/default nor ../shared's VGG weights")
        else:
            print("check_monitoring: SKIP the /metrics check: no model (models/default or ../shared)")
        return None
    log_path = os.path.join(work, "server.log")
    with open(log_path, "w") as log:
        server = subprocess.Popen([binary, f"--model_dir={models}", "--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
                                   "--warmup_shapes=32x32", "--torch_threads=1", "--codec_threads=1"],
                                  stdout=log, stderr=log)
    try:
        port = None
        deadline = time.time() + 120
        while time.time() < deadline and port is None and server.poll() is None:
            m = re.search(r"metrics on port (\d+)", open(log_path).read())
            port = int(m.group(1)) if m else None
            time.sleep(0.2)
        if not check(port, f"the server did not start:\n{open(log_path).read()}"):
            return None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    names = {re.match(r"[A-Za-z_:][\w:]*", line).group(0) for line in text.splitlines() if line and not line.startswith("#")}
    check("styletransfer_serving" in text and "styletransfer_model_info{" in text, "the scrape lacks the serving and model gauges")
    print(f"check_monitoring: scraped {len(names)} series names from the real server's /metrics")
    return names


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True, help="the styletransfer-server binary")
    parser.add_argument("--work", required=True, help="a scratch folder (kept between runs)")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    self_test_metric_names()

    run(["promtool", "check", "config", "deploy/prometheus/prometheus.yml"])
    run(["promtool", "check", "rules", "deploy/prometheus/alerts.yml"])
    run(["promtool", "test", "rules", "deploy/prometheus/alerts_test.yml"])

    check_docs()
    dashboard = check_compose_and_grafana()
    alerts = load_yaml("deploy/prometheus/alerts.yml")
    queries = dashboard_queries(dashboard)
    queries += [(f"alert {r['alert']}", r["expr"]) for g in alerts["groups"] for r in g["rules"]]
    queries += check_kubernetes_rules(alerts)

    used = {}
    for where, expr in queries:
        for name in metric_names(expr):
            used.setdefault(name, where)
    check(len([n for n in used if n.startswith("styletransfer_")]) >= 12,
          f"suspiciously few metric names found in the queries: {sorted(used)}")
    exposed = scrape_real_server(args.server, args.work)
    if exposed is not None:
        for name, where in sorted(used.items()):
            if EXTERNAL.match(name):
                continue
            check(name in exposed, f"{where}: metric {name} is not in the server's /metrics")
        print(f"check_monitoring: {len(used)} metric names used; "
              f"{len([n for n in used if not EXTERNAL.match(n)])} checked against /metrics, "
              f"external: {', '.join(sorted(n for n in used if EXTERNAL.match(n)))}")

    if failures:
        print("check_monitoring: FAILED\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("check_monitoring: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
