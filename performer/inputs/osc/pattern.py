"""OSC 1.0 address patterns (`?`, `*`, `[a-z]`, `[!abc]`, `{foo,bar}`) matched in linear time,
with the bounds on the work one pattern or datagram may cause. No regex is ever built from a
sender's text: Python's `re` holds the interpreter lock for a whole match, so one hostile
pattern could freeze the show.
"""

from __future__ import annotations


class OscInputError(ValueError):
    """A message the stage cannot use; the text says what and where."""


# ---------------------------------------------------------------------------- address patterns
#
# A pattern is matched one `/`-separated segment at a time. Within a segment the matcher keeps
# the set of positions in the address segment where the pattern read so far can end (a bit
# mask) and updates it once per pattern token: nothing backtracks, so the work is at most about
# len(pattern) x len(address) steps; they are counted and capped. No sender's text is ever
# turned into a regex.

MAX_PATTERN = 256  # characters in a pattern with wildcards (an exact address may be any length)
MAX_WILDCARDS = 32  # `*` (a run of them counts once), `?`, `[...]` and `{...}` in one pattern
MAX_ALTERNATIVES = 64  # words in all of one pattern's `{...}` together
MAX_MATCHES = 256  # methods one pattern may name: more is refused whole, never cut short
MAX_MATCH_STEPS = 10_000  # matcher steps for one new pattern (≈ 3 ms; legit ones: hundreds)
MAX_DATAGRAM_STEPS = 40_000  # ... and for all the new patterns of one datagram
PATTERN_CACHE = 512  # patterns remembered: their methods, or why they were refused

_WORDS, _ONE, _STAR, _SET = range(4)  # token kinds: literal words ({a,b} or plain text), ?, *, []


class OscTooComplex(OscInputError):
    """Input over one of the bounds on the work one datagram may cause (counted as too_complex)."""


class MatchWork:
    """Matcher steps spent against a limit; past it, `OscTooComplex`."""

    def __init__(self, limit: int = MAX_MATCH_STEPS) -> None:
        self.limit, self.steps = limit, 0

    def spend(self, steps: int, what: str) -> None:
        self.steps += steps
        if self.steps > self.limit:
            raise OscTooComplex(f"{what}: more than {self.limit} matching steps")


def clip(text: str, n: int = 48) -> str:
    """A sender's text cut short for a log line."""
    return text if len(text) <= n else text[: n - 1] + "…"


class AddressPattern:
    """An OSC 1.0 address pattern (`?`, `*`, `[a-z]`, `[!abc]`, `{foo,bar}`), parsed once and
    matched segment by segment in linear time (`*` and `?` never cross a `/`; the words in
    `{}` are literal). Bad syntax raises `OscInputError`; a pattern over the bounds (or a match
    over `work`'s limit) raises `OscTooComplex`."""

    def __init__(self, pattern: str, work: MatchWork | None = None) -> None:
        self.text = pattern
        self.work = work if work is not None else MatchWork()
        if len(pattern) > MAX_PATTERN:
            raise OscTooComplex(too_long(pattern))
        self.wildcards = self.alternatives = 0
        # per segment: the plain text (no wildcard), or its tokens
        self.segments: list[str | tuple[tuple, ...]] = [
            self._parse(seg) for seg in pattern.split("/")
        ]
        if self.wildcards > MAX_WILDCARDS:
            raise OscTooComplex(
                f"{clip(pattern)}: {self.wildcards} wildcards (at most {MAX_WILDCARDS})"
            )
        if self.alternatives > MAX_ALTERNATIVES:
            raise OscTooComplex(
                f"{clip(pattern)}: {self.alternatives} {{}} alternatives"
                f" (at most {MAX_ALTERNATIVES})"
            )

    def _parse(self, seg: str) -> str | tuple[tuple, ...]:
        if not any(c in seg for c in "*?[]{}"):
            return seg
        where = clip(self.text)
        tokens: list[tuple] = []
        text: list[str] = []
        i, n = 0, len(seg)
        while i < n:
            ch = seg[i]
            if ch not in "*?[]{}":
                text.append(ch)
                i += 1
                continue
            if text:
                tokens.append((_WORDS, ("".join(text),)))
                text = []
            if ch == "*":
                if not tokens or tokens[-1][0] != _STAR:  # `**` is `*`
                    tokens.append((_STAR,))
                    self.wildcards += 1
            elif ch == "?":
                tokens.append((_ONE,))
                self.wildcards += 1
            elif ch == "[":
                end = seg.find("]", i + 1)
                if end < 0:
                    raise OscInputError(f"{where}: '[' without ']' (or a '/' inside [...])")
                tokens.append(_char_set(seg[i + 1 : end], where))
                self.wildcards += 1
                i = end
            elif ch == "{":
                end = seg.find("}", i + 1)
                if end < 0:
                    raise OscInputError(f"{where}: '{{' without '}}' (or a '/' inside {{...}})")
                words = seg[i + 1 : end].split(",")
                self.alternatives += len(words)
                if any(words):  # `{}` and `{,}` match the empty string: nothing to do
                    tokens.append((_WORDS, tuple(dict.fromkeys(words))))  # each word once
                self.wildcards += 1
                i = end
            else:
                raise OscInputError(f"{where}: unmatched {ch!r}")
            i += 1
        if text:
            tokens.append((_WORDS, ("".join(text),)))
        return tuple(tokens)

    def segment_matches(self, level: int, text: str) -> bool:
        """Whether segment `level` of the pattern matches `text` (one address segment)."""
        seg = self.segments[level]
        if isinstance(seg, str):
            self.work.spend(1, self.text)
            return seg == text
        hit, steps = _match_segment(seg, text)
        self.work.spend(steps, clip(self.text))
        return hit

    def matches(self, address: str) -> bool:
        """Whether the pattern matches a whole address."""
        parts = address.split("/")
        if len(parts) != len(self.segments):
            return False
        return all(self.segment_matches(i, part) for i, part in enumerate(parts))


