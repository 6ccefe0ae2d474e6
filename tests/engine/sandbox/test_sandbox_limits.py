"""Resource limits of the script sandbox (issue 10, item 4): what a hostile tenant found.

- `int(hex_text, 16)` built a 3-million-bit integer from a string under the size cap; one
  `divmod` on it took 5 s and `math.gcd` 10 s, holding the GIL (the clock is read between steps).
- `a = [0] * 999999` then `a.extend(a)` x12 headed for 32 GB; 600 straight-line big
  allocations reached 2 GB inside the 2 s budget.
- A tenant admin's script held up another tenant's request for 37 s (same process, one GIL).

Each case is refused *before* the C call runs. Assertions count work (the budget's error,
iterations, tracemalloc's peak, this thread's CPU time), never the wall clock.
"""

from __future__ import annotations

import threading
import tracemalloc
from decimal import Decimal

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.sandbox import (
    Limits,
    SandboxEnvironment,
    ScriptLimitExceeded,
    ScriptPolicyError,
    check_source,
    step_budget,
)

MB = 2 ** 20
BIG = int("f" * 750_000, 16)  # 3,000,000 bits: what `int(hex_text, 16)` used to build


@pytest.fixture
def env() -> SandboxEnvironment:
    return SandboxEnvironment()


def _refused(env: SandboxEnvironment, script: str, data: dict | None = None) -> ScriptLimitExceeded:
    assert check_source(script, "exec") == []
    data = dict(data or {})
    with pytest.raises(ScriptLimitExceeded) as info:
        env.execute(script, data)
    assert "x" not in data
    return info.value


def _peak_bytes(fn) -> int:
    """Peak traced allocation while `fn` runs (tracemalloc counts every block Python allocates)."""
    tracemalloc.start()
    try:
        fn()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


# --------------------------------------------------------------------------- finding 1: huge ints

@pytest.mark.parametrize("script", [
    "h = 'f' * 750000\nx = int(h, 16)",  # the finding: 4 bits a character, no 4300-digit limit
    "h = '0x' + 'f' * 750000\nx = int(h, 0)",
    "h = '1' * 999999\nx = int(h, 2)",
    "h = 'z' * 999999\nx = int(h, 36)",
    "h = ('f' * 750000).encode()\nx = int(h, 16)",
    "x = int('9' * 4000)",  # under Python's 4300 digits, over 4096 bits
])
def test_text_to_int_is_refused_before_converting(env: SandboxEnvironment, script: str) -> None:
    assert _refused(env, script).limit == "int size"


@pytest.mark.parametrize("script", [
    "x = divmod(big, 3)",
    "x = divmod(big, big - 1)",
    "x = math.gcd(big, big - 1)",
    "x = math.isqrt(big)",
    "x = big // (big - 1)",
    "x = big % (big - 1)",
    "x = pow(big, 3, 7)",
    "x = pow(3, big, 7)",
    "y = big\ny //= (big - 1)\nx = y",
])
def test_oversized_int_operands_are_refused_before_the_c_call(env: SandboxEnvironment, script: str) -> None:
    """The finding's 3M-bit int, handed in as task data: each call would hold the GIL for seconds."""
    assert _refused(env, script, {"big": BIG}).limit == "int size"


@pytest.mark.parametrize("script", [
    "x = 3\nfor i in range(100000):\n    x = x + x",  # one bit per iteration
    "x = 3\nfor i in range(100000):\n    x += x",
    "x = 3\nfor i in range(100000):\n    x = x - (-x)",
    "x = math.factorial(100000)",
    "x = math.comb(10 ** 6, 5000)",
    "x = math.perm(10 ** 6, 5000)",
    "x = math.perm(5000)",
    "x = math.lcm(*[2 ** 4000 + i for i in range(5)])",
    "x = math.prod([2 ** 4000] * 10)",
    "x = pow((1 << 4095) + 7, (1 << 4095) + 3, (1 << 4095) + 1)",  # ~0.2 s of modular exponentiation
    "x = int.from_bytes([255] * 999999, 'big')",
    "x = Decimal(2 ** 4000) ** Decimal('0.5')",  # Decimal ** costs the cube of the digits
    "x = Decimal('9' * 999999)",
    "x = Decimal((0, (9,) * 999999, 0))",
    "x = float('1' * 999999)",
])
def test_int_and_number_growth_is_bounded(env: SandboxEnvironment, script: str) -> None:
    assert _refused(env, script).limit == "int size"


