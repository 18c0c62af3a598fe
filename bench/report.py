"""Tables, target checks and plots from the JSON lines that bench/run.sh collects.

    /usr/bin/python3 bench/report.py RESULTS.jsonl [--json OUT.json] [--png OUT.png]
                                     [--markdown OUT.md]

Prints the tables (markdown) with the ratios of issue 5: ours against each peer and
against the original, in one run. Medians of per-message samples for latency (p99 next
to them); medians of runs for throughput (min-max in the JSON).
"""

import argparse
import json
import sys

PY_ORDER = ["pysyncq", "pysyncq-batch", "pysyncq-sleep", "pysyncq-spin50us", "pysyncq-hubspin", "pysyncq-spin",
            "original", "mp.Queue", "mp.Pipe",
            "pyzmq"]
PY_PEERS = ["mp.Queue", "mp.Pipe", "pyzmq"]
# Issue 9: asyncio pingpong beside the blocking calls of the same packages.
AIO_ORDER = ["pysyncq-asyncio", "pysyncq", "pyzmq-asyncio", "pyzmq"]


def is_asyncio(contender):
    return contender.endswith("-asyncio")


CPP_ORDER = ["pysyncq", "pysyncq-batch", "pysyncq-sleep", "pysyncq-spin", "busy-spin", "futex", "pipe",
             "boost-mq", "zeromq", "zeromq-pubsub", "iceoryx-polling", "iceoryx-waitset",
             "spin-ring"]


def load(path):
    records = []
    with open(path) as lines:
        for line in lines:
            line = line.strip()
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    print(f"report: skipping a bad line: {line[:80]}", file=sys.stderr)
    return records


class Results:
    def __init__(self, records):
        self.records = records
        self.meta = next((r for r in records if r.get("suite") == "meta"), {})
        self.skipped = [r for r in records if "skipped" in r]
        self.failed = [r for r in records if "failed" in r]
        self.data = [r for r in records if "workload" in r and "contender" in r]

    def get(self, suite, workload, contender, **match):
        for r in self.data:
            if (r["suite"] == suite and r["workload"] == workload
                    and r["contender"] == contender
                    and all(r.get(k) == v for k, v in match.items())):
                return r
        return None

    def values(self, suite, workload, key):
        return sorted({r[key] for r in self.data
                       if r["suite"] == suite and r["workload"] == workload and key in r})

    def contenders(self, suite, workload, order):
        present = {r["contender"] for r in self.data
                   if r["suite"] == suite and r["workload"] == workload}
        return [c for c in order if c in present] + sorted(present - set(order))


def size_label(size):
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} B"


def fmt_us(value):
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:.0f}"


def fmt_rate(value):
    if value is None:
        return "-"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e5:
        return f"{value / 1e3:.0f}k"
    if value >= 1e3:  # three digits: NATS rates are thousands, not millions
        return f"{value / 1e3:.3g}k"
    return f"{value:.0f}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def latency_table(res, suite, workload, order, reference, pick=None, round_trip=False,
                  **match):
    """Median / p99 per contender and size, then each peer ÷ `reference`. `pick` keeps
    some contenders only; `round_trip` shows twice the one-way samples."""
    sizes = res.values(suite, workload, "size")
    contenders = [c for c in res.contenders(suite, workload, order) if not pick or pick(c)]
    if not sizes or not contenders:
        return ""
    sustained = workload == "echo"
    scale = 2 if round_trip else 1
    way = "round trip" if round_trip else "one way"
    header = [(f"median / p99 / sustained µs ({way})" if sustained
               else f"median / p99 µs ({way})")] + [size_label(s) for s in sizes]
    rows = []
    for c in contenders:
        row = [c]
        for s in sizes:
            r = res.get(suite, workload, c, size=s, **match)
            text = (f"{fmt_us(scale * r['median_us'])} / {fmt_us(scale * r['p99_us'])}"
                    if r else "-")
            if r and sustained and "sustained_us" in r:
                text += f" / {fmt_us(scale * r['sustained_us'])}"
            row.append(text)
        rows.append(row)
    ours = {s: res.get(suite, workload, reference, size=s, **match) for s in sizes}
    for c in contenders:
        if c.startswith("pysyncq") or c == reference:
            continue
        row = [f"*{c} ÷ {reference}*"]
        for s in sizes:
            r = res.get(suite, workload, c, size=s, **match)
            o = ours[s]
            row.append(f"{r['median_us'] / o['median_us']:.1f}x" if r and o else "-")
        rows.append(row)
    return table(header, rows)


