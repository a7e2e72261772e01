"""OSC 1.0 address patterns: the linear-time matcher agrees with a brute-force reference on
random patterns, answers hostile ones (matched or refused) within a counted bound on its work,
and the address space's bounds, cache and per-datagram budget hold."""

from __future__ import annotations

import functools
import random

import pytest

from performer.inputs.osc.space import (
    MAX_ALTERNATIVES,
    MAX_DATAGRAM_STEPS,
    MAX_MATCH_STEPS,
    MAX_MATCHES,
    MAX_PATTERN,
    MAX_WILDCARDS,
    PATTERN_CACHE,
    AddressPattern,
    AddressSpace,
    MatchWork,
    OscInputError,
    OscTooComplex,
    pattern_matches,
)
from performer.render.shaders import ParamSpec

# A realistically sized address space: six shader programs of fifteen parameters, ten directions
PARAMS = {f"prog{i}.param_name_{j}": ParamSpec(1.0, 0.0, 3.0) for i in range(6) for j in range(15)}
DIRECTIONS = [str(k) for k in range(1, 9)] + ["smile", "age"]


def space(params=PARAMS) -> AddressSpace:
    return AddressSpace(lambda: ["a", "b"], lambda: 3, params, DIRECTIONS)


def reference(pattern: str, address: str) -> bool:
    """Brute force, straight from the OSC 1.0 text: `*` any run without '/', `?` one character
    but '/', `[...]` one listed (or, with '!', unlisted) character, `{a,b}` one of the words."""

    @functools.cache
    def m(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(address)
        c = pattern[i]
        rest = address[j:]
        if c == "*":
            return any(m(i + 1, j + k) for k in range(len(rest) + 1) if "/" not in rest[:k])
        if c == "?":
            return bool(rest) and rest[0] != "/" and m(i + 1, j + 1)
        if c == "[":
            end = pattern.index("]", i)
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            ok = False
            k = 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    ok = ok or (bool(rest) and body[k] <= rest[0] <= body[k + 2])
                    k += 3
                else:
                    ok = ok or (bool(rest) and rest[0] == body[k])
                    k += 1
            return bool(rest) and rest[0] != "/" and ok != negate and m(end + 1, j + 1)
        if c == "{":
            end = pattern.index("}", i)
            words = pattern[i + 1 : end].split(",")
            return any(rest.startswith(w) and m(end + 1, j + len(w)) for w in words)
        return bool(rest) and rest[0] == c and m(i + 1, j + 1)

    return m(0, 0)


PIECES = ["a", "b", "c", "ab", "?", "*", "**", "[ab]", "[!a]", "[a-b]", "[b-c]", "{a,bc}",
          "{,a}", "{ab,a,b}", "{c}"]  # fmt: skip


def random_pattern(rng: random.Random) -> str:
    segments = rng.randint(1, 3)
    return "".join(
        "/" + "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 4))) for _ in range(segments)
    )


def instance(rng: random.Random, pattern: str) -> str:
    """An address the pattern probably matches (a positive case, most of the time)."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("".join(rng.choice("abc") for _ in range(rng.randint(0, 3))))
        elif c == "?":
            out.append(rng.choice("abc"))
        elif c == "[":
            end = pattern.index("]", i)
            out.append(rng.choice("abc"))
            i = end
        elif c == "{":
            end = pattern.index("}", i)
            out.append(rng.choice(pattern[i + 1 : end].split(",")))
            i = end
        else:
            out.append(c)
        i += 1
    return "".join(out)


def random_address(rng: random.Random) -> str:
    return "".join(
        "/" + "".join(rng.choice("abc") for _ in range(rng.randint(0, 4)))
        for _ in range(rng.randint(1, 3))
    )


def test_the_matcher_agrees_with_a_brute_force_reference():
    rng = random.Random(11)
    agree = {True: 0, False: 0}
    for _ in range(4000):
        pattern = random_pattern(rng)
        address = instance(rng, pattern) if rng.random() < 0.6 else random_address(rng)
        expected = reference(pattern, address)
        assert pattern_matches(pattern, address) is expected, (pattern, address)
        agree[expected] += 1
    assert agree[True] > 800 and agree[False] > 800  # both sides well covered


@pytest.mark.parametrize(
    "pattern,address,hit",
    [
        ("/a/*", "/a/", True),  # * matches nothing
        ("/a/*", "/a/b/c", False),  # ... but never a '/'
        ("/a/?", "/a/", False),
        ("/{,x}a", "/a", True),  # an empty word
        ("/{a*,b}", "/a*", True),  # words are literal
        ("/{a*,b}", "/ab", False),
        ("/[a-c-]", "/-", True),  # a trailing '-' is itself
        ("/[!a-c]", "/d", True),
        ("/x[ab]", "/xab", False),
        ("/é[é-ê]", "/éê", True),  # beyond latin-1's table: the character path
        ("/ā[!ā]", "/āb", True),
    ],
)
def test_pattern_corner_cases(pattern, address, hit):
    assert pattern_matches(pattern, address) is hit


@pytest.mark.parametrize(
    "pattern,problem",
    [
        ("/stage/cue/[oops", "'[' without ']'"),
        ("/stage/[a/b]", "'[' without ']'"),
        ("/stage/{a,b", "'{' without '}'"),
        ("/stage/a]*", "unmatched ']'"),
        ("/stage/[]*", "an empty [...] set"),
        ("/stage/[z-a]", "backwards range z-a"),
    ],
)
def test_bad_pattern_syntax(pattern, problem):
    with pytest.raises(OscInputError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        AddressPattern(pattern)


# --- hostile patterns: answered, with a bound on the work ---------------------------------------

HOSTILE = {
    "the issue's (20 '*' and a 'z')": "/stage/param/" + "*" * 20 + "z",
    "24 '*' in one segment": "/stage/param/" + "*" * 24 + "a",
    "24 separated '*'": "/stage/param/" + "*a" * 24,
    "'*?' x 16": "/stage/param/" + "*?" * 16,
    "two 30-'*' segments": "/stage/" + "*" * 30 + "/" + "*" * 30,
    "two segments of 30 separated '*'": "/stage/" + "*p" * 30 + "/" + "*r" * 30,
    "40 alternatives {a*,...}": "/stage/param/{" + ",".join(["a*"] * 40) + "}",
    "40 distinct alternatives": "/stage/param/*{" + ",".join(f"e_{i}" for i in range(40)) + "}",
    "'*[a-z]' x 16": "/stage/param/" + "*[a-z]" * 16,
    "empty alternatives": "/stage/param/" + "{,}" * 30 + "*",
    "too long": "/stage/param/" + "*a" * 200,
    "too many alternatives": "/stage/param/{" + ",".join("x" * 70) + "}",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_patterns_are_answered_within_a_bound(name):
    pattern = HOSTILE[name]
    s = space()
    longest = max(len(a) for a in s.methods)
    try:
        found = s.match(pattern)
    except OscTooComplex:
        found = None
    # the work: capped per pattern, and never more than about pattern x address per address
    assert s.last_steps <= MAX_MATCH_STEPS + 3 * (len(pattern) + 1) * (longest + 1)
    assert s.last_steps <= 3 * (len(pattern) + 1) * (longest + 1) * len(s.methods)
    if found is not None:
        assert all(pattern_matches(pattern, m.address) for m in found)
    # the answer is remembered: asking again costs no matching at all
    before = s.steps
    try:
        assert s.match(pattern) == found
    except OscTooComplex:
        assert found is None
    assert s.steps == before


def test_each_address_costs_at_most_pattern_times_address_steps():
    rng = random.Random(5)
    heavy = ["*", "?", "*a", "*?", "[a-c]", "[!b]", "{a,ab,abc}", "{,a}", "a", "b"]
    for _ in range(500):
        pattern = "/" + "".join(rng.choice(heavy) for _ in range(rng.randint(1, 30)))
        address = "/" + "".join(rng.choice("abc") for _ in range(rng.randint(0, 40)))
        glob = AddressPattern(pattern, MatchWork(limit=10**9))
        glob.matches(address)
        assert glob.work.steps <= 3 * (len(pattern) + 1) * (len(address) + 1), (pattern, address)


def test_the_bounds_refuse_what_no_instrument_sends():
    assert (
        pattern_matches("/stage/param/" + "x" * (MAX_PATTERN - 14) + "*", "/stage/param/x") is False
    )
    with pytest.raises(OscTooComplex, match="characters"):
        AddressPattern("/" + "a" * MAX_PATTERN + "*")
    with pytest.raises(OscTooComplex, match="wildcards"):
        AddressPattern("/" + "a?" * (MAX_WILDCARDS + 1))
    assert pattern_matches("/" + "a?" * MAX_WILDCARDS, "/" + "ab" * MAX_WILDCARDS)
    with pytest.raises(OscTooComplex, match="alternatives"):
        AddressPattern("/{" + ",".join("w" * (MAX_ALTERNATIVES + 1)) + "}")
    with pytest.raises(OscTooComplex, match="matching steps"):
        AddressPattern("/" + "*a" * 30, MatchWork(limit=50)).matches("/" + "a" * 60)


def test_a_pattern_naming_too_many_addresses_is_refused_whole():
    many = {f"p.x{i}": ParamSpec(0.0, 0.0, 1.0) for i in range(MAX_MATCHES + 10)}
    s = space(many)
    with pytest.raises(OscTooComplex, match="names"):
        s.match("/stage/param/*")
    assert len(s.match("/stage/param/p.x1*")) == 1 + 10 + 100  # x1, x10-x19, x100-x199


def test_exact_addresses_first_then_wildcards_and_the_cache_is_bounded():
    s = space()
    assert [m.address for m in s.match("/stage/cue/next")] == ["/stage/cue/next"]
    assert s.match("/stage/nothing") == [] and s.steps == 0  # no wildcard: no matching
    assert [m.kind for m in s.match("/stage/cue/{next,prev}")] == ["next", "prev"]
    for i in range(3 * PATTERN_CACHE):
        s.match(f"/stage/latent/{i}*")
    assert len(s._patterns) <= PATTERN_CACHE


def test_a_datagrams_matching_budget_is_shared_by_its_patterns():
    s = space()
    budget = MatchWork(MAX_DATAGRAM_STEPS)
    answered = refused = 0
    for i in range(60):  # distinct, so none is cached
        try:
            s.match(f"/stage/param/{'*a' * 12}{i}", budget)
            answered += 1
        except OscTooComplex as e:
            assert "this datagram's" in str(e)
            refused += 1
    assert answered >= 5 and refused > 0
    assert budget.steps <= MAX_DATAGRAM_STEPS + MAX_MATCH_STEPS
    before = s.steps  # refused for the budget only: not remembered, matched when asked again
    assert s.match(f"/stage/param/{'*a' * 12}{59}") == [] and s.steps > before