def pattern_matches(pattern: str, address: str) -> bool:
    """Whether an OSC 1.0 address pattern matches an address (see `AddressPattern`)."""
    return AddressPattern(pattern).matches(address)


def too_long(pattern: str) -> str:
    return f"{clip(pattern)}: a pattern of {len(pattern)} characters (at most {MAX_PATTERN})"


def _char_set(body: str, where: str) -> tuple:
    negate = body.startswith("!")
    body = body[1:] if negate else body
    if not body:
        raise OscInputError(f"{where}: an empty [...] set")
    chars: set[str] = set()
    ranges: list[tuple[str, str]] = []
    j = 0
    while j < len(body):
        if j + 2 < len(body) and body[j + 1] == "-":
            lo, hi = body[j], body[j + 2]
            if lo > hi:
                raise OscInputError(f"{where}: backwards range {lo}-{hi}")
            ranges.append((lo, hi))
            j += 3
        else:
            chars.add(body[j])
            j += 1
    # a byte table for latin-1 text: b"1" where the set matches, else b"0" (one C call a text)
    table = bytearray(b"0" * 256)
    for c in chars:
        if ord(c) < 256:
            table[ord(c)] = 49
    for lo, hi in ranges:
        a, b = ord(lo), min(ord(hi), 255)
        if a <= b:
            table[a : b + 1] = b"1" * (b + 1 - a)
    if negate:
        table = table.translate(bytes.maketrans(b"01", b"10"))
    return (_SET, negate, frozenset(chars), tuple(ranges), bytes(table))


def _set_mask(token: tuple, text: str) -> int:
    """Bit p set where text[p] is in a `[...]` set: one translate for latin-1 text."""
    _, negate, chars, ranges, table = token
    if not text:
        return 0
    try:
        return int(text.encode("latin-1").translate(table)[::-1], 2)
    except UnicodeEncodeError:
        bits = [(c in chars or any(lo <= c <= hi for lo, hi in ranges)) != negate for c in text]
        return sum(1 << p for p, hit in enumerate(bits) if hit)


def _match_segment(tokens: tuple[tuple, ...], text: str) -> tuple[bool, int]:
    """(match?, steps) for one segment's tokens against one address segment. `reach` has bit p
    set when the tokens so far can end at position p of `text`; each token maps it to the next
    in at most about len(text) steps."""
    n = len(text)
    full = (2 << n) - 1  # positions 0..n
    reach, steps = 1, 0
    for token in tokens:
        kind = token[0]
        steps += 1
        if kind == _STAR:  # every position from the first reachable one on
            reach = full & -(reach & -reach)
        elif kind == _ONE:
            reach = (reach << 1) & full
        elif kind == _WORDS:
            after = 0
            single = not reach & (reach - 1)
            for word in token[1]:
                steps += 1
                if single:  # the usual case: one position to try each word at
                    if text.startswith(word, reach.bit_length() - 1):
                        after |= reach << len(word)
                elif not word:
                    after |= reach
                else:
                    i = text.find(word)
                    while i >= 0:
                        steps += 1
                        if reach >> i & 1:
                            after |= 1 << (i + len(word))
                        i = text.find(word, i + 1)
            reach = after
        else:
            reach = (reach & _set_mask(token, text)) << 1
        if not reach:
            return False, steps
    return bool(reach >> n & 1), steps