def fanout_table(res, suite, order, reference):
    sizes = res.values(suite, "fanout", "size")
    readers = res.values(suite, "fanout", "readers")
    contenders = res.contenders(suite, "fanout", order)
    if not sizes or not contenders:
        return ""
    cols = [(s, n) for s in sizes for n in readers]
    header = ["msgs/s to every reader"] + [f"{size_label(s)} x{n}" for s, n in cols]
    rows = []
    for c in contenders:
        row = [c]
        for s, n in cols:
            r = res.get(suite, "fanout", c, size=s, readers=n)
            row.append(fmt_rate(r["msgs_per_s"]) if r else "-")
        rows.append(row)
    for c in contenders:
        if c.startswith("pysyncq"):
            continue
        row = [f"*{reference} ÷ {c}*"]
        for s, n in cols:
            r = res.get(suite, "fanout", c, size=s, readers=n)
            o = res.get(suite, "fanout", reference, size=s, readers=n)
            row.append(f"{o['msgs_per_s'] / r['msgs_per_s']:.1f}x" if r and o else "-")
        rows.append(row)
    return table(header, rows)


def asyncio_table(res):
    """Issue 9: round trips awaited in asyncio, beside the same packages' blocking calls
    (the same pingpong runs as the one-way table, doubled)."""
    if not any(is_asyncio(c) for c in res.contenders("python", "pingpong", AIO_ORDER)):
        return ""
    return latency_table(res, "python", "pingpong", AIO_ORDER, "pysyncq-asyncio",
                         pick=lambda c: c in AIO_ORDER, round_trip=True)


# Issue 8: the same queue on shared memory and on NATS, then raw NATS floors.
NATS_SETUPS = ["shared memory", "1 server", "3 nodes, replicas=3"]
NATS_ORDER = ["pysyncq", "nats-core", "js-publish", "js-publish-async"]


def nats_table(res):
    """One row per (setup, contender): pingpong one-way µs, fanout and publish msgs/s at
    the one size measured; then how much the queue on NATS costs over shared memory."""
    records = [r for r in res.data if r["suite"] == "nats"]
    if not records:
        return ""
    setups = [x for x in NATS_SETUPS if any(r.get("setup") == x for r in records)]
    setups += sorted({r.get("setup") for r in records} - set(setups))
    size = size_label(records[0]["size"])
    readers = next((r["readers"] for r in records if r["workload"] == "fanout"), "?")
    header = ["setup", "contender", f"pingpong {size}: median / p99 µs (one way)",
              f"fanout {size}, 1 writer to {readers} readers: msgs/s",
              f"publish {size}, no readers: msgs/s"]

    def get(workload, contender, setup):
        return res.get("nats", workload, contender, setup=setup)

    present = {r["contender"] for r in records}
    contenders = [c for c in NATS_ORDER if c in present] + sorted(present - set(NATS_ORDER))
    rows = []
    for setup in setups:
        for c in contenders:
            ping, fan, pub = (get(w, c, setup) for w in ("pingpong", "fanout", "publish"))
            if ping or fan or pub:
                rows.append([setup, c,
                             f"{fmt_us(ping['median_us'])} / {fmt_us(ping['p99_us'])}"
                             if ping else "-",
                             fmt_rate(fan["msgs_per_s"]) if fan else "-",
                             fmt_rate(pub["msgs_per_s"]) if pub else "-"])
    base = setups[0]
    for setup in setups[1:]:
        ping, ping0 = get("pingpong", "pysyncq", setup), get("pingpong", "pysyncq", base)
        fan, fan0 = get("fanout", "pysyncq", setup), get("fanout", "pysyncq", base)
        rows.append([f"*{setup} ÷ {base}*", "pysyncq",
                     f"{ping['median_us'] / ping0['median_us']:.0f}x slower"
                     if ping and ping0 else "-",
                     f"{fan0['msgs_per_s'] / fan['msgs_per_s']:.0f}x fewer"
                     if fan and fan0 else "-", ""])
    return table(header, rows)