def test_ordinary_number_work_still_runs(env: SandboxEnvironment) -> None:
    data: dict = {}
    env.execute("a = int('ff', 16) + int('0x10', 0) + int('1' * 1000)\n"
                "b = math.factorial(20) + math.comb(50, 5) + math.perm(10, 3) + math.lcm(4, 6)\n"
                "c = math.prod([1, 2, 3], start=2) + math.gcd(12, 18) + math.isqrt(99) + divmod(17, 5)[0]\n"
                "d = pow(7, 65537, (1 << 2048) - 159) > 0\n"
                "e = Decimal('1.21') ** Decimal('0.5') + Decimal('12.50') // 3 + Decimal((0, (1, 5), -1))\n"
                "f = float('2.5') + math.fsum([0.1] * 10)\n"
                "g = f'{Decimal(\"1e5\"):f}|{Decimal(\"12.345\"):.2f}|{datetime.date(2024, 1, 2):%Y-%m-%d}'\n"
                "h = 2 ** 4000 // 3 ** 100 + (2 ** 3000) % 97", data)
    assert data["a"] == 255 + 16 + int("1" * 1000)
    assert data["b"] == 2432902008176640000 + 2118760 + 720 + 12
    assert data["c"] == 12 + 6 + 9 + 3
    assert data["d"] is True
    assert data["e"] == Decimal("6.6")
    assert data["f"] == 3.5
    assert data["g"] == "100000|12.34|2024-01-02"
    assert data["h"] == 2 ** 4000 // 3 ** 100 + (2 ** 3000) % 97


def test_huge_int_literals_are_refused_at_deploy_time() -> None:
    problems = check_source("x = 0x" + "f" * 2000, "exec")  # hex literals skip the digit limit too
    assert problems and "integer literal" in problems[0].message
    assert check_source("x = 0x" + "f" * 1000, "exec") == []


# --------------------------------------------------------------------------- finding 2: memory

def test_extend_doubling_is_refused_before_allocating(env: SandboxEnvironment) -> None:
    """`a.extend(a)` x12 from 999999 elements was heading for 32 GB; two doublings (32 MB)
    show it without endangering a machine that runs this test against an unfixed sandbox."""
    script = "a = [0] * 999999\n" + "a.extend(a)\n" * 2 + "x = len(a)"
    errors: list[ScriptLimitExceeded] = []

    def run() -> None:
        with pytest.raises(ScriptLimitExceeded) as info:
            env.execute(script, {})
        errors.append(info.value)

    peak = _peak_bytes(run)
    assert errors[0].limit == "sequence size"
    assert peak < 12 * MB  # the first list (8 MB), not a doubled one


def test_straight_line_allocations_stop_at_the_total_memory_budget(env: SandboxEnvironment) -> None:
    """No loop, no tick: each line passes the per-object cap; the running total stops them."""
    script = "\n".join(f"a{i} = [0] * 999999" for i in range(100)) + "\nx = 1"
    errors: list[ScriptLimitExceeded] = []

    def run() -> None:
        with pytest.raises(ScriptLimitExceeded) as info:
            env.execute(script, {})
        errors.append(info.value)

    peak = _peak_bytes(run)
    assert errors[0].limit == "memory"
    assert peak < Limits().max_memory + 16 * MB


def test_memory_limit_is_per_environment() -> None:
    small = SandboxEnvironment(Limits(max_memory=1 * MB))
    assert _refused(small, "a = [0] * 100000\nb = [0] * 100000\nx = 1").limit == "memory"
    assert SandboxEnvironment().evaluate("len([0] * 100000 + [0] * 100000)", {}) == 200_000


