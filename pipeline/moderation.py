"""The server's admission checks: allowed channels, the required role, blocked terms.

`moderation_checks(configs)` gives the checks `Pipeline.admit` runs for every way in; each
raises `UserError` to refuse, before anything is reserved or sent to the gateway.

Blocked terms are matched on the prompt after Unicode NFKC normalization and case folding
(full-width "ＮＳＦＷ" is "nsfw"), without invisible format characters ("nu\u200bde" is "nude"),
with typographic quotes and dashes read as the ASCII ones (phones type "child\u2019s" for "child's").
Two terms that normalize alike are one term: /blocklist add says it is already there, and remove
takes every stored spelling of it (`term_key`).
A plain term matches as a whole word in Latin text, and as a substring next to CJK characters
or when the term itself is CJK (Chinese and Japanese have no spaces between words). A term
written `re:<pattern>` is a regular expression (Python's syntax, Unicode-aware: `\\b` and `\\w`
know "érotique" and "голая"), searched case-insensitively by the `regex` module with a time limit
per search, in a worker thread that releases the GIL: one careless pattern, "(\\w+\\s?)+x",
cannot hold the event loop (every server's requests) for minutes. A search that runs out of time
counts as a match (refused, and logged naming the term): a prompt crafted to make the check give
up must not slip through.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Protocol

import regex

from i18n import Listing
from pipeline.explain import UserError
from pipeline.job import ImageJob
from pipeline.runner import AdmissionCheck
from storage.guild_config import GuildConfigStore

REGEX_PREFIX = "re:"
MAX_TERM_CHARS = 200

# Han (with extensions and compatibility ideographs), kana, Hangul: scripts written without spaces.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_CJK_CHAR = re.compile(f"[{_CJK}]")
# A letter that is not CJK: what must not touch a plain Latin term ("denuded" is not "nude"; a
# digit or an underscore is no letter: "nude2", "nude_art" are).
_NOT_BEFORE = f"(?<![^\\W\\d_{_CJK}])"
_NOT_AFTER = f"(?![^\\W\\d_{_CJK}])"
# Characters that draw nothing beyond the format ones (Unicode's default-ignorable code points):
# variation selectors, the combining grapheme joiner, Hangul fillers, Khmer inherent vowels,
# Mongolian variation selectors. "nu\ufe0fde" is "nude".
_IGNORABLE = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef]")
_SPACES = re.compile(r"\s+")
# What phones and word processors type for ' and " ("smart punctuation"), which NFKC leaves alone:
# curly, low-9 and reversed-9 quotes, the modifier letter apostrophe. Not special in a regular
# expression, so a pattern's are read the same way.
_QUOTES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u02bc": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
})  # fmt: skip
# Hyphens and the dashes put in for "-" or "--" as one types (NFKC already makes the non-breaking
# hyphen U+2011 a U+2010, full-width and small hyphen-minus "-"). Only in words: in a regular
# expression "-" may make a range ("[a\u2013z]").
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-"))


log = logging.getLogger(__name__)
REGEX_TIMEOUT = 0.1  # seconds one search of one admin pattern may take


class _Pattern(Protocol):
    pattern: str

    def search(self, text: str, *args: object, **kwargs: object) -> object: ...


class InvalidTermError(ValueError):
    """A blocked term that cannot be used (an invalid regular expression, an empty term).

    The message is English, for the log; `code` selects the i18n sentence "term.<code>", filled
    with `params`, which is what the admin reads.
    """

    def __init__(self, message: str, code: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def normalize(text: str, *, fold: bool = True) -> str:
    """NFKC, case folded, typographic quotes and dashes the ASCII ones ("child\u2019s" is "child's",
    "x\u2013rated" is "x-rated"), without format characters (Cf: zero-width spaces and joiners, soft
    hyphens, direction marks) or the other characters that draw nothing (`_IGNORABLE`), which
    would otherwise hide a term: "nu\u200bde"; every run of white space one space ("naked\n  woman"
    is "naked woman"). `fold=False` keeps the letters' case and forms ("ß" stays "ß", where folding
    makes "ss") and the dashes as typed, as a regular expression sees them (its quotes are read as
    the ASCII ones, so the text's are too)."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    if fold:
        text = text.casefold().translate(_DASHES)
    text = _IGNORABLE.sub("", "".join(char for char in text if unicodedata.category(char) != "Cf"))
    return _SPACES.sub(" ", text)


def is_regex(term: str) -> bool:
    return term.strip()[: len(REGEX_PREFIX)].casefold() == REGEX_PREFIX


def compile_term(term: str) -> _Pattern:
    """The pattern for one blocked term; raises InvalidTermError with the reason."""
    term = term.strip()
    if len(term) > MAX_TERM_CHARS:
        raise InvalidTermError(f"longer than {MAX_TERM_CHARS} characters", "too_long", limit=MAX_TERM_CHARS)
    if is_regex(term):
        source = _regex_source(term)
        if not source:
            raise InvalidTermError("the regular expression is empty", "empty_regex")
        try:
            pattern = regex.compile(source, regex.IGNORECASE | regex.V0)
        except regex.error as error:
            position = (error.pos or 0) + 1  # its wording is English: admins get the place
            raise InvalidTermError(f"invalid regular expression: {error}", "bad_regex", position=position) from None
        except (OverflowError, RecursionError) as error:  # thousands of nested groups
            raise InvalidTermError(f"regular expression too large: {error}", "regex_too_large") from None
        if pattern.search(""):
            raise InvalidTermError("the regular expression matches every prompt", "matches_everything")
        return pattern
    word = _word(term)
    if not word:
        raise InvalidTermError("the term is empty", "empty")
    if _CJK_CHAR.search(word):  # written without spaces: one put between its characters hides nothing
        return re.compile(r"\s?".join(re.escape(char) for char in word))
    return re.compile(f"{_NOT_BEFORE}{re.escape(word)}{_NOT_AFTER}")


def _word(term: str) -> str:
    """What a plain term matches: normalized, and without spaces when it is CJK."""
    word = normalize(term)
    return word.replace(" ", "") if _CJK_CHAR.search(word) else word


def _regex_source(term: str) -> str:
    """The pattern of a `re:` term as it is compiled: after the prefix (in any case), NFKC, its
    quotes the ASCII ones; its case and dashes as typed (`\\W` is not `\\w`; "[a\u2013z]" no range)."""
    return unicodedata.normalize("NFKC", term.strip()[len(REGEX_PREFIX) :].strip()).translate(_QUOTES)


def term_key(term: str) -> tuple[bool, str]:
    """What makes two blocked terms the same term: a word normalized as it is matched ("NUDE",
    "Nude" and "ｎｕｄｅ" are "nude"; "裸 体" is "裸体"), a regular expression as it is compiled
    ("RE: x" is "re:x"). Whether it is a regular expression is part of it: the word "ｒｅ:x" is not
    the pattern "re:x"."""
    term = term.strip()
    return (True, _regex_source(term)) if is_regex(term) else (False, _word(term))


@functools.lru_cache(maxsize=256)
def _compiled(terms: tuple[str, ...]) -> tuple[tuple[_Pattern, bool], ...]:
    """(pattern, is a regular expression) for each usable term."""
    patterns = []
    for term in terms:
        try:
            patterns.append((compile_term(term), is_regex(term)))
        except InvalidTermError as error:  # refused when added: stored by an older version
            log.warning("blocked term %r is skipped: it cannot be used (%s); remove it and add it again", term, error)
    return tuple(patterns)


def has_regex(terms: Sequence[str]) -> bool:
    return any(is_regex(term) for term in terms)


def is_blocked(prompt: str, terms: Sequence[str]) -> bool:
    """Whether `prompt` holds a blocked term. With `re:` terms its searches may take up to
    `REGEX_TIMEOUT` each: call it off the event loop then (`blocked_terms` does)."""
    text = normalize(prompt)
    typed = normalize(prompt, fold=False)
    # A word is folded like the prompt. A regular expression (case-insensitive) is written as the
    # admin typed it, so it also sees the prompt unfolded: "re:straße" matches "straße".
    for pattern, is_pattern in _compiled(tuple(terms)):
        if not is_pattern:
            if pattern.search(text):
                return True
        elif _regex_finds(pattern, text) or _regex_finds(pattern, typed):
            return True
    return False


def _regex_finds(pattern: _Pattern, text: str) -> bool:
    try:
        return pattern.search(text, timeout=REGEX_TIMEOUT, concurrent=True) is not None
    except TimeoutError:
        log.warning("blocked term re:%s took over %.1f s on a %d-character prompt: counted as found; "
                    "simplify it", pattern.pattern, REGEX_TIMEOUT, len(text))  # fmt: skip
        return True


def moderation_checks(
    configs: GuildConfigStore,
    *,
    role_exists: Callable[[int, int], bool] = lambda guild_id, role_id: True,
    channel_exists: Callable[[int, int], bool] = lambda guild_id, channel_id: True,
) -> list[AdmissionCheck]:
    """`role_exists(guild_id, role_id)`, `channel_exists(guild_id, channel_id)`: whether the
    server still has that role, that channel (the bot's cache)."""
    async def allowed_channel(job: ImageJob) -> None:
        allowed = configs.get(job.guild_id).allowed_channel_ids
        if allowed and job.channel_id not in allowed and job.parent_channel_id not in allowed:  # threads too
            # a deleted channel is no place to send anyone (Discord shows it as #unknown)
            channels = Listing(f"<#{channel_id}>" for channel_id in allowed if channel_exists(job.guild_id, channel_id))
            if not channels:  # still closed (opening it would be the admins' call), but nowhere is open
                raise UserError("moderation.channels_deleted", code="wrong_channel")
            raise UserError("moderation.wrong_channel", code="wrong_channel", channels=channels)

    async def required_role(job: ImageJob) -> None:
        role_id = configs.get(job.guild_id).required_role_id
        if role_id not in (None, job.guild_id) and role_id not in job.role_ids:  # guild id: @everyone
            if not role_exists(job.guild_id, role_id):
                # still closed (opening it would be the admins' call), but no one can get that role
                raise UserError("moderation.role_deleted", code="role_required")
            raise UserError("moderation.role_required", code="role_required", role=f"<@&{role_id}>")

    async def blocked_terms(job: ImageJob) -> None:
        terms = configs.get(job.guild_id).blocked_terms
        if has_regex(terms):  # admins' patterns: in a thread, the GIL released while they search
            blocked = await asyncio.to_thread(is_blocked, job.prompt, terms)
        else:
            blocked = is_blocked(job.prompt, terms)
        if blocked:
            raise UserError("moderation.blocked", code="blocked_term")

    blocked_terms.reads_prompt = True  # type: ignore[attr-defined]  # not run before a prompt is typed (check_access)
    # Not again at the turn (Pipeline.recheck): the member's roles are those of when they asked (the
    # bot hears of no role change), and a role given meanwhile would be refused for want of it.
    required_role.about_member = True  # type: ignore[attr-defined]
    return [allowed_channel, required_role, blocked_terms]