def scaling_table(res):
    procs = res.values("python", "scaling", "nprocs")
    contenders = res.contenders("python", "scaling", PY_ORDER)
    if not procs:
        return ""
    header = ["echo 16 B: median / sustained µs (CPU µs per transfer)"] + \
        [f"N={n}" for n in procs]
    rows = []
    for c in contenders:
        row = [c]
        for n in procs:
            r = res.get("python", "scaling", c, nprocs=n)
            row.append(f"{fmt_us(r['median_us'])} / {fmt_us(r.get('sustained_us'))} "
                       f"({fmt_us(r.get('cpu_us_per_transfer'))})" if r else "-")
        rows.append(row)
    return table(header, rows)


# --- targets ------------------------------------------------------------------------------

def best_variant(res, workload, size, higher_is_better=False, **match):
    """Our best wait-policy variant in a Python workload: (contender, record)."""
    key = "msgs_per_s" if higher_is_better else "median_us"
    found = [r for r in res.data if r["suite"] == "python" and r["workload"] == workload
             and r["contender"].startswith("pysyncq") and r.get("size") == size
             and all(r.get(k) == v for k, v in match.items())]
    if not found:
        return None
    pick = max if higher_is_better else min
    return pick(found, key=lambda r: r[key])


def check_targets(res):
    """(target, verdict, detail) per target of issue 5 that this run measured; Python
    targets are judged on the package's default wait policy, the best variant noted."""
    out = []

    def verdict(ok):
        return "holds" if ok else "MISSED"

    sizes = res.values("python", "echo", "size")
    for s in sizes:
        ours = res.get("python", "echo", "pysyncq", size=s)
        orig = res.get("python", "echo", "original", size=s)
        peers = [res.get("python", "echo", p, size=s) for p in PY_PEERS]
        peers = [p for p in peers if p]
        if ours and orig:
            ratio = orig["median_us"] / ours["median_us"]
            best = best_variant(res, "echo", s)
            note = (f"; {best['contender']}: {orig['median_us'] / best['median_us']:.1f}x"
                    if best and best["contender"] != "pysyncq" else "")
            out.append((f"Python echo {size_label(s)}: >= 10x faster than the original",
                        verdict(ratio >= 10), f"default {ratio:.1f}x{note}"))
        if ours and peers:
            best = min(peers, key=lambda p: p["median_us"])
            ratio = best["median_us"] / ours["median_us"]
            out.append((f"Python echo {size_label(s)}: faster than the best peer",
                        verdict(ratio > 1), f"{best['contender']} {fmt_us(best['median_us'])}"
                        f" µs vs {fmt_us(ours['median_us'])} µs = {ratio:.2f}x"))
    for s in res.values("python", "pingpong", "size"):
        if s > 4096:
            continue
        ours = res.get("python", "pingpong", "pysyncq", size=s)
        orig = res.get("python", "pingpong", "original", size=s)
        if ours and orig:
            ratio = orig["median_us"] / ours["median_us"]
            best = best_variant(res, "pingpong", s)
            note = (f"; {best['contender']}: {orig['median_us'] / best['median_us']:.1f}x"
                    if best and best["contender"] != "pysyncq" else "")
            out.append((f"Python pingpong {size_label(s)}: >= 20x faster than the original",
                        verdict(ratio >= 20), f"default {ratio:.1f}x{note}"))
    for s in res.values("python", "fanout", "size"):
        for n in res.values("python", "fanout", "readers"):
            ours = res.get("python", "fanout", "pysyncq", size=s, readers=n)
            others = [res.get("python", "fanout", p, size=s, readers=n)
                      for p in PY_PEERS + ["original"]]
            others = [p for p in others if p]
            if ours and others:
                best = max(others, key=lambda p: p["msgs_per_s"])
                ratio = ours["msgs_per_s"] / best["msgs_per_s"]
                ourbest = best_variant(res, "fanout", s, True, readers=n)
                note = (f"; {ourbest['contender']} {fmt_rate(ourbest['msgs_per_s'])}"
                        if ourbest and ourbest["contender"] != "pysyncq" else "")
                out.append((f"Python fanout {size_label(s)} x{n}: more msgs/s than every peer",
                            verdict(ratio > 1), f"default {fmt_rate(ours['msgs_per_s'])} vs "
                            f"{best['contender']} {fmt_rate(best['msgs_per_s'])} = "
                            f"{ratio:.2f}x{note}"))
    for s in res.values("cpp", "pingpong", "size"):
        sleep = res.get("cpp", "pingpong", "pysyncq-sleep", size=s)
        futex = res.get("cpp", "pingpong", "futex", size=s)
        if sleep and futex:
            ratio = sleep["median_us"] / futex["median_us"]
            out.append((f"C++ pingpong {size_label(s)}, sleeping: within 1.25x of bare futex",
                        verdict(ratio <= 1.25), f"{ratio:.2f}x"))
        ours = res.get("cpp", "pingpong", "pysyncq", size=s)
        iox = res.get("cpp", "pingpong", "iceoryx-polling", size=s)
        if ours and iox and s <= 4096:
            ok = ours["median_us"] < iox["median_us"] and ours["p99_us"] < iox["p99_us"]
            out.append((f"C++ pingpong {size_label(s)}, default wait: faster than iceoryx "
                        f"polling (median and p99)", verdict(ok),
                        f"{fmt_us(ours['median_us'])}/{fmt_us(ours['p99_us'])} vs "
                        f"{fmt_us(iox['median_us'])}/{fmt_us(iox['p99_us'])} µs"))
        spin = res.get("cpp", "pingpong", "busy-spin", size=s)
        if ours and spin and s == 64:
            ratio = ours["median_us"] / spin["median_us"]
            out.append(("C++ pingpong 64 B, default wait: within 2x of busy-spin (issue 17)",
                        verdict(ratio <= 2), f"{ratio:.2f}x"))
    for n in res.values("cpp", "fanout", "readers"):
        ours = res.get("cpp", "fanout", "pysyncq", size=64, readers=n)
        batch = res.get("cpp", "fanout", "pysyncq-batch", size=64, readers=n)
        zmq = res.get("cpp", "fanout", "zeromq-pubsub", size=64, readers=n)
        if ours and zmq:
            ratio = ours["msgs_per_s"] / zmq["msgs_per_s"]
            note = (f"; pysyncq-batch {fmt_rate(batch['msgs_per_s'])} = "
                    f"{batch['msgs_per_s'] / zmq['msgs_per_s']:.2f}x" if batch else "")
            out.append((f"C++ fanout 64 B 1:{n}: more msgs/s than ZeroMQ PUB/SUB",
                        verdict(ratio > 1), f"{fmt_rate(ours['msgs_per_s'])} vs "
                        f"{fmt_rate(zmq['msgs_per_s'])} = {ratio:.2f}x{note}"))
    ours = res.get("cpp", "fanout", "pysyncq", size=4096, readers=1)
    iox = res.get("cpp", "fanout", "iceoryx-polling", size=4096, readers=1)
    if ours and iox:
        ratio = ours["bytes_per_s"] / iox["bytes_per_s"]
        out.append(("C++ fanout 4 KiB 1:1: more bytes/s than iceoryx", verdict(ratio > 1),
                    f"{ours['bytes_per_s'] / 1e9:.2f} vs {iox['bytes_per_s'] / 1e9:.2f} GB/s"
                    f" = {ratio:.2f}x"))
    sc = next((r for r in res.data if r["workload"] == "syscalls"), None)
    if sc and sc.get("calls_small") is not None:
        ok = sc["calls_small"] == sc["calls_large"]
        out.append(("No syscalls on the non-blocking hot path", verdict(ok),
                    f"{sc['calls_small']} syscalls for {sc['iterations_small']} append+pop, "
                    f"{sc['calls_large']} for {sc['iterations_large']}"))
    return out