GROWTH = [
    # extend / += / *= / slice assignment: lists grow from any iterable
    ("a = [0] * 999999\na += a", "sequence size"),
    ("a = []\nfor i in range(40):\n    a += range(999999)", "sequence size"),
    ("a = []\na += map(str, range(999999))", "iterations"),
    ("a = [0] * 999999\na.extend(zip(a, a))", "iterations"),
    ("a = [0] * 600000\na *= 2", "sequence size"),
    ("a = []\nfor i in range(40):\n    a[0:0] = range(999999)", "sequence size"),
    ("a = []\nfor i in range(40):\n    a[len(a):] = range(999999)", "sequence size"),
    ("a = [0] * 999999\nkeep = [a[:] for i in range(100)]", "memory"),
    ("a = [0] * 999999\nkeep = [a[::-1] for i in range(100)]", "memory"),
    ("s = 'x' * 999999\nkeep = []\nfor i in range(100):\n    t = s\n    t += 'y'\n    keep.append(t)", "memory"),
    # comprehensions and builders: one iteration per element
    ("x = [i for i in range(999999)]", "iterations"),
    ("x = {i: i for i in range(999999)}", "iterations"),
    ("x = list(range(10 ** 6))", "iterations"),
    ("x = sorted(range(10 ** 6))", "iterations"),
    ("a = [0] * 999999\na.sort()", "iterations"),
    ("x = list(range(10 ** 12))", "sequence size"),
    # dicts and sets
    ("keep = [dict.fromkeys(range(999999)) for i in range(5)]", "memory"),
    ("d = {}\nd.update(zip(range(999999), range(999999)))", "iterations"),
    ("d = dict.fromkeys(range(900000))\nkeep = [{**d} for i in range(5)]", "memory"),
    ("d = dict.fromkeys(range(900000))\nkeep = [d | {-1: 0} for i in range(5)]", "memory"),
    ("d = dict.fromkeys(range(900000))\nkeep = [d.copy() for i in range(5)]", "memory"),
    ("d = dict.fromkeys(range(900000))\nx = d.keys() | range(999999)", "sequence size"),
    ("s = set()\ns.update(range(999999))\nx = s | {-1, -2}", "sequence size"),
    ("s = set()\ns.update(range(999999))\nkeep = [s - {0} for i in range(5)]", "memory"),
    ("s = set()\ns.update(range(999999))\nx = s.union(range(-999999, 0))", "sequence size"),
    ("d = dict(zip(map(str, range(50000)), range(50000)))\nkeep = [dict(**d) for i in range(40)]", "memory"),
    # strings and bytes
    ("s = 'a' * 999999\nkeep = [s.upper() for i in range(100)]", "memory"),
    ("s = 'a ' * 499999\nkeep = [s.split() for i in range(10)]", "memory"),
    ("s = 'a\\n' * 499999\nkeep = [s.splitlines() for i in range(10)]", "memory"),
    ("s = '\\U0001F600' * 999999\nx = s.encode()", "sequence size"),
    ("s = 'a' * 999999\nx = s.encode('unicode_escape')", "sequence size"),
    ("b = ('a' * 999999).encode()\nx = b.hex()", "sequence size"),
    ("b = ('a' * 999999).encode()\nx = b * 2", "sequence size"),
    ("s = ['a' * 1000] * 900\nkeep = [''.join(s) for i in range(100)]", "memory"),
    ("x = 'ab'.replace('b', 'c' * 999999).replace('c', 'dd')", "sequence size"),
    ("keep = ['x'.center(999999) for i in range(100)]", "memory"),
    ("keep = ['x'.zfill(999999) for i in range(100)]", "memory"),
    ("keep = ['x'.ljust(999999, '\\u00e9') for i in range(20)]", "memory"),
    ("x = f'{Decimal(\"1e999999999\"):f}'", "sequence size"),
    ("tz = timezone(timedelta(0), 'z' * 100000)\n"
     "x = datetime.datetime(2024, 1, 1, tzinfo=tz).strftime('%Z' * 1000)", "sequence size"),
    ("tz = timezone(timedelta(0), 'z' * 100000)\nfmt = '%Z' * 1000\n"
     "x = f'{datetime.datetime(2024, 1, 1, tzinfo=tz):{fmt}}'", "sequence size"),
    ("x = str.maketrans('a' * 999999, 'b' * 999999)", "sequence size"),
    # what embeds a nested container in its text
    ("a = [0] * 1000\nb = [a] * 1000\nx = str({1: [b] * 1000}.values())", "sequence size"),
    ("a = [0] * 1000\nb = [a] * 1000\nx = str([ValueError([b] * 1000)])", "sequence size"),
    ("a = [0] * 1000\nb = [a] * 1000\nx = repr(slice([b] * 1000))", "sequence size"),
]


@pytest.mark.parametrize(("script", "limit"), GROWTH)
def test_every_growing_operation_is_bounded(script: str, limit: str) -> None:
    roomy_clock = SandboxEnvironment(Limits(max_seconds=120))  # a loaded machine must not turn it into "time"
    assert _refused(roomy_clock, script).limit == limit


def test_bytearray_and_memoryview_are_not_reachable(env: SandboxEnvironment) -> None:
    with pytest.raises(NameError):
        env.evaluate("bytearray(10)", {})
    assert check_source("memoryview(b'x')", "eval")


