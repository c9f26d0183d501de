"""Fleet-scale benchmark: iotplan (release build) against `iotplan emulator` with the documented
per-Action quotas and an injected latency per call (default 20 ms).

For every scenario it prints the API calls by Action against the minimum for the strategy
iotplan chose, the wall time against the bound the quotas and the latency allow, throttled
answers, and peak RSS; and, where a user would script it, the same read done with Alibaba's
official Python SDK (sequential QueryDevice paging, one QueryDeviceProp per device).

Bounds (RTT = the injected latency; Q(A) = Action A's quota per second):
  n calls of Action A      (n - 1) / Q(A): the first goes at once, then one per 1/Q(A) s
  listing P pages          3 RTT + max((P - 1) / Q(QueryDevice), C * RTT), where C = P - 199 pages
                           (0 when P <= 200) follow the NextToken chain one round trip each; the
                           3 RTT are the product check, the size question and page 1
  tags for N devices       + (N - 1) / Q(QueryDeviceProp)   (read after the listing), or on an
                           Enterprise Edition instance 3 RTT + ceil(N / 50) / Q(QueryDeviceBySQL)
                           (the check, the size question and the count, then 50-row pages); past
                           10,000 devices the counts of the creation-time windows (from the
                           creation time the check returned) are overhead the calls ratio shows
  emulator CPU             its CPU seconds per second of wall time during each iotplan run
  declared, prune off      2 RTT + T, the first time at which every source running at its quota
                           has answered for every name: BatchGetDeviceState 50 names at
                           Q = 50, BatchQueryDeviceDetail 100 names at Q = 5 for declared
                           nicknames, and the listing (when the declared devices are nearly the
                           whole product) 50 a page, its shallow pages and its NextToken chain
                           sharing QueryDevice's 50 QPS, the chain one page per RTT
  by name, N names         2 RTT + (ceil(N / 50) - 1) / Q(BatchGetDeviceState)
  registering N devices    plan + 2 * (2 RTT + apply delay) + (ceil(N / 50) - 1) / Q(QueryPageByApplyId),
                           chunks of 10,000 overlapping (4 at a time)
"""

import argparse
import json
import math
import os
import pathlib
import platform
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
BIN = os.environ.get("IOTPLAN_BIN", str(ROOT / "target" / "release" / "iotplan"))
KEY_ID, KEY_SECRET = "iotplan-demo", "iotplan-demo-secret"
QUOTA = {
    "QueryDevice": 50, "QueryDeviceProp": 50, "BatchQueryDeviceDetail": 5, "QueryProduct": 50,
    "BatchCheckDeviceNames": 10, "QueryBatchRegisterDeviceStatus": 30,
    "BatchRegisterDeviceWithApplyId": 500, "QueryPageByApplyId": 50, "QueryDeviceBySQL": 10,
    "BatchGetDeviceState": 50,
}