# --- output -------------------------------------------------------------------------------

def markdown(res):
    m = res.meta
    parts = []
    if m:
        parts.append(f"Run {m.get('date')} on {m.get('cpus')} x {m.get('cpu')} "
                     f"(Linux {m.get('kernel')}), commit {m.get('commit')}, "
                     f"`{m.get('command')}`; load average before {m.get('load_before')}, "
                     f"after {m.get('load_after')}.")
    for r in res.skipped:
        parts.append(f"- skipped {r['skipped']}: {r['reason']}")
    for r in res.failed:
        parts.append(f"- FAILED {r['failed']} {r.get('workload', '')}: {r['reason']}")
    sections = [
        ("Python echo (8 processes, the original's benchmark)",
         latency_table(res, "python", "echo", PY_ORDER, "pysyncq")),
        ("Python pingpong (2 processes, pinned to CPUs 0 and 1)",
         latency_table(res, "python", "pingpong", PY_ORDER, "pysyncq",
                       pick=lambda c: not is_asyncio(c))),
        ("Python asyncio pingpong (an asyncio loop in each of 2 processes; round trip)",
         asyncio_table(res)),
        ("Python fanout (1 writer, R readers)", fanout_table(res, "python", PY_ORDER, "pysyncq")),
        ("Python scaling (echo at 16 B, N processes on 2 CPUs)", scaling_table(res)),
        ("C++ pingpong (pinned to CPUs 0 and 1)",
         latency_table(res, "cpp", "pingpong", CPP_ORDER, "pysyncq")),
        ("C++ fanout (1 writer, R readers)", fanout_table(res, "cpp", CPP_ORDER, "pysyncq")),
        ("Across machines: the queue on NATS JetStream (loopback), and raw NATS floors",
         nats_table(res)),
    ]
    for title, text in sections:
        if text:
            parts.append(f"\n### {title}\n\n{text}")
    memcpy = [r for r in res.data if r["workload"] == "memcpy"]
    if memcpy:
        rows = [[r["contender"], size_label(r["size"]), f"{r['bytes_per_s'] / 1e9:.1f}",
                 f"{r['ns_per_copy']:.1f}"] for r in memcpy]
        parts.append("\n### memcpy (in cache; the ceiling of fanout bytes/s)\n\n" +
                     table(["copy", "size", "GB/s", "ns"], rows))
    extra = []
    for r in res.data:
        if r["workload"] == "hotpath":
            extra.append(f"- non-blocking append + pop of {r['size']} B in one process: "
                         f"{r['ns_per_append_pop']:.0f} ns")
        if r["workload"] == "syscalls":
            extra.append(f"- `{r['tool']}`: {r['calls_small']} syscalls in a run of "
                         f"{r['iterations_small']} non-blocking append+pop, "
                         f"{r['calls_large']} in a run of {r['iterations_large']} "
                         "(all of them setup and teardown)")
        if r["workload"] == "memory":
            extra.append(f"- peak RSS of the {r['role']} (1 MiB queue, {r['messages']} "
                         f"messages of {size_label(r['message_bytes'])}): "
                         f"{r['peak_rss_kib_after_1pct']} KiB after 1% of them, "
                         f"{r['peak_rss_kib_at_end']} KiB at the end")
        if r["workload"] == "open":
            extra.append(f"- `open()` of a new {r['capacity_bytes'] >> 20} MiB queue: "
                         f"{r['ms_open']:.1f} ms (it maps up to 64 MiB of pages into the "
                         "process, docs/design.md \"Lifecycle races, decided\")")
        if r["workload"] == "fanout" and r["suite"] == "cpp" and r["contender"] == "pysyncq" \
                and r.get("readers") == 1 and r.get("size") == 4096:
            extra.append(f"- C++ fanout 4 KiB 1:1: writer peak RSS "
                         f"{r['writer_peak_rss_kib']} KiB, reader {r['reader_peak_rss_kib']} KiB"
                         " (4 MiB queue)")
    if extra:
        parts.append("\n### Hot path and memory\n\n" + "\n".join(extra))
    targets = check_targets(res)
    if targets:
        parts.append("\n### Targets of issue 5\n\n" +
                     table(["target", "verdict", "measured"], targets))
    return "\n".join(parts) + "\n"