@pytest.mark.parametrize("script", [
    "a = [0] * 1000\nb = [a] * 1000\nraise ValueError([b] * 1000)",
    "d = {}\nx = d['k' * 999999]",  # KeyError's text repeats the key
    "a = [0] * 1000\nb = [a] * 1000\ntry:\n    x = 1 / 0\nexcept Exception:\n    raise KeyError([b] * 1000)",
])
def test_exceptions_too_large_to_show_do_not_leave_the_sandbox(env: SandboxEnvironment, script: str) -> None:
    """str(err) in Spiff's error handling or a log line would build a 10**9-character text."""
    error = _refused(env, script)
    assert len(str(error)) < 500
    assert error.__cause__ is None and error.__suppress_context__


def test_ordinary_container_work_still_runs(env: SandboxEnvironment) -> None:
    data = {"items": [{"sku": f"s{i}", "qty": i} for i in range(500)], "tags": ["a", "b"]}
    env.execute("by_sku = {i['sku']: i['qty'] for i in items}\n"
                "merged = {**by_sku, 'extra': 1} | {'more': 2}\n"
                "tags += ['c']\ntags.extend(t.upper() for t in tags)\ntags[0:1] = ['z']\ntags.sort()\n"
                "words = ' '.join(t for t in tags).split()\n"
                "kinds = set(tags) - {'z'} | {'q'}\nsame = {1, 2} & {2, 3}\nflip = {1, 2} ^ {2, 3}\n"
                "firsts = items[:2]\nrev = tags[::-1]\nkeys = dict.fromkeys(tags, 0)\n"
                "text = 'v: %s' % str(tags).center(40).strip()\nenc = 'é'.encode().hex()", data)
    assert len(data["by_sku"]) == 500 and data["merged"]["extra"] == 1 and data["merged"]["more"] == 2
    assert data["tags"] == ["A", "B", "C", "b", "c", "z"]
    assert data["words"] == data["tags"]
    assert data["kinds"] == {"A", "B", "C", "b", "c", "q"}
    assert (data["same"], data["flip"]) == ({2}, {1, 3})
    assert data["firsts"] == data["items"][:2] and data["rev"] == data["tags"][::-1]
    assert data["enc"] == "c3a9"


# --------------------------------------------------------------------------- step budget

def test_step_budget_caps_iterations_across_evaluations(env: SandboxEnvironment) -> None:
    """A BPMN loop running a 200-iteration script 1000 times is stopped like one long script."""
    script = "n = 0\nfor i in range(200):\n    n += 1"
    runs = 0
    with step_budget(iterations=50_000) as step:
        with pytest.raises(ScriptLimitExceeded) as info:
            for _ in range(1000):
                env.execute(script, {})
                runs += 1
        assert info.value.limit == "iterations" and "this step" in str(info.value)
        assert 240 <= runs <= 250
        with pytest.raises(ScriptLimitExceeded):  # the step stays spent
            env.execute(script, {})
        assert step.iterations <= 50_000 + 1 and step.evaluations == runs + 1
    for _ in range(300):  # outside the block: per-evaluation limits only
        env.execute(script, {})


def test_step_budget_caps_memory_across_evaluations(env: SandboxEnvironment) -> None:
    with step_budget(memory=100 * MB) as step:
        with pytest.raises(ScriptLimitExceeded) as info:
            for _ in range(100):
                env.execute("a = [0] * 999999\nb = [0] * 999999\nc = len(a)", {})  # 16 MB each
        assert info.value.limit == "memory"
        assert step.memory <= 100 * MB + 8 * MB and step.evaluations <= 7


def test_step_budget_caps_time_across_evaluations() -> None:
    sandbox = SandboxEnvironment(Limits(max_iterations=10 ** 12, max_seconds=60))
    with step_budget(seconds=0.2, iterations=10 ** 12) as step, pytest.raises(ScriptLimitExceeded) as info:
        sandbox.execute("while True:\n    pass", {})
    assert info.value.limit == "time" and "this step" in str(info.value)
    assert step.seconds < 10  # stopped by the step's 0.2 s, not the evaluation's 60 s


def test_step_budgets_nest_and_are_per_thread(env: SandboxEnvironment) -> None:
    script = "for i in range(100):\n    pass"
    with step_budget(iterations=1000) as outer:
        with step_budget(iterations=10 ** 6) as inner:
            for _ in range(5):
                env.execute(script, {})
        assert inner.iterations == outer.iterations == 500

        other: list[object] = []
        thread = threading.Thread(target=lambda: other.append(
            [env.execute(script, {}) for _ in range(50)]))  # 5000 iterations, not in this step
        thread.start()
        thread.join()
        assert other == [[True] * 50] and outer.iterations == 500

        with pytest.raises(ScriptLimitExceeded):
            for _ in range(10):
                env.execute(script, {})
    with pytest.raises(ValueError), step_budget(seconds=0):
        pass


