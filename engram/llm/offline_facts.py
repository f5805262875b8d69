"""The offline demo model's "understanding": facts a user states, questions about them, memory blocks.

Plain regular expressions over English, deliberately small: enough for "My name is Ada and I like
chess" -> "Name: Ada" / "Likes: chess" and "What is my name?" -> "Your name is Ada." It is a demo
and test model, not a language model; anything it does not recognise gets a generic reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MULTI_VALUED_KEYS = frozenset({"Likes", "Dislikes", "Note"})
_VALUE_LIMIT_CHARS = 120
_NAME = r"([A-Za-z][\w'\-]*(?:\s+[A-Z][\w'\-]*){0,2})"
_REST = r"(.+)"


@dataclass(frozen=True)
class Fact:
    key: str  # "Name", "Likes", "Lives in", "Favorite color", ...
    value: str

    @property
    def line(self) -> str:
        """How the fact is written into the human block."""
        return f"{self.key}: {self.value}"

    @property
    def is_single_valued(self) -> bool:
        """A new value replaces the old one (a name) rather than adding to it (likes)."""
        return self.key not in MULTI_VALUED_KEYS

    def phrase(self) -> str:
        """The fact said back to the user, in the second person: "your name is Ada"."""
        verbs = {
            "Likes": "you like",
            "Dislikes": "you don't like",
            "Lives in": "you live in",
            "From": "you're from",
            "Age": "you are",
            "Job": "you work as",
            "Workplace": "you work at",
            "About": "you are",
        }
        if self.key in verbs:
            return f"{verbs[self.key]} {self.value}"
        if self.key == "Note":
            return second_person(self.value)
        return f"your {self.key[0].lower()}{self.key[1:]} is {self.value}"


# (pattern, key) in priority order; the first that matches a clause wins.
_FACT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), key)
    for p, key in (
        (rf"\bmy name is {_NAME}", "Name"),
        (rf"\bcall me {_NAME}", "Name"),
        (rf"\bi(?:'m| am) called {_NAME}", "Name"),
        (rf"\bmy (favou?rite [\w ]{{1,30}}?) (?:is|are) {_REST}", "Favorite"),
        (rf"\bi (?:do not|don't|really don't) (?:like|enjoy|love) {_REST}", "Dislikes"),
        (rf"\bi (?:hate|dislike|can't stand) {_REST}", "Dislikes"),
        (rf"\bi (?:really |also |do )?(?:like|love|enjoy|adore) {_REST}", "Likes"),
        (rf"\bi(?: live|'m living| am living|'m based| am based) in {_REST}", "Lives in"),
        (rf"\bi(?:'m| am| come) from {_REST}", "From"),
        (r"\bi(?:'m| am) (\d{1,3}) (?:years? old|yo)\b", "Age"),
        (r"\bmy age is (\d{1,3})\b", "Age"),
        (rf"\bi work as {_REST}", "Job"),
        (rf"\bi work (?:at|for) {_REST}", "Workplace"),
        (r"\bi(?:'m| am) (an? .+)", "About"),
        (rf"\bmy ([\w' ]{{1,30}}?) (?:is|are) {_REST}", "Generic"),
    )
)
_BARE_NAME = re.compile(
    r"\bI(?:'m| am) ([A-Z][a-z][\w'\-]*)\b"
)  # case-sensitive: "I am Ada", not "I am tired"
_REMEMBER = re.compile(
    r"^\W*(?:please\s+)?(?:remember|note|don't forget)(?: that)?[:,]?\s+(.+)", re.IGNORECASE
)
_CLAUSE_SPLIT = re.compile(
    r",?\s+(?:and|but|also|so)\s+(?=(?:i|i'm|my|call me|remember)\b)|,\s+(?=(?:i|i'm|my|call me)\b)",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_NOT_NAMES = frozenset(
    {"a", "an", "the", "not", "so", "very", "just", "here", "back", "fine", "good", "ok", "okay"}
)


def _clean(value: str) -> str:
    value = re.sub(r"\s+", " ", value).strip(" \t\"'.,;:!?")
    return value[:_VALUE_LIMIT_CHARS]


def _fact_from_clause(clause: str) -> Fact | None:
    for pattern, key in _FACT_PATTERNS:
        match = pattern.search(clause)
        if not match:
            continue
        if key == "Favorite":
            thing = re.sub(r"^favou?rite", "Favorite", _clean(match.group(1)), flags=re.IGNORECASE)
            return Fact(thing, _clean(match.group(2))) if _clean(match.group(2)) else None
        if key == "Generic":
            thing = _clean(match.group(1))
            value = _clean(match.group(2))
            return Fact(thing[0].upper() + thing[1:], value) if thing and value else None
        value = _clean(match.group(1))
        if key == "Name":
            if value.lower() in _NOT_NAMES:
                return None
            value = value[0].upper() + value[1:]
        return Fact(key, value) if value else None
    bare = _BARE_NAME.search(clause)
    if bare and bare.group(1).lower() not in _NOT_NAMES:
        return Fact("Name", bare.group(1))
    return None


def extract_facts(text: str) -> list[Fact]:
    """Facts the user states about themselves; questions (sentences ending in "?") state nothing."""
    facts: list[Fact] = []
    for sentence in _SENTENCE.findall(text):
        if sentence.strip().endswith("?"):
            continue
        for clause in _CLAUSE_SPLIT.split(sentence):
            remembered = _REMEMBER.match(clause)
            body = remembered.group(1) if remembered else clause
            fact = _fact_from_clause(body)
            if fact is None and remembered and _clean(body):
                fact = Fact("Note", _clean(body))
            if fact is not None and fact not in facts:
                facts.append(fact)
    return facts


def facts_in_block(block: str) -> list[Fact]:
    """`Key: value` lines of a memory block (the format `Fact.line` writes), plus a free-text name."""
    facts = []
    for raw in block.splitlines():
        key, sep, value = raw.partition(":")
        if sep and key.strip() and value.strip() and len(key) <= 40:
            facts.append(Fact(key.strip(), value.strip()))
    if not any(f.key == "Name" for f in facts):
        named = re.search(r"\bname(?:\s+is|:)\s+([A-Z][\w'\-]*)", block)
        if named:
            facts.append(Fact("Name", named.group(1)))
    return facts


def is_known(fact: Fact, block: str) -> bool:
    """The value already appears in memory as whole words ("Ada" is not known from "Adam")."""
    return re.search(rf"(?<!\w){re.escape(fact.value)}(?!\w)", block, re.IGNORECASE) is not None


def conflicting_line(fact: Fact, block: str) -> str | None:
    """The block line holding another value for a single-valued key ("Name: Bob" when told "Ada")."""
    if not fact.is_single_valued:
        return None
    for raw in block.splitlines():
        key, sep, value = raw.partition(":")
        if sep and key.strip().lower() == fact.key.lower() and value.strip().lower() != fact.value.lower():
            return raw
    return None


_PRONOUNS = {
    "i": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "am": "are",
    "i'm": "you're",
    "i've": "you've",
    "i'll": "you'll",
    "i'd": "you'd",
    "was": "were",
}


def second_person(text: str) -> str:
    """ "my sister is Eve" -> "your sister is Eve", for echoing a user's words back to them."""
    return re.sub(
        r"\b(i'm|i've|i'll|i'd|i|me|my|mine|myself|am|was)\b",
        lambda m: _PRONOUNS[m.group(1).lower()],
        text,
        flags=re.IGNORECASE,
    )