class Emulator:
    def __init__(self, workdir, seed, latency_ms, apply_delay_ms, qps_scale=1.0):
        seed_path = workdir / "seed.json"
        seed_path.write_text(json.dumps(seed))
        self.proc = subprocess.Popen(
            [BIN, "emulator", "--listen", "127.0.0.1:0", "--seed", str(seed_path),
             "--latency-ms", str(latency_ms), "--apply-delay-ms", str(apply_delay_ms),
             "--qps-scale", str(qps_scale)],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        match = re.search(r"(http://[0-9.]+:[0-9]+)", self.proc.stderr.readline())
        assert match, "the emulator did not start"
        self.endpoint = match.group(1)
        self.host = self.endpoint.removeprefix("http://")

    def log(self):
        with urllib.request.urlopen(self.endpoint + "/_emulator/requests") as answer:
            return json.load(answer)

    def cpu_seconds(self):
        """The emulator process's CPU time so far (user + system)."""
        fields = pathlib.Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def busy(self, wall):
        """How busy the emulator was since the last clear: CPU seconds per second of `wall`."""
        return (self.cpu_seconds() - self.cpu_mark) / wall

    def clear(self):
        self.cpu_mark = self.cpu_seconds()
        urllib.request.urlopen(urllib.request.Request(self.endpoint + "/_emulator/requests", method="DELETE")).close()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def run_measured(args, cwd, endpoint):
    """Runs iotplan and returns wall, exit code, stdout, stderr, peak RSS (MB), CPU seconds."""
    env = dict(os.environ, ALIBABA_CLOUD_ACCESS_KEY_ID=KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET=KEY_SECRET,
               ALIBABA_CLOUD_REGION_ID="cn-shanghai", IOTPLAN_ENDPOINT=endpoint, NO_COLOR="1")
    env.pop("RUST_LOG", None)
    out_file = tempfile.TemporaryFile()
    err_file = tempfile.TemporaryFile()
    # GNU time reports iotplan's own peak RSS (a child forked from this Python process would
    # count the Python pages it started with) and its CPU time.
    stats = tempfile.NamedTemporaryFile(suffix=".time")
    started = time.monotonic()
    code = subprocess.call(["/usr/bin/time", "-q", "-o", stats.name, "-f", "%M %U %S", BIN, *args],
                           cwd=cwd, env=env, stdout=out_file, stderr=err_file)
    wall = time.monotonic() - started
    max_kb, user, system = open(stats.name).read().split()[-3:]
    out_file.seek(0)
    err_file.seek(0)
    return {
        "wall": wall, "code": code, "stdout": out_file.read().decode(),
        "stderr": err_file.read().decode(), "rss_mb": int(max_kb) / 1024,
        "cpu": float(user) + float(system),
    }


def calls_by_action(log):
    calls, throttled = {}, 0
    for request in log:
        calls[request["action"]] = calls.get(request["action"], 0) + 1
        if (request.get("code") or "").startswith("Throttling"):
            throttled += 1
    return calls, throttled


def paced(calls, action):
    """The least time `calls` calls of one Action take at its quota (the first goes at once)."""
    return max(0, calls - 1) / QUOTA[action]


def listing_bound(pages, rtt):
    chain = max(0, pages - 199) if pages > 200 else 0
    return 3 * rtt + max(paced(pages, "QueryDevice"), chain * rtt)


def declared_bound(count, rtt, nick_share=0.0, listing=True):
    """The multi-source read's bound (see the module docs), by stepping time 1 ms at a time."""
    dt = 0.001
    # Page 1 (read first, past 500 declared devices) answers for its 50.
    state_left = (count - 50) * (1 - nick_share)
    detail_left = (count - 50) * nick_share
    shallow_left = min(count, 10_000) - 50 if listing else 0
    chain_left = max(0, count - 10_000) if listing else 0
    t = 0.0
    while state_left + detail_left > 0.5:
        t += dt
        state = min(state_left, 2500 * dt)
        detail = min(detail_left, 500 * dt)
        chain_pages = min(50.0, 1 / rtt if rtt else 50.0) if chain_left > 0 else 0.0
        shallow_pages = 50.0 - chain_pages if shallow_left > 0 else 0.0
        listed = min(shallow_left, shallow_pages * 50 * dt) + min(chain_left, chain_pages * 50 * dt)
        shallow_left -= min(shallow_left, shallow_pages * 50 * dt)
        chain_left -= min(chain_left, chain_pages * 50 * dt)
        state_left -= state
        detail_left -= detail
        # What the listing reads, the name-based reads need not: shared in proportion.
        total_left = state_left + detail_left
        if total_left > 0:
            state_left -= listed * state_left / total_left
            detail_left -= listed * detail_left / total_left
        state_left, detail_left = max(0.0, state_left), max(0.0, detail_left)
    return 2 * rtt + t


def nickname_manifest(path, product, count):
    """Every device listed, a nickname on every 10th."""
    with open(path, "w") as f:
        f.write(f"apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: {product}\ndevices:\n")
        for n in range(1, count + 1):
            f.write(f"  - name: unit-{n:06}\n" + (f"    nickname: N_{n}\n" if n % 10 == 0 else ""))


def manifest(path, product, count, prune=False, tags=False, start=1, instance=None):
    lines = ["apiVersion: iotplan/v1", "kind: DeviceSet", f"product: {product}", f"prune: {str(prune).lower()}",
             *([f"instance: {instance}"] if instance else []),
             "devices:", f"  - name: unit-{{n:06}}", f"    range: {{from: {start}, to: {start + count - 1}}}"]
    if tags:
        lines.append("    tags: {fleet: bench}")
    path.write_text("\n".join(lines) + "\n")


def sdk_client(host):
    from alibabacloud_iot20180120.client import Client
    from alibabacloud_tea_openapi import models as open_api_models
    return Client(open_api_models.Config(access_key_id=KEY_ID, access_key_secret=KEY_SECRET, endpoint=host,
                                         protocol="http", region_id="cn-shanghai"))


def sdk_read(host, product, with_tags):
    """What a user writes today: QueryDevice pages in sequence, then QueryDeviceProp per device."""
    from alibabacloud_iot20180120 import models as m
    client = sdk_client(host)
    started = time.monotonic()
    names, token, page = [], None, 1
    while True:
        body = client.query_device(m.QueryDeviceRequest(product_key=product, page_size=50, current_page=page,
                                                        next_token=token)).body
        names.extend(d.device_name for d in body.data.device_info)
        token = body.next_token
        if not token or len(body.data.device_info) < 50:
            break
        page += 1
    if with_tags:
        for name in names:
            client.query_device_prop(m.QueryDevicePropRequest(product_key=product, device_name=name))
    return time.monotonic() - started, len(names)


INSTANCE = "iot-bench01"


def seed_products(count, tagged):
    if not tagged:
        product = {"key": "a1BenchFleet", "generate": {"prefix": "unit-", "count": count, "width": 6}}
        nicknamed = {"key": "a1BenchNick", "devices": [
            {"name": f"unit-{n:06}", **({"nickname": f"N_{n}"} if n % 10 == 0 else {})} for n in range(1, count + 1)]}
        return {"products": [product, nicknamed, {"key": "a1BenchNew"}]}
    devices = [{"name": f"unit-{n:06}", "tags": {"fleet": "bench"}} for n in range(1, count + 1)]
    # The same tagged fleet on the public instance and on an Enterprise Edition instance.
    return {"instances": [INSTANCE], "products": [
        {"key": "a1BenchFleet", "devices": devices},
        {"key": "a1BenchEnt", "instance": INSTANCE, "devices": devices},
    ]}


# --check: skip the SDK scripts and fail on any scenario whose calls exceed its minimum (times the
# scenario's tolerance) or that drew a throttling answer. Wall times are printed, never checked.
CHECK = False
# --plans-only: the no-prune plan scenarios alone (for latency sweeps with the SDK script beside).
PLANS_ONLY = False


class CheckFailed(AssertionError):
    pass


def sdk_beside(host, product, with_tags, count):
    """The SDK script's wall time for the same read, or None with --check (which skips it)."""
    if CHECK:
        return None
    wall, seen = sdk_read(host, product, with_tags)
    assert seen == count, f"the SDK script saw {seen} devices"
    return wall


def report(rows, name, calls, minimum, wall, bound, throttled, rss, extra="", busy=None, tolerance=1.0):
    total = sum(calls.values())
    if CHECK and not (minimum <= total <= minimum * tolerance and throttled == 0):
        raise CheckFailed(f"{name}: {total} calls {dict(calls)} against the minimum {minimum} "
                          f"(tolerance {tolerance}x), {throttled} throttled")
    ratio_calls = total / minimum if minimum else float("nan")
    if busy is not None:
        extra = f"{extra} (emulator CPU {busy * 100:.0f}% of one core)".strip()
    rows.append((name, sum(calls.values()), minimum, ratio_calls, wall, bound, wall / bound, throttled, rss, extra))
    detail = ", ".join(f"{k} {v}" for k, v in sorted(calls.items()))
    print(f"  {name}: calls {sum(calls.values())} ({detail}) vs minimum {minimum} = {ratio_calls:.3f}x; "
          f"wall {wall:.2f} s vs bound {bound:.2f} s = {wall / bound:.2f}x; throttled {throttled}; "
          f"peak RSS {rss:.0f} MB {extra}", flush=True)


def bench_size(count, latency_ms, apply_delay_ms, rows, tags_sizes):
    rtt = latency_ms / 1000
    print(f"\n== {count} devices, {latency_ms} ms latency, real quotas", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        emu = Emulator(work, seed_products(count, tagged=False), latency_ms, apply_delay_ms)
        try:
            # Plan: every device declared, no tags, no changes.
            manifest(work / "m.yaml", "a1BenchFleet", count)
            emu.clear()
            run = run_measured(["plan", "m.yaml", "--detailed-exitcode"], work, emu.endpoint)
            assert run["code"] == 0, run["stderr"][-2000:]
            calls, throttled = calls_by_action(emu.log())
            busy = emu.busy(run["wall"])
            pages = math.ceil(count / 50)
            if count <= 500:
                minimum = 1 + math.ceil(count / 50)
                bound = 2 * rtt + paced(math.ceil(count / 50), "BatchGetDeviceState")
            else:
                # The check and page 1, then 50 names a call, by state or by page.
                minimum = 1 + pages
                # The listing joins from 5,000 declared devices on.
                bound = declared_bound(count, rtt, listing=count >= 5_000)
            emu.clear()
            sdk_wall = sdk_beside(emu.host, "a1BenchFleet", False, count)
            report(rows, f"plan {count}, no prune, no nicknames, {latency_ms} ms", calls, minimum, run["wall"], bound,
                   throttled, run["rss_mb"],
                   f"(SDK script {sdk_wall:.2f} s: iotplan {sdk_wall / run['wall']:.1f}x faster)" if sdk_wall else "",
                   busy=busy, tolerance=1.1)

            # Plan: every device declared, a nickname on every 10th, no changes.
            nickname_manifest(work / "m.yaml", "a1BenchNick", count)
            emu.clear()
            run = run_measured(["plan", "m.yaml", "--detailed-exitcode"], work, emu.endpoint)
            assert run["code"] == 0, run["stderr"][-2000:]
            calls, throttled = calls_by_action(emu.log())
            busy = emu.busy(run["wall"])
            if count <= 500:
                minimum = 1 + math.ceil(count * 0.9 / 50) + math.ceil(count * 0.1 / 100)
                bound = 2 * rtt + max(paced(math.ceil(count * 0.9 / 50), "BatchGetDeviceState"),
                                      paced(math.ceil(count * 0.1 / 100), "BatchQueryDeviceDetail"))
            else:
                minimum = 1 + math.ceil(1 + (count - 50) * 0.9 / 50 + (count - 50) * 0.1 / 100)
                bound = declared_bound(count, rtt, nick_share=0.1, listing=count >= 5_000)
            # The SDK script reads the same pages whatever the manifest declares: its time above.
            report(rows, f"plan {count}, no prune, nickname on every 10th, {latency_ms} ms", calls, minimum,
                   run["wall"], bound, throttled, run["rss_mb"],
                   f"(SDK script {sdk_wall:.2f} s: iotplan {sdk_wall / run['wall']:.1f}x faster)" if sdk_wall else "",
                   busy=busy, tolerance=1.25)

            # Plan: 50 declared devices of this product, prune off: read by name.
            manifest(work / "m.yaml", "a1BenchFleet", 50, start=count - 49)
            emu.clear()
            run = run_measured(["plan", "m.yaml", "--detailed-exitcode"], work, emu.endpoint)
            assert run["code"] == 0, run["stderr"][-2000:]
            calls, throttled = calls_by_action(emu.log())
            busy = emu.busy(run["wall"])
            report(rows, f"plan 50 of {count}, {latency_ms} ms", calls, 2, run["wall"], 2 * rtt,
                   throttled, run["rss_mb"], "(minimum: the product check and one BatchGetDeviceState)", busy=busy)

            if PLANS_ONLY:
                return
            # Apply: the same number of new devices in another product.
            manifest(work / "m.yaml", "a1BenchNew", count)
            emu.clear()
            run = run_measured(["apply", "m.yaml", "--auto-approve", "--secrets-out", "s.json"], work, emu.endpoint)
            assert run["code"] == 0, run["stdout"][-2000:] + run["stderr"][-2000:]
            written = len(json.loads((work / "s.json").read_text())["devices"])
            assert written == count, f"{written} secrets written"
            calls, throttled = calls_by_action(emu.log())
            busy = emu.busy(run["wall"])
            chunks = math.ceil(count / 10_000)
            polls = calls.get("QueryBatchRegisterDeviceStatus", 0)
            # Planning into an empty product: the check, then by name (up to 500: each state call
            # refused for its unknown names, then the detail read) or one empty page.
            if count <= 500:
                plan_calls = 1 + math.ceil(count / 50) + math.ceil(count / 100)
                plan_bound = 3 * rtt + paced(math.ceil(count / 100), "BatchQueryDeviceDetail")
            else:
                plan_calls, plan_bound = 2, 2 * rtt
            minimum = plan_calls + 2 * chunks + pages + polls
            bound = plan_bound + 2 * (2 * rtt + apply_delay_ms / 1000) + paced(pages, "QueryPageByApplyId")
            report(rows, f"apply {count} new, {latency_ms} ms", calls, minimum, run["wall"], bound, throttled, run["rss_mb"],
                   f"({polls} status polls counted in the minimum; {written} secrets written)", busy=busy)
        finally:
            emu.stop()

    if count in tags_sizes and not PLANS_ONLY:
        with tempfile.TemporaryDirectory() as tmp:
            work = pathlib.Path(tmp)
            emu = Emulator(work, seed_products(count, tagged=True), latency_ms, apply_delay_ms)
            try:
                pages = math.ceil(count / 50)
                props_bound = listing_bound(pages, rtt) + paced(count, "QueryDeviceProp")
                # Besides the check and the size question: one count and the pages; past 10,000
                # devices also the counts of the creation-time windows (overhead the calls ratio
                # shows), which start from the creation time the check returned.
                partitioned = count > 10_000
                sql_calls = 1 + pages
                sql_bound = 3 * rtt + paced(1 + pages, "QueryDeviceBySQL")
                beside = ""
                if partitioned:
                    # Per-device reads and the SDK script take (N / 50) at 50 QPS + N at 50 QPS:
                    # over half an hour at 100,000, so their bound stands in for a run.
                    beside = f"{props_bound / sql_bound:.1f}x below the per-device bound ({props_bound:.0f} s)"
                else:
                    emu.clear()
                    sdk_wall = sdk_beside(emu.host, "a1BenchFleet", True, count)
                    manifest(work / "m.yaml", "a1BenchFleet", count, tags=True)
                    emu.clear()
                    run = run_measured(["plan", "m.yaml", "--detailed-exitcode"], work, emu.endpoint)
                    assert run["code"] == 0, run["stderr"][-2000:]
                    calls, throttled = calls_by_action(emu.log())
                    busy = emu.busy(run["wall"])
                    # The check, page 1, 50 names a call (by state or by page), then the tags.
                    report(rows, f"plan {count}, tags, public instance", calls, 1 + pages + count, run["wall"],
                           props_bound, throttled, run["rss_mb"],
                           "(QueryDeviceProp per device" + (f"; SDK script {sdk_wall:.2f} s: {run['wall'] / sdk_wall:.2f}x)"
                                                            if sdk_wall else ")"), busy=busy, tolerance=1.01)
                    props_wall = run["wall"]

                manifest(work / "m.yaml", "a1BenchEnt", count, tags=True, instance=INSTANCE)
                emu.clear()
                run = run_measured(["plan", "m.yaml", "--detailed-exitcode"], work, emu.endpoint)
                assert run["code"] == 0, run["stderr"][-2000:]
                calls, throttled = calls_by_action(emu.log())
                busy = emu.busy(run["wall"])
                if not partitioned:
                    beside = f"QueryDeviceBySQL: {props_wall / run['wall']:.1f}x faster than per-device reads"
                    if sdk_wall:
                        beside += f", {sdk_wall / run['wall']:.1f}x faster than the SDK script"
                # The windows' counts: a few per halving level, a small share of the pages.
                report(rows, f"plan {count}, tags, enterprise instance", calls, 2 + sql_calls, run["wall"],
                       sql_bound, throttled, run["rss_mb"], f"({beside})", busy=busy,
                       tolerance=1.1 if partitioned else 1.0)
            finally:
                emu.stop()


def local_work(rows):
    """Parsing, validating and diffing 1,000,000 declared devices, and plan's peak RSS over them."""
    print("\n== 1,000,000 declared devices: local work", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        manifest(work / "range.yaml", "a1BenchFleet", 1_000_000)
        with open(work / "list.yaml", "w") as f:
            f.write("apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1BenchFleet\ndevices:\n")
            for n in range(1, 1_000_001):
                f.write(f"  - name: unit-{n:06}\n")
        for name in ("range.yaml", "list.yaml"):
            run = run_measured(["validate", name], work, "http://127.0.0.1:9")
            assert run["code"] == 0, run["stderr"][-2000:]
            print(f"  validate {name}: {run['cpu']:.2f} s CPU, peak RSS {run['rss_mb']:.0f} MB", flush=True)
            rows.append((f"validate 1,000,000 ({name})", None, None, None, run["wall"], None, None, None,
                         run["rss_mb"], f"{run['cpu']:.2f} s CPU"))
        emu = Emulator(work, seed_products(1_000_000, tagged=False), 0, 0, qps_scale=0)
        try:
            for name in ("range.yaml", "list.yaml"):
                run = run_measured(["plan", name, "--detailed-exitcode", "--qps-scale", "1000"], work, emu.endpoint)
                assert run["code"] == 0, run["stderr"][-2000:]
                # A million devices are past what QueryDevice lists: with prune off they are read by name.
                print(f"  plan {name} (no latency, quotas lifted): {run['wall']:.1f} s, {run['cpu']:.2f} s CPU, "
                      f"peak RSS {run['rss_mb']:.0f} MB", flush=True)
                rows.append((f"plan 1,000,000 ({name}, no latency)", None, None, None, run["wall"], None, None,
                             None, run["rss_mb"], f"{run['cpu']:.2f} s CPU"))
        finally:
            emu.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 devices only")
    parser.add_argument("--sizes", help="comma-separated device counts (overrides --quick)")
    parser.add_argument("--latency-ms", default="20",
                        help="comma-separated latencies per call, each a full run (e.g. 20,100,200)")
    parser.add_argument("--apply-delay-ms", type=int, default=500)
    parser.add_argument("--tags-sizes", default=None,
                        help="comma-separated sizes that also get the tags-declared plan runs "
                             "(default 10000,100000; 1000 with --quick)")
    parser.add_argument("--no-local", action="store_true", help="skip the 1,000,000-device local work")
    parser.add_argument("--check", action="store_true",
                        help="skip the SDK scripts; fail when a scenario's calls exceed its minimum or it is throttled")
    parser.add_argument("--only-local", action="store_true", help="only the 1,000,000-device local work")
    parser.add_argument("--plans-only", action="store_true",
                        help="only the no-prune plan scenarios (no apply, no tags runs, no local work)")
    args = parser.parse_args()
    global CHECK, PLANS_ONLY
    CHECK = args.check
    PLANS_ONLY = args.plans_only
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else ([1_000, 10_000] if args.quick else [1_000, 10_000, 100_000])
    tags_sizes = ({int(s) for s in args.tags_sizes.split(",")} if args.tags_sizes
                  else ({1_000} if args.quick else {10_000, 100_000}))
    print(f"iotplan bench on {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}; "
          f"binary {BIN}", flush=True)
    rows = []
    latencies = [int(ms) for ms in str(args.latency_ms).split(",")]
    for latency in [] if args.only_local else latencies:
        for size in sizes:
            bench_size(size, latency, args.apply_delay_ms, rows, tags_sizes)
    if args.only_local or (not args.quick and not args.no_local and not args.plans_only):
        local_work(rows)
    print("\n| Scenario | Calls | Minimum | Calls/min | Wall (s) | Bound (s) | Wall/bound | Throttled | Peak RSS (MB) | Notes |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, calls, minimum, ratio, wall, bound, wall_ratio, throttled, rss, notes in rows:
        def cell(value, fmt):
            return "" if value is None else format(value, fmt)
        print(f"| {name} | {cell(calls, 'd')} | {cell(minimum, 'd')} | {cell(ratio, '.3f')} | {wall:.2f} | "
              f"{cell(bound, '.2f')} | {cell(wall_ratio, '.2f')} | {cell(throttled, 'd')} | {rss:.0f} | {notes} |")


if __name__ == "__main__":
    sys.exit(main())
