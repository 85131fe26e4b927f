"""A typing smoke test over the public API: checked by ``mypy --strict tests/typing`` (nox -s typecheck).

Never executed; it only has to type-check. If a public signature changes in a way that breaks
ordinary use, mypy fails here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import privacy_kit as pk
from privacy_kit.adapters import Adapter, InMemoryAdapter, Selection, where


def load_and_check(policy_path: Path, datamap_path: str) -> bool:
    policy: pk.Policy = pk.load_policy(policy_path)
    datamap: pk.DataMap = pk.load_datamap(datamap_path, policy=policy)
    from_mapping: pk.Policy = pk.load_policy({"version": "1"})
    same: pk.Policy = pk.load_policy(policy)
    report: pk.CheckReport = pk.check(policy, datamap)
    alone: pk.CheckReport = pk.check(from_mapping)
    findings: tuple[pk.Finding, ...] = report.errors + alone.warnings
    severities: list[pk.Severity] = [f.severity for f in findings]
    codes: set[str] = report.codes()
    records: list[dict[str, str]] = report.to_records()
    return report.ok and same == policy and bool(severities or codes or records)


def models(policy: pk.Policy, datamap: pk.DataMap) -> None:
    rule: pk.RetentionRule | None = policy.rule_for("user.contact.email")
    if rule is not None:
        duration: pk.Duration = rule.effective_duration
        trigger: pk.Trigger = rule.trigger
        override: pk.OverrideRange | None = rule.override
        exceptions: tuple[pk.RetentionException, ...] = rule.exceptions
        action: pk.RetentionAction = rule.action
        print(duration, trigger, override, exceptions, action)
    offer: pk.RightOffer | None = policy.offers(pk.Right.ACCESS, "gdpr")
    reasons: tuple[pk.RefusalReason, ...] = offer.refusal_reasons if offer else ()
    recipients: tuple[pk.Recipient, ...] = policy.recipients_of("user.contact.email")
    kind: pk.RecipientKind = recipients[0].kind
    purposes: frozenset[str] = policy.purposes_of("user.device.ip_address")
    collection: pk.Collection = policy.collection[0]
    source: pk.Source = collection.source
    breach: pk.BreachPromise | None = policy.breach  # optional: absent means no promise
    children: pk.Children | None = policy.children
    changes: pk.ChangePolicy = policy.changes
    material: tuple[pk.ChangeKind, ...] = changes.material
    comms: tuple[pk.Communication, ...] = policy.communications
    comm_kind: pk.CommunicationKind = comms[0].kind
    controller: pk.Controller = policy.controller
    contact: pk.Contact = controller.contacts[0]
    storage: pk.Storage = policy.storage
    location: pk.StorageLocation = storage.locations[0]
    transfers: tuple[pk.Transfer, ...] = storage.transfers
    measures: tuple[pk.SecurityMeasure, ...] = policy.security
    requests: pk.Requests = policy.requests
    channel: pk.RequestChannel = policy.channel("email")
    identity: pk.IdentityVerification | None = requests.identity
    scope: pk.SubjectScope = policy.subjects[0]
    spec: pk.TaxonomySpec = policy.taxonomy
    exception_kind: pk.ExceptionKind = pk.ExceptionKind.LEGAL_OBLIGATION
    newer: pk.Policy = policy.replace(version="2")
    print(reasons, kind, purposes, source, breach, children, material, comm_kind, contact)
    print(location, transfers, measures, channel, identity, scope, spec, exception_kind, newer)

    record_type: pk.RecordType = datamap.record_type("bookings")
    field: pk.FieldSpec = record_type.field("invitee_email")
    link: pk.SubjectLink = record_type.link("invitee")
    timestamps: pk.Timestamps = record_type.timestamps
    account: pk.AccountLink | None = record_type.account
    anonymize: pk.Anonymization | None = field.anonymize
    anon_kind: pk.AnonymizationKind | None = anonymize.kind if anonymize else None
    time_field: str | None = record_type.time_field("event")
    roles: tuple[str, ...] = record_type.roles()
    print(link, timestamps, account, anon_kind, time_field, roles)


def taxonomy_and_values() -> None:
    tax: pk.Taxonomy = pk.default_taxonomy()
    category: pk.DataCategory = tax.category("user.contact.email")
    purpose: pk.Purpose = tax.purpose("support")
    basis: pk.LegalBasis = purpose.legal_basis
    article: str = basis.article
    kind: pk.SubjectKind = tax.subject_kind("customer")
    special: bool = tax.is_special(category.key)
    bigger: pk.Taxonomy = tax.extend(
        categories=[category], purposes=[purpose], subject_kinds=[kind]
    )
    hint: str | None = bigger.suggest_category("user.contct")

    d: pk.Duration = pk.Duration.parse("P1Y6M")
    end: dt.datetime = d.after(dt.datetime(2024, 1, 31, tzinfo=dt.UTC))
    start: dt.datetime = pk.Duration(days=30).before(end)
    longer: bool = d > pk.Duration(months=17)
    text: pk.LocalizedText = pk.LocalizedText({"en": "Hello", "ar": "مرحبا"})
    arabic: str = text.get_text("ar", fallback=None)
    gdpr: pk.Jurisdiction = pk.get_jurisdiction("gdpr")
    deadline: pk.RequestDeadline | None = gdpr.request_deadline  # None only for 'global'
    everyone: tuple[pk.Jurisdiction, ...] = pk.jurisdictions()
    example: Path = pk.example_path("datamap.yaml")
    print(article, special, hint, start, longer, arabic, deadline, everyone, example)


def errors() -> None:
    try:
        pk.load_policy("policy.yaml")
    except pk.PolicyError as exc:
        problems: tuple[pk.Problem, ...] = exc.problems
        where: list[str] = [p.location for p in problems]
        source: str = exc.source
        print(where, source)
    except pk.PrivacyKitError:
        raise
    err: pk.AdapterError = pk.AdapterError("boom", adapter="X", record_type="t", operation="delete")
    family: tuple[type[pk.PrivacyKitError], ...] = (
        pk.ConfigurationError,
        pk.SchemaMismatchError,
        pk.PlanError,
        pk.RequestError,
        pk.InvalidTransitionError,
        pk.VerificationError,
        pk.AuditIntegrityError,
        pk.DisclosureError,
    )
    print(err, family)


def engine(policy: pk.Policy, datamap: pk.DataMap) -> None:
    memory = InMemoryAdapter({rt.table_name: [] for rt in datamap.record_types})
    adapter: Adapter = memory
    eng: pk.Engine = pk.Engine(policy, datamap, adapter, secret=b"k" * 32)
    eng_by_store: pk.Engine = pk.Engine(policy, datamap, {"main": memory}, verify=False)
    subject: pk.Subject = pk.Subject.of("end_user", email="ann@example.com")
    richer: pk.Subject = subject.with_identities(user_id=7)
    value: object = richer.identity("email")
    selection: Selection = where.eq("host_id", 7) & where.before(
        "end_at", dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    )
    either: Selection = where.in_("id", [1, 2]) | ~where.is_null("email")
    count: int = memory.count(datamap.record_type("bookings"), selection | either)
    print(eng, eng_by_store, value, count)


def sharded_sweep(eng: pk.Engine, now: dt.datetime) -> None:
    plan: pk.RetentionPlan = pk.RetentionPlan.from_json(eng.plan_retention(now=now).to_json())
    shards: tuple[pk.Shard, ...] = eng.shards(plan, rows_per_shard=50_000)
    carried: list[str] = [s.to_json() for s in shards]
    reports: list[pk.ShardReport] = [eng.apply_shard(plan, pk.Shard.from_json(m)) for m in carried]
    done: int = sum(r.done for r in reports if r.exact and not r.resumed)
    again: pk.ShardReport = pk.ShardReport.from_json(reports[0].to_json())
    report: pk.RetentionReport = eng.finish_sweep(plan, shards)
    bounds: pk.adapters.TimeBounds = pk.adapters.time_bounds(
        eng.adapter_for("users"), eng.datamap.record_type("users"), where.all(), "closed_at", 4
    )
    print(done, again.describe(), report.total, bounds.by, shards[0].describe())
    blocks: tuple[int, int | None] | None = shards[0].blocks
    cuts: tuple[int, ...] = pk.adapters.block_bounds(
        eng.adapter_for("bookings"), eng.datamap.record_type("bookings"), 4
    )
    in_blocks: Selection = pk.adapters.BlockRange(0, cuts[0] if cuts else None)
    finished: bool = eng.finish_sweep(plan, shards).already_finished
    print(blocks, in_blocks, finished)


def requests_by_store(eng: pk.Engine, subject: pk.Subject, now: dt.datetime) -> None:
    job: pk.ExportJob = eng.export_job(subject, "out.zip", now=now, parts="parts")
    parts: list[pk.ExportPart] = [eng.collect_export_part(job, store) for store in job.stores]
    result: pk.ExportResult = eng.assemble_export(pk.ExportJob.from_json(job.to_json()))
    plan: pk.ErasurePlan = eng.plan_erasure(subject, now=now)
    units: tuple[pk.ErasureUnit, ...] = eng.begin_erasure(plan)
    done: list[dict[str, object]] = [
        eng.apply_erasure_unit(plan, pk.ErasureUnit.from_json(u.to_json())) for u in units
    ]
    report: pk.ErasureReport = eng.finish_erasure(plan)
    print(parts[0].total, result.total, len(done), report.deleted)