def join_phrases(phrases: list[str]) -> str:
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


_BLOCK = re.compile(r"<([^\s<>/][^\s<>]*)>\s*\n(.*?)\n</\1>", re.DOTALL)
_VALUE = re.compile(r"<value>\n?(.*?)\n?</value>", re.DOTALL)
_LINE_NUMBER = re.compile(r"^\d+→ ?", re.MULTILINE)  # Letta's Anthropic variant prefixes value lines "N→ "


def parse_memory_blocks(system_text: str) -> dict[str, str]:
    """Block label -> value from Letta's compiled `<memory_blocks>` section (reference B.6)."""
    start = system_text.find("<memory_blocks>")
    end = system_text.find("</memory_blocks>", start)
    if start < 0 or end < 0:
        return {}
    blocks: dict[str, str] = {}
    for label, body in _BLOCK.findall(system_text[start + len("<memory_blocks>") : end]):
        value = _VALUE.search(body)
        if value is not None:
            blocks[label] = _LINE_NUMBER.sub("", value.group(1)).strip()
    return blocks


# (question pattern, fact key or None for "everything", what to call it when unknown)
_QUESTIONS: tuple[tuple[re.Pattern[str], str | None, str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), key, unknown)
    for p, key, unknown in (
        (
            r"\bwhat(?:'s| is) my name\b|\bwho am i\b|\b(?:know|remember) my name\b|\bwhat am i called\b",
            "Name",
            "your name",
        ),
        (
            r"\bwhat do(?:n't| not)? i (?:hate|dislike)\b|\bwhat (?:do(?:n't| not) i|don't i) like\b",
            "Dislikes",
            "what you dislike",
        ),
        (
            r"\bwhat (?:do|things do) i (?:like|love|enjoy)\b|\bwhat are my (?:hobbies|interests)\b",
            "Likes",
            "what you like",
        ),
        (r"\bwhere do i live\b|\bwhere am i (?:based|living)\b", "Lives in", "where you live"),
        (r"\bwhere (?:am i|do i come) from\b", "From", "where you're from"),
        (r"\bhow old am i\b|\bwhat(?:'s| is) my age\b", "Age", "your age"),
        (r"\bwhat(?:'s| is) my job\b|\bwhat do i do for (?:a )?(?:living|work)\b", "Job", "what you do"),
        (r"\bwhere do i work\b", "Workplace", "where you work"),
        (
            r"\bwhat do you (?:know|remember) about me\b|\bwhat(?:'s| is) in your memory\b|\btell me about (?:me|myself)\b",
            None,
            "anything about you",
        ),
    )
)
_MY_THING = re.compile(r"\bwhat(?:'s| is| are) my ([\w' ]{1,40}?)\s*\??\s*$", re.IGNORECASE)
_AGENT_NAME_QUESTION = re.compile(r"\bwhat(?:'s| is) your name\b|\bwho are you\b", re.IGNORECASE)
_AGENT_NAME = re.compile(r"(?i:my name is|name:|i am|i'm)\s+([A-Z][\w'\-]*)")