def plot(res, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: matplotlib missing (Debian python3-matplotlib); no plot",
              file=sys.stderr)
        return
    fig, axes = plt.subplots(2, 2, figsize=(13, 9.5))
    names = sorted({r["contender"] for r in res.data})
    palette = plt.get_cmap("tab20")
    color = {name: palette(i % 20) for i, name in enumerate(names)}
    panels = [
        (axes[0][0], "python", "echo", PY_ORDER, "Python echo, 8 processes"),
        (axes[0][1], "cpp", "pingpong", CPP_ORDER, "C++ ping-pong, 2 pinned processes"),
    ]
    for ax, suite, workload, order, title in panels:
        for c in res.contenders(suite, workload, order):
            points = sorted((r["size"], r["median_us"]) for r in res.data
                            if r["suite"] == suite and r["workload"] == workload
                            and r["contender"] == c)
            if points:
                style = "o-" if c.startswith("pysyncq") else "s--"
                ax.plot([p[0] for p in points], [p[1] for p in points], style, label=c,
                        color=color[c], linewidth=2.2 if c == "pysyncq" else 1.2)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("message size (bytes)")
        ax.set_ylabel("median one-way latency (µs)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    for ax, suite, order, title in [
            (axes[1][0], "python", PY_ORDER, "Python fanout"),
            (axes[1][1], "cpp", CPP_ORDER, "C++ fanout")]:
        for c in res.contenders(suite, "fanout", order):
            for size, style in ((64, "-"), (4096, ":")):
                points = sorted((r["readers"], r["msgs_per_s"]) for r in res.data
                                if r["suite"] == suite and r["workload"] == "fanout"
                                and r["contender"] == c and r["size"] == size)
                if points:
                    ax.plot([p[0] for p in points], [p[1] for p in points], "o" + style,
                            label=f"{c} {size_label(size)}", color=color[c],
                            linewidth=2.2 if c == "pysyncq" else 1.2)
        ax.set_yscale("log")
        ax.set_xlabel("readers")
        ax.set_ylabel("messages/s delivered to every reader")
        ax.set_title(title + " (solid 64 B, dotted 4 KiB)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    m = res.meta
    fig.suptitle(f"pysyncq bench {m.get('date', '')}: {m.get('cpus', '?')} x "
                 f"{m.get('cpu', '?')}, load {m.get('load_before', '?')}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"report: wrote {path}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results")
    parser.add_argument("--json")
    parser.add_argument("--png")
    parser.add_argument("--markdown")
    args = parser.parse_args()
    res = Results(load(args.results))
    text = markdown(res)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as out:
            out.write(text)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"meta": res.meta, "skipped": res.skipped, "failed": res.failed,
                       "results": res.data,
                       "targets": [{"target": t, "verdict": v, "measured": d}
                                   for t, v, d in check_targets(res)]},
                      out, indent=1)
            out.write("\n")
        print(f"report: wrote {args.json}", file=sys.stderr)
    if args.png:
        plot(res, args.png)


if __name__ == "__main__":
    main()
