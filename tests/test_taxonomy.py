"""The taxonomy: the default vocabulary, the hierarchy, special categories, extension, lookups."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
import yaml

import privacy_kit as pk
from privacy_kit import DataCategory, LegalBasis, Purpose, SubjectKind, Taxonomy
from privacy_kit.model._taxonomy import is_within
from strategies import minimal_policy_data

TAX = pk.default_taxonomy()

# Every kind of data the reference policy (POLICY_BRIEF sections 3 and 4, and 2 for bookings)
# mentions, with the default category that holds it.
POLICY_MENTIONS = {
    "account name": "user.account.name",
    "account e-mail": "user.contact.email",
    "account settings": "user.account.settings",
    "contact information": "user.contact",
    "profile": "user.profile",
    "company content": "user.content.organization",
    "services offered": "user.content.services",
    "support conversations": "user.support.conversation",
    "payment card": "user.financial.payment_card",
    "usage (features, how often)": "user.usage.features",
    "device type": "user.device.type",
    "browser": "user.device.browser",
    "IP address": "user.device.ip_address",
    "cookies": "user.device.cookie_id",
    "bookings": "user.scheduling.booking",
    "web-conferencing provider": "user.scheduling.conferencing",
}


@pytest.mark.parametrize(("what", "key"), POLICY_MENTIONS.items())
def test_default_taxonomy_covers_the_reference_policy(what: str, key: str) -> None:
    category = TAX.category(key)
    assert category.name.get_text("en"), what
    assert category.personal


def test_default_purposes_of_the_reference_policy_have_legal_bases() -> None:
    expected = {
        "service.provide": LegalBasis.CONTRACT,
        "service.personalize": LegalBasis.LEGITIMATE_INTERESTS,
        "product.research": LegalBasis.LEGITIMATE_INTERESTS,
        "support": LegalBasis.CONTRACT,
        "security.fraud": LegalBasis.LEGITIMATE_INTERESTS,
        "security.verification": LegalBasis.LEGITIMATE_INTERESTS,
        "billing": LegalBasis.CONTRACT,
        "marketing.email": LegalBasis.CONSENT,
        "legal.obligation": LegalBasis.LEGAL_OBLIGATION,
    }
    for key, basis in expected.items():
        assert TAX.purpose(key).legal_basis is basis, key
    assert TAX.purpose("marketing.email").direct_marketing
    assert not TAX.purpose("service.provide").direct_marketing


def test_default_subject_kinds() -> None:
    for key in ("customer", "end_user", "account_admin"):
        assert TAX.has_subject_kind(key)
        assert TAX.subject_kind(key).name.get_text("en")


def test_every_default_category_has_its_parent() -> None:
    keys = {c.key for c in TAX.categories}
    for c in TAX.categories:
        assert c.parent is None or c.parent in keys
    assert len(keys) == len(TAX.categories)


def test_hierarchy() -> None:
    assert is_within("user.contact.email", "user.contact")
    assert is_within("user.contact", "user.contact")
    assert not is_within("user.contacts", "user.contact")
    assert not is_within("user.contact", "user.contact.email")
    assert TAX.covers("user", "user.device.ip_address")
    assert not TAX.covers("user.device", "user.contact.email")
    assert [c.key for c in TAX.ancestors("user.contact.email")] == ["user.contact", "user"]
    assert {c.key for c in TAX.descendants("user.contact")} == {
        "user.contact",
        "user.contact.email",
        "user.contact.phone",
        "user.contact.address",
    }
    assert TAX.category("user.contact.email").parent == "user.contact"
    assert TAX.category("user").parent is None
    assert TAX.category("user.contact.email").depth == 2


def test_special_categories_are_flagged_and_inherited() -> None:
    for key in ("user.health", "user.biometric", "user.genetic", "user.criminal"):
        assert TAX.is_special(key), key
    assert not TAX.is_special("user.contact.email")
    tax = TAX.extend(
        categories=[DataCategory(key="user.health.diagnosis", name={"en": "Diagnosis"})]
    )
    child = tax.category("user.health.diagnosis")
    assert not child.special  # not flagged itself...
    assert tax.is_special("user.health.diagnosis")  # ...but inherited from user.health


def test_extend_adds_and_replaces_without_touching_the_original() -> None:
    tax = TAX.extend(
        categories=[
            DataCategory(key="user.content.recipes", name="Recipes"),
            DataCategory(key="user.contact.email", name={"en": "Work e-mail"}),
        ],
        purposes=[Purpose(key="product.recipes", name="Recipes", legal_basis="contract")],
        subject_kinds=[SubjectKind(key="chef", name="Chef")],
    )
    assert tax.has_category("user.content.recipes")
    assert tax.category("user.contact.email").name.get_text("en") == "Work e-mail"
    assert tax.purpose("product.recipes").legal_basis is LegalBasis.CONTRACT
    assert tax.subject_kind("chef").name.get_text("en") == "Chef"
    assert not TAX.has_category("user.content.recipes")
    assert TAX.category("user.contact.email").name.get_text("en") == "Email address"
    assert len(tax.categories) == len(TAX.categories) + 1


def test_extend_refuses_an_orphan_category() -> None:
    with pytest.raises(pydantic.ValidationError, match="has no parent category 'pets'"):
        TAX.extend(categories=[DataCategory(key="pets.name", name="Pet name")])


def test_duplicates_are_refused() -> None:
    cat = {"key": "a", "name": "A"}
    with pytest.raises(pydantic.ValidationError, match="duplicate category 'a'"):
        Taxonomy.model_validate({"categories": [cat, cat]})
    p = {"key": "p", "name": "P", "legal_basis": "consent"}
    with pytest.raises(pydantic.ValidationError, match="duplicate purpose 'p'"):
        Taxonomy.model_validate({"purposes": [p, p]})
    k = {"key": "k", "name": "K"}
    with pytest.raises(pydantic.ValidationError, match="duplicate subject kind 'k'"):
        Taxonomy.model_validate({"subject_kinds": [k, k]})


@pytest.mark.parametrize("key", ["User.contact", "user..contact", "user.", "1user", "user-contact"])
def test_category_key_pattern(key: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="String should match pattern"):
        DataCategory(key=key, name="x")


def test_lookups_with_hints() -> None:
    with pytest.raises(
        KeyError,
        match=r"unknown category 'user\.contct\.email'; did you mean 'user\.contact\.email'",
    ):
        TAX.category("user.contct.email")
    with pytest.raises(KeyError, match="unknown purpose 'suport'; did you mean 'support'"):
        TAX.purpose("suport")
    with pytest.raises(KeyError, match="unknown subject kind 'custmer'; did you mean 'customer'"):
        TAX.subject_kind("custmer")
    with pytest.raises(KeyError, match=r"unknown category 'zzzzzz'$|unknown category 'zzzzzz'\"$"):
        TAX.category("zzzzzz")
    assert TAX.suggest_category("user.contact.emial") == "user.contact.email"
    assert TAX.suggest_purpose("billng") == "billing"
    assert TAX.suggest_subject_kind("end_usr") == "end_user"
    assert TAX.suggest_category("qqqqqqqqqqqq") is None
    assert TAX.has_category("user.contact.email")
    assert not TAX.has_category("user.contact.fax")
    assert TAX.has_purpose("support")
    assert not TAX.has_purpose("spying")


def test_legal_basis_articles_and_objection() -> None:
    assert [b.article for b in LegalBasis] == [f"GDPR Art. 6(1)({letter})" for letter in "abcdef"]
    assert LegalBasis.LEGITIMATE_INTERESTS.objectionable
    assert LegalBasis.PUBLIC_TASK.objectionable
    assert not LegalBasis.CONSENT.objectionable
    assert not LegalBasis.CONTRACT.objectionable
    with pytest.raises(ValueError, match="'whim' is not a valid LegalBasis"):
        LegalBasis("whim")


def test_purpose_needs_a_legal_basis() -> None:
    with pytest.raises(pydantic.ValidationError, match="legal_basis"):
        Purpose.model_validate({"key": "x", "name": "X"})


def test_default_taxonomy_is_cached_and_frozen() -> None:
    assert pk.default_taxonomy() is pk.default_taxonomy()
    with pytest.raises(pydantic.ValidationError):
        TAX.categories = ()  # type: ignore[misc]


# --- a policy cannot make a special category not special ----------------------------------------

SPECIAL = [c.key for c in TAX.categories if c.special]


def _policy_with(categories: list[dict[str, object]], base: str = "default") -> dict[str, object]:
    data = minimal_policy_data()
    data["taxonomy"] = {"base": base, "categories": categories}
    return data


def test_the_default_taxonomy_has_nine_special_categories() -> None:
    assert SPECIAL == [
        "user.health",
        "user.biometric",
        "user.genetic",
        "user.racial_ethnic_origin",
        "user.political_opinion",
        "user.religious_belief",
        "user.trade_union",
        "user.sexual_orientation",
        "user.criminal",
    ]


@pytest.mark.parametrize("key", SPECIAL)
def test_a_policy_cannot_declare_a_default_special_category_not_special(key: str) -> None:
    data = _policy_with([{"key": key, "name": "Not so special", "special": False}])
    with pytest.raises(pk.PolicyError) as info:
        pk.load_policy(data)
    expected = (
        f"taxonomy.categories[0].special: {key!r} is a special category (GDPR Art. 9/10) of the "
        "base taxonomy; a policy cannot make it not special: set special: true"
    )
    assert [str(p) for p in info.value.problems] == [expected]


def test_redefining_a_special_category_without_the_flag_is_refused(tmp_path: Path) -> None:
    data = _policy_with(
        [
            {"key": "user.contact.fax", "name": "Fax"},
            {"key": "user.health", "name": {"en": "Wellness", "de": "Wohlbefinden"}},
        ]
    )
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(pk.PolicyError) as info:
        pk.load_policy(path)
    assert str(info.value) == (
        f"{path}: taxonomy.categories[1].special: 'user.health' is a special category "
        "(GDPR Art. 9/10) of the base taxonomy; a policy cannot make it not special: "
        "add special: true"
    )


def test_a_special_category_may_be_redefined_when_it_stays_special() -> None:
    data = _policy_with(
        [
            {"key": "user.health", "name": "Wellness", "special": True},
            {"key": "user.health.diagnosis", "name": "Diagnosis"},
            {"key": "user.health.steps", "name": "Steps", "special": False},
        ]
    )
    vocabulary = pk.load_policy(data).vocabulary
    assert vocabulary.category("user.health").name.get_text("en") == "Wellness"
    assert vocabulary.is_special("user.health")
    # a category below a special one is special by inheritance, whatever its own flag says
    assert vocabulary.is_special("user.health.diagnosis")
    assert vocabulary.is_special("user.health.steps")


def test_a_policy_without_the_default_base_defines_its_own_special_categories() -> None:
    data = _policy_with(
        [
            {"key": "user", "name": "User"},
            {"key": "user.contact", "name": "Contact"},
            {"key": "user.contact.email", "name": "E-mail"},
            {"key": "user.health", "name": "Health", "special": False},
        ],
        base="none",
    )
    data["taxonomy"]["purposes"] = [  # type: ignore[index]
        {"key": "support", "name": "Support", "legal_basis": "contract"}
    ]
    data["subjects"] = [{"kind": "customer", "description": "Customers"}]
    data["taxonomy"]["subject_kinds"] = [{"key": "customer", "name": "Customer"}]  # type: ignore[index]
    assert not pk.load_policy(data).vocabulary.is_special("user.health")


def test_extend_refuses_to_drop_a_special_flag() -> None:
    with pytest.raises(pk.PolicyError, match=r"categories\[1\]\.special: 'user\.genetic'"):
        TAX.extend(
            categories=[
                DataCategory(key="user.content.recipes", name="Recipes"),
                DataCategory(key="user.genetic", name="Genes"),
            ]
        )
    kept = TAX.extend(categories=[DataCategory(key="user.genetic", name="Genes", special=True)])
    assert kept.is_special("user.genetic")