def answer_question(text: str, human: str, persona: str) -> str | None:
    """An answer from memory when `text` asks about the user (or the agent's name); None otherwise."""
    if _AGENT_NAME_QUESTION.search(text):
        name = _AGENT_NAME.search(persona)
        return (
            f"I'm {name.group(1)}."
            if name
            else "I'm an Engram agent running the built-in offline demo model."
        )
    known = facts_in_block(human)
    for pattern, key, unknown in _QUESTIONS:
        if pattern.search(text):
            matching = [f for f in known if key is None or f.key == key]
            return _answer(matching, unknown)
    thing = _MY_THING.search(text)
    if thing:
        wanted = re.sub(r"^favourite", "favorite", thing.group(1).strip().lower())
        return _answer([f for f in known if f.key.lower() == wanted], f"your {wanted}")
    return None


def _answer(facts: list[Fact], unknown: str) -> str:
    if not facts:
        return f"I don't know {unknown} yet. Tell me and I'll remember it."
    merged: dict[str, list[str]] = {}
    for fact in facts:
        merged.setdefault(fact.key, []).append(fact.value)
    phrases = [Fact(key, join_phrases(values)).phrase() for key, values in merged.items()]
    if len(phrases) > 1 or facts[0].key == "Note":
        return "Here's what I remember about you: " + "; ".join(phrases) + "."
    return phrases[0][0].upper() + phrases[0][1:] + "."
