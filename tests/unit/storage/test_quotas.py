"""Quota rules, budgets, the audit log and the precedence that turns rules into limits."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from pipeline.limits import explain_limits
from storage import Budget, Limits, QuotaRule, Storage
from storage.quotas import MemberRules

GUILD, ADMIN, MEMBER = 1, 7, 100
ARTISTS, PATRONS, VIP = 501, 502, 503
ENV = Limits(daily_images=1, monthly_micros=1_000_000, guild_monthly_micros=50_000_000)


def set_values(daily=None, monthly=None):
    return lambda rule: dataclasses.replace(rule, daily_images=daily, monthly_micros=monthly)


async def test_a_rule_change_is_stored_and_audited_in_one_go(storage: Storage):
    quotas = storage.quotas
    old, new = await quotas.update_rule(GUILD, "member", MEMBER, set_values(3, 2_500_000), actor_id=ADMIN)
    assert old is None
    assert new == QuotaRule("member", MEMBER, 3, 2_500_000)
    assert await quotas.rule(GUILD, "member", MEMBER) == new
    assert await quotas.rule(GUILD + 1, "member", MEMBER) is None  # per server

    await quotas.update_rule(GUILD, "member", MEMBER, set_values(None, 2_500_000), actor_id=ADMIN)
    [second, first] = await storage.audit.recent(GUILD)
    assert (first.actor_id, first.action, first.target, first.old, first.new) == (
        ADMIN, "quota.set", f"member:{MEMBER}", None, "daily_images=3, monthly_usd=$2.50")
    assert (second.old, second.new) == ("daily_images=3, monthly_usd=$2.50", "monthly_usd=$2.50")


async def test_clearing_everything_deletes_the_rule_and_an_unchanged_rule_is_not_audited(storage: Storage):
    quotas = storage.quotas
    await quotas.update_rule(GUILD, "role", ARTISTS, set_values(5), actor_id=ADMIN)
    await quotas.update_rule(GUILD, "role", ARTISTS, set_values(5), actor_id=ADMIN)  # no change
    old, new = await quotas.update_rule(GUILD, "role", ARTISTS, set_values(), actor_id=ADMIN)
    assert old == QuotaRule("role", ARTISTS, 5) and new is None
    assert await quotas.all_rules(GUILD) == []
    history = [(e.old, e.new) for e in await storage.audit.recent(GUILD)]
    assert history == [("daily_images=5", None), (None, "daily_images=5")]


async def test_a_failing_change_leaves_no_rule_and_no_audit_entry(storage: Storage):
    def boom(rule):
        raise RuntimeError("bad change")

    with pytest.raises(RuntimeError):
        await storage.quotas.update_rule(GUILD, "member", MEMBER, boom, actor_id=ADMIN)
    with pytest.raises(ValueError, match="another target"):
        await storage.quotas.update_rule(GUILD, "member", MEMBER, lambda r: QuotaRule("role", 1, 1), actor_id=ADMIN)
    assert await storage.quotas.all_rules(GUILD) == []
    assert await storage.audit.recent(GUILD) == []


async def test_rules_for_reads_the_member_their_roles_and_the_server_default(storage: Storage):
    quotas = storage.quotas
    for kind, target, daily in (("member", MEMBER, 9), ("member", 999, 1), ("role", ARTISTS, 3), ("role", VIP, 4),
                                ("role", GUILD, 2)):
        await quotas.update_rule(GUILD, kind, target, set_values(daily), actor_id=ADMIN)
    await quotas.set_budget(GUILD, Budget(10_000_000, 80, 42), actor_id=ADMIN)
    rules = await quotas.rules_for(GUILD, MEMBER, [GUILD, ARTISTS, PATRONS])
    assert rules.member == QuotaRule("member", MEMBER, 9)
    assert rules.roles == (QuotaRule("role", ARTISTS, 3),)
    assert rules.server == QuotaRule("role", GUILD, 2)
    assert rules.budget == Budget(10_000_000, 80, 42)
    nobody = await quotas.rules_for(GUILD, 12345, [])
    assert (nobody.member, nobody.roles, nobody.server) == (None, (), QuotaRule("role", GUILD, 2))


async def test_budget_set_replace_and_remove_are_audited(storage: Storage):
    quotas = storage.quotas
    await quotas.set_budget(GUILD, Budget(10_000_000), actor_id=ADMIN)
    old, _ = await quotas.set_budget(GUILD, Budget(20_000_000, 75, 42), actor_id=ADMIN)
    assert old == Budget(10_000_000)
    old, new = await quotas.set_budget(GUILD, None, actor_id=ADMIN)
    assert (old, new) == (Budget(20_000_000, 75, 42), None)
    assert await quotas.budget(GUILD) is None
    assert [(e.action, e.old, e.new) for e in reversed(await storage.audit.recent(GUILD))] == [
        ("budget.set", None, "monthly_usd=$10.00"),
        ("budget.set", "monthly_usd=$10.00", "monthly_usd=$20.00, warn_at=75% in channel:42"),
        ("budget.set", "monthly_usd=$20.00, warn_at=75% in channel:42", None),
    ]


async def test_a_budget_warning_is_claimed_once_per_month_and_threshold(storage: Storage):
    claims = await asyncio.gather(*(storage.quotas.claim_warning(GUILD, "2026-11", 80) for _ in range(10)))
    assert claims.count(True) == 1
    assert await storage.quotas.claim_warning(GUILD, "2026-11", 90)  # another threshold
    assert await storage.quotas.claim_warning(GUILD, "2026-12", 80)  # another month
    assert await storage.quotas.claim_warning(GUILD + 1, "2026-11", 80)  # another server
    assert not await storage.quotas.claim_warning(GUILD, "2026-11", 80)


async def test_audit_entries_of_requests_are_grouped_for_history(storage: Storage):
    audit = storage.audit
    await audit.record(GUILD, ADMIN, "request.approved", "request:5", "pending", "approved", request_id=5)
    await audit.record(GUILD, ADMIN, "blocked_terms.add", "guild", None, "cat")
    await audit.record(GUILD, 8, "request.rejected", "request:6", "pending", "rejected", request_id=6)
    grouped = await audit.for_requests([5, 6, 7])
    assert {k: [(e.action, e.actor_id) for e in v] for k, v in grouped.items()} == {
        5: [("request.approved", ADMIN)], 6: [("request.rejected", 8)]}
    assert [e.action for e in await audit.recent(GUILD, action_prefix="request.")] == [
        "request.rejected", "request.approved"]
    assert await audit.for_requests([]) == {}


# -- precedence (pure) -----------------------------------------------------------------------
def rules(member=None, roles=(), server=None, budget=None) -> MemberRules:
    return MemberRules(member, tuple(roles), server, budget)


def role(role_id, daily=None, monthly=None, exempt=False) -> QuotaRule:
    return QuotaRule("role", role_id, daily, monthly, exempt)


def test_nothing_set_falls_back_to_the_env_defaults():
    explained = explain_limits(rules(), ENV)
    assert explained.limits == ENV
    assert {explained.daily_images.source, explained.monthly_micros.source, explained.guild_budget.source} == {
        "default"}


def test_the_member_setting_beats_every_role_even_an_exempt_one():
    member = QuotaRule("member", MEMBER, daily_images=2)
    explained = explain_limits(rules(member, [role(ARTISTS, daily=50), role(VIP, exempt=True)]), ENV)
    assert (explained.daily_images.value, explained.daily_images.source) == (2, "member")
    # the member set no monthly limit: that one comes from the roles (VIP is exempt)
    assert (explained.monthly_micros.value, explained.monthly_micros.source) == (None, "exempt")
    assert explained.monthly_micros.role_id == VIP


def test_the_most_generous_role_wins_per_limit():
    roles = [role(ARTISTS, daily=3, monthly=9_000_000), role(PATRONS, daily=5, monthly=2_000_000), role(VIP)]
    explained = explain_limits(rules(roles=roles, server=role(GUILD, daily=100)), ENV)
    assert (explained.daily_images.value, explained.daily_images.role_id) == (5, PATRONS)
    assert (explained.monthly_micros.value, explained.monthly_micros.role_id) == (9_000_000, ARTISTS)


def test_roles_beat_the_server_default_which_beats_env():
    explained = explain_limits(rules(roles=[role(ARTISTS, daily=3)], server=role(GUILD, daily=10, monthly=0)), ENV)
    assert (explained.daily_images.value, explained.daily_images.source) == (3, "role")
    assert (explained.monthly_micros.value, explained.monthly_micros.source) == (0, "server")
    everyone_exempt = explain_limits(rules(server=role(GUILD, exempt=True)), ENV)
    assert everyone_exempt.limits == Limits(None, None, ENV.guild_monthly_micros)


def test_the_server_budget_overrides_the_env_budget():
    explained = explain_limits(rules(budget=Budget(3_000_000, 80, 1)), ENV)
    assert (explained.guild_budget.value, explained.guild_budget.source) == (3_000_000, "server")
    assert explained.limits.guild_monthly_micros == 3_000_000
