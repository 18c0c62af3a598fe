"""The smoke test of an installed wheel (tests/consumer/check_wheel.sh), run by the venv's
python from outside the source tree: the package is the installed one, of the expected
version, with its type information; two processes (the child started with `spawn`, so it
imports the package afresh) each append and read the other's message; the last close
removes the name.

    python wheel_smoke.py VERSION QUEUE_NAME
"""

import multiprocessing as mp
import os
import sys


def child(q):
    q.open("child")
    q.append("greeting", "from the child")
    for sender, _, body in q(block=True, timer=10.0):
        if sender == "parent":
            assert body == "from the parent", body
            break
    else:
        raise SystemExit("child: no message from the parent")
    q.close()


def main():
    version, name = sys.argv[1], sys.argv[2]
    import pysyncq
    from pysyncq import PySyncQ
    assert pysyncq.__file__.startswith(sys.prefix), (pysyncq.__file__, sys.prefix)
    assert pysyncq.__version__ == version, (pysyncq.__version__, version)
    import importlib.resources as resources
    for data in ("py.typed", "__init__.pyi", "_pysyncq.pyi"):
        assert resources.files("pysyncq").joinpath(data).is_file(), data

    q = PySyncQ(name, size=1 << 16)
    q.open("parent")
    process = mp.get_context("spawn").Process(target=child, args=(q,))
    process.start()
    # The child is a member once its message is here: only then can it read ours.
    for sender, _, body in q(block=True, timer=10.0):
        if sender == "child":
            assert body == "from the child", body
            break
    else:
        raise SystemExit("parent: no message from the child")
    q.append("greeting", "from the parent")
    process.join(20)
    assert process.exitcode == 0, process.exitcode
    q.close()
    assert not os.path.exists(f"/dev/shm/{name}"), "the last close left the name"
    print("ok")


if __name__ == "__main__":
    main()