LOOP_BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="spin" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    <bpmn:scriptTask id="work"><bpmn:incoming>f1</bpmn:incoming><bpmn:incoming>again</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>n = n + 1
for i in range(500):
    pass</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" default="done"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>again</bpmn:outgoing><bpmn:outgoing>done</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="again" sourceRef="gw" targetRef="work">
      <bpmn:conditionExpression>n &lt; 1000</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="done" sourceRef="gw" targetRef="end"/>
    <bpmn:endEvent id="end"><bpmn:incoming>done</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def test_step_budget_stops_a_bpmn_loop_with_the_sandbox_error() -> None:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(LOOP_BPMN, "spin.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("spin"),
                            script_engine=PythonScriptEngine(environment=SandboxEnvironment()))
    workflow.get_next_task(state=TaskState.READY).data["n"] = 0
    with step_budget(iterations=100_000), pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    assert info.value.error_type == "ScriptLimitExceeded"
    assert "iterations" in str(info.value)


# --------------------------------------------------------------------------- finding 3: threads

def test_expensive_script_cannot_hold_back_a_cheap_one_beyond_its_budget() -> None:
    """One process serves every tenant: a C call holds the GIL, so a 5 s divmod stalled every
    other request. Now the expensive script is refused by the budget error, and the CPU time
    it got (which bounds how long it can have held the GIL) stays within its budget."""
    budget_s = 0.5
    expensive_env = SandboxEnvironment(Limits(max_seconds=budget_s, max_iterations=10 ** 9))
    cheap_env = SandboxEnvironment()
    expensive = ("h = 'f' * 750000\nx = int(h, 16)\ny = x >> 1000000\nq = divmod(x, y)\n"
                 "g = math.gcd(x, y + 1)\nwhile True:\n    q = divmod(x, y)")
    results: dict[str, object] = {}
    started = threading.Barrier(2)

    def run_expensive() -> None:
        started.wait()
        try:
            expensive_env.execute(expensive, {})
            results["expensive"] = "finished"
        except ScriptLimitExceeded as err:
            results["expensive"] = err.limit
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            results["expensive"] = repr(err)

    def run_cheap() -> None:
        started.wait()
        results["cheap"] = [cheap_env.evaluate("amount > 5000 and level == 'director'",
                                               {"amount": 6000 + i, "level": "director"}) for i in range(2000)]

    threads = [threading.Thread(target=run_expensive), threading.Thread(target=run_cheap)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results["expensive"] == "int size"  # stopped by the budget error, before any C call
    assert results["cheap"] == [True] * 2000


def test_a_long_loop_in_one_thread_is_stopped_by_its_own_budget() -> None:
    """The same with a script that only loops: it runs at most its budget, in iterations."""
    sandbox = SandboxEnvironment(Limits(max_iterations=200_000, max_seconds=60))
    outcome: dict[str, object] = {}

    def loop() -> None:
        try:
            sandbox.execute("n = 0\nwhile True:\n    n += 1", {})
        except ScriptLimitExceeded as err:
            outcome["limit"] = err.limit

    thread = threading.Thread(target=loop)
    thread.start()
    cheap = [SandboxEnvironment().evaluate("a + b", {"a": i, "b": 1}) for i in range(1000)]
    thread.join(timeout=60)
    assert outcome == {"limit": "iterations"}
    assert cheap == [i + 1 for i in range(1000)]


def test_policy_errors_are_unchanged(env: SandboxEnvironment) -> None:
    with pytest.raises(ScriptPolicyError):
        env.evaluate("().__class__", {})


# -- shared nesting: cheap to build, a billion values to store, hash or hand to an operator -----

SHARED = "a = [0] * 1000\nb = [a] * 1000\nc = [b] * 1000\n"


def test_a_script_cannot_leave_data_that_expands_through_sharing() -> None:
    env = SandboxEnvironment()
    context: dict = {"keep": 1}
    with pytest.raises(ScriptLimitExceeded, match="counting shared parts"):
        env.execute(SHARED, context)
    assert context == {"keep": 1}


def test_an_expression_cannot_return_a_value_that_expands_through_sharing() -> None:
    env = SandboxEnvironment()
    with pytest.raises(ScriptLimitExceeded, match="counting shared parts"):
        env.evaluate("[[[0] * 1000] * 1000] * 1000", {})


def test_ordinary_data_passes_the_size_check() -> None:
    env = SandboxEnvironment()
    context: dict = {}
    env.execute("rows = [{'n': i, 'name': 'x' * 10} for i in range(1000)]", context)
    assert len(context["rows"]) == 1000
