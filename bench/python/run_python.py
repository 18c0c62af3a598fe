"""Runs every Python workload for every contender, each in its own interpreter.

    /usr/bin/python3 bench/python/run_python.py --ours build/python \\
        [--original PATH] [--quick] [--out results.jsonl]

Our package and the original are both the package `pysyncq`; each run gets a
PYTHONPATH with exactly one of them. --original (or $PYSYNCQ_ORIGINAL) names the folder
that holds the original's `pysyncq/`; without it the original is skipped, and the output
says so. JSON lines are appended to --out (stdout when absent); a contender that cannot
run leaves a {"skipped": ...} line with the reason.
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"

# "pysyncq" runs with the package's default wait policy, whatever it is; the variants
# name theirs: sleep at once, spin 50 µs then sleep, never sleep, and (echo) the parent
# spinning while the children sleep. "pysyncq-batch" (fanout): the batch calls, append_many
# of 64 and pop_many. "*-asyncio": both processes await in an asyncio loop.
WORKLOADS = {
    "echo": ["pysyncq", "pysyncq-spin50us", "pysyncq-hubspin", "original", "mp.Queue",
             "mp.Pipe", "pyzmq"],
    "pingpong": ["pysyncq", "pysyncq-spin50us", "pysyncq-spin", "original", "mp.Queue",
                 "mp.Pipe", "pyzmq", "pysyncq-asyncio", "pyzmq-asyncio"],
    "fanout": ["pysyncq", "pysyncq-batch", "pysyncq-spin50us", "original", "mp.Queue",
               "mp.Pipe", "pyzmq"],
    "scaling": ["pysyncq", "pysyncq-spin50us", "original", "mp.Queue", "mp.Pipe", "pyzmq"],
}
QUICK_WORKLOADS = {
    "echo": ["pysyncq", "original", "mp.Queue", "mp.Pipe", "pyzmq"],
    "pingpong": ["pysyncq", "pysyncq-spin50us", "original", "mp.Pipe", "pyzmq",
                 "pysyncq-asyncio", "pyzmq-asyncio"],
    "fanout": ["pysyncq", "pysyncq-batch", "original", "mp.Pipe", "pyzmq"],
    "scaling": ["pysyncq", "original", "mp.Pipe"],
}


def check(pythonpath, code):
    env = dict(os.environ, PYTHONPATH=pythonpath)
    result = subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True,
                            timeout=60)
    if result.returncode == 0:
        return None
    return (result.stderr.strip().splitlines() or ["failed"])[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ours", required=True, help="folder holding our built pysyncq/")
    parser.add_argument("--original", default=os.environ.get("PYSYNCQ_ORIGINAL", ""),
                        help="folder holding the original pysyncq/ ($PYSYNCQ_ORIGINAL)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="")
    parser.add_argument("--only", default="", help="run only contenders containing this")
    parser.add_argument("--workloads", default="echo,pingpong,fanout,scaling")
    args = parser.parse_args()
    out = open(args.out, "a") if args.out else sys.stdout

    def emit(record):
        out.write(json.dumps(record) + "\n")
        out.flush()

    paths = {"ours": os.path.abspath(args.ours), "none": ""}
    skipped = {}
    why = check(paths["ours"], "import pysyncq; pysyncq.PySyncQ")
    if why:
        skipped["pysyncq"] = f"our package is not importable from {paths['ours']}: {why}"
    if not args.original:
        skipped["original"] = "no path to the original given (--original or $PYSYNCQ_ORIGINAL)"
    elif not os.path.isfile(os.path.join(args.original, "pysyncq", "pysyncq.py")):
        skipped["original"] = f"no original pysyncq at {args.original}"
    else:
        paths["original"] = os.path.abspath(args.original)
    why = check("", "import zmq")
    if why:
        skipped["pyzmq"] = f"pyzmq is missing (Debian python3-zmq): {why}"
    for contender, reason in skipped.items():
        print(f"python bench: SKIPPED {contender}: {reason}", file=sys.stderr, flush=True)
        emit({"suite": "python", "skipped": contender, "reason": reason})

    table = QUICK_WORKLOADS if args.quick else WORKLOADS
    for workload in args.workloads.split(","):
        print(f"python {workload}:", file=sys.stderr, flush=True)
        for contender in table[workload]:
            family = contender.split("-")[0]
            if family in skipped or (args.only and args.only not in contender):
                continue
            pythonpath = {"pysyncq": paths["ours"],
                          "original": paths.get("original", "")}.get(family, "")
            command = [PYTHON, os.path.join(HERE, "workloads.py"), "--contender", contender,
                       "--workload", workload] + (["--quick"] if args.quick else [])
            env = dict(os.environ, PYTHONPATH=pythonpath)
            try:
                result = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True,
                                        timeout=900 if family == "original" else 300,
                                        start_new_session=False)
            except subprocess.TimeoutExpired:
                emit({"suite": "python", "failed": contender, "workload": workload,
                      "reason": "timed out"})
                print(f"  {contender} {workload}: TIMED OUT", file=sys.stderr, flush=True)
                continue
            for line in result.stdout.splitlines():
                if line.startswith("{"):
                    out.write(line + "\n")
            out.flush()
            if result.returncode != 0:
                emit({"suite": "python", "failed": contender, "workload": workload,
                      "reason": f"exit status {result.returncode}"})
                print(f"  {contender} {workload}: FAILED ({result.returncode})",
                      file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
