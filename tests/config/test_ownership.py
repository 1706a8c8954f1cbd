"""RACI queries: area lookup, people and mentions, notify scopes, what a person owns."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.loader import load_config
from bot.config.models import OwnershipConfig
from bot.config.ownership import Ownership, RoleKey, RoleKind, Signer, UnknownAreaError, role_key, wider
from bot.text.typed import Unknown

ROOT = Path(__file__).resolve().parents[2]

CONFIG = OwnershipConfig.model_validate(
    {
        "people": {
            "maya": "U07MAYA001",
            "li": "li.chen@example.com",
            "omar": "U07OMAR001",
            "sam": "U07SAM0001",
            "dana": "U07DANA001",
            "rosa": "U07ROSA001",
        },
        "teams": {
            # on-call is not the first member: pages go to the on-call first.
            "ml": {"name": "ML Team", "members": ["li", "maya", "omar"], "oncall": "maya"},
            "platform": {"name": "Platform Team", "members": ["sam", "U07PRIYA01"]},
            "data": {"name": "Data Team", "members": ["dana", "kenji@example.com"]},
        },
        "areas": {
            "model-quality": {
                "name": "Model / Prompt",
                "covers": "Accuracy, quality",
                "responsible": "ml",
                "accountable": "maya",
                # U07MAYA001 is maya written as an ID: she must count once.
                "consulted": ["data", "U07MAYA001"],
                "informed": ["rosa", "platform"],
                "runbook": "https://wiki.example.com/runbooks/model-quality",
                "aliases": ["model", "prompt"],
            },
            "policy-guardrails": {
                "name": "Policy / Guardrails",
                "responsible": "rosa",
                "accountable": "rosa",
                "consulted": ["ml"],
                "aliases": ["policy", "legal"],
            },
        },
    }
)


@pytest.fixture
def own() -> Ownership:
    return Ownership(CONFIG, emails={"LI.CHEN@example.com": "U07LICHEN1"})


def test_area_by_key_alias_name_case_and_hash() -> None:
    own = Ownership(CONFIG)
    assert own.area("model-quality") == "model-quality"
    assert own.area("Prompt") == "model-quality"
    assert own.area("  #policy ") == "policy-guardrails"
    assert own.area("model / prompt") == "model-quality"
    assert own.area("modle") is None
    assert own.area("") is None


def test_suggest_area() -> None:
    own = Ownership(CONFIG)
    assert own.suggest_area("modle") == "model-quality"
    assert own.suggest_area("#legl") == "policy-guardrails"
    assert own.suggest_area("model") == "model-quality"
    assert own.suggest_area("zzzzzz") is None


def test_unknown_area_error_suggests() -> None:
    own = Ownership(CONFIG)
    with pytest.raises(UnknownAreaError) as caught:
        own.raci("modle-quality")
    assert str(caught.value) == "There is no area `modle-quality`. Did you mean `model-quality`?"
    assert caught.value.plain() == (
        "area 'modle-quality' is not an area (did you mean 'model-quality'?): use one of "
        + ", ".join(own.config.areas)
    )
    assert isinstance(caught.value, KeyError)  # the lookups that catch a KeyError still do


def test_an_unknown_person_is_one_error_with_the_nearest_handle(own: Ownership) -> None:
    assert own.person_named("@maya") == "maya" and own.person_named("<@U07MAYA001|maya>") == "maya"
    with pytest.raises(Unknown) as caught:
        own.person_named("@mya", then="e.g. `/owner @maya`")
    said = str(caught.value)
    assert said == "There is no person `@mya`. Did you mean `maya`? e.g. `/owner @maya`"
    nobody = str(pytest.raises(Unknown, own.person_named, "zzzzzz").value)
    assert nobody.startswith("There is no person `zzzzzz`. People: `maya`, `")
    assert nobody.endswith("in ownership.yaml, or anyone by their Slack mention (@someone).")
    assert "&lt;!channel&gt;" in str(pytest.raises(Unknown, own.person_named, "<!channel>").value)


def test_user_id_and_label(own: Ownership) -> None:
    assert own.user_id("maya") == "U07MAYA001"
    assert own.user_id("U07PRIYA01") == "U07PRIYA01"
    # E-mail keys are matched case-insensitively.
    assert own.user_id("li") == "U07LICHEN1"
    assert own.user_id("kenji@example.com") is None
    assert own.user_id("nobody") is None
    assert own.label("li") == "<@U07LICHEN1>"
    assert own.label("kenji@example.com") == "kenji@example.com"
    assert Ownership(CONFIG).label("li") == "li"


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("<@U07MAYA001|maya.s>", "maya"),
        ("<@U07MAYA001>", "maya"),
        ("<@U07LICHEN1|li>", "li"),  # through the resolved e-mail
        ("<@U09STRANGER>", "U09STRANGER"),
        ("@Maya", "maya"),
        ("omar", "omar"),
        ("U07PRIYA01", "U07PRIYA01"),
        ("li.chen@example.com", "li"),
        ("kenji@example.com", "kenji@example.com"),
        ("@nobody", None),
        ("@", None),
        ("<!subteam^S07MLTEAM>", None),
    ],
)
def test_person_from_text(own: Ownership, text: str, ref: str | None) -> None:
    assert own.person_from_text(text) == ref


def test_oncall_defaults_to_first_member(own: Ownership) -> None:
    assert own.oncall("ml") == "maya"
    assert own.oncall("platform") == "sam"


def test_scopes_are_ordered_and_deduplicated(own: Ownership) -> None:
    assert own.scope("model-quality", "owner") == ["maya"]
    assert own.scope("model-quality", "owning-team") == ["maya", "li", "omar"]
    assert own.scope("model", "everyone") == [
        "maya",
        "li",
        "omar",
        "dana",
        "kenji@example.com",
        "rosa",
        "sam",
        "U07PRIYA01",
    ]
    assert own.scope("model-quality", "backlog") == []
    with pytest.raises(ValueError, match="unknown notify scope 'all'"):
        own.scope("model-quality", "all")


def test_scopes_with_a_person_responsible(own: Ownership) -> None:
    assert own.scope("policy", "owner") == ["rosa"]
    assert own.scope("policy", "owning-team") == ["rosa"]
    assert own.scope("policy", "everyone") == ["rosa", "maya", "li", "omar"]


def test_raci_card(own: Ownership) -> None:
    raci = own.raci("prompt")
    assert raci.area == "model-quality"
    assert raci.responsible_team == "ml"
    assert raci.responsible == ["maya", "li", "omar"]
    assert raci.oncall == "maya" and raci.accountable == "maya"
    assert raci.consulted == ["dana", "kenji@example.com", "U07MAYA001"]
    assert raci.consulted_raw == ["data", "U07MAYA001"]
    assert raci.informed == ["rosa", "sam", "U07PRIYA01"]
    assert raci.informed_raw == ["rosa", "platform"]
    assert raci.runbook == "https://wiki.example.com/runbooks/model-quality"
    assert raci.aliases == ["model", "prompt"]
    person = own.raci("policy-guardrails")
    assert (person.responsible_team, person.responsible, person.oncall) == (None, ["rosa"], "rosa")


def test_owned_by(own: Ownership) -> None:
    assert own.owned_by("U07MAYA001") == [
        ("model-quality", ["R", "A", "C", "on-call"]),
        ("policy-guardrails", ["C"]),
    ]
    assert own.owned_by("maya") == own.owned_by("U07MAYA001")
    # An e-mail person is found by their Slack ID once the e-mail is resolved.
    assert own.owned_by("U07LICHEN1") == [("model-quality", ["R"]), ("policy-guardrails", ["C"])]
    assert Ownership(CONFIG).owned_by("U07LICHEN1") == []
    assert own.owned_by("rosa") == [("model-quality", ["I"]), ("policy-guardrails", ["R", "A", "on-call"])]
    assert own.owned_by("U09STRANGER") == []


def test_emails(own: Ownership) -> None:
    assert own.emails() == {"li.chen@example.com", "kenji@example.com"}


def test_wider() -> None:
    assert [wider(s) for s in ("owner", "owning-team", "everyone", "backlog")] == [
        "owning-team",
        "everyone",
        "everyone",
        "owner",
    ]
    with pytest.raises(ValueError):
        wider("all")


def test_shipped_matrix() -> None:
    config = load_config(ownership_path=ROOT / "ownership.yaml", severity_path=ROOT / "severity.yaml", env={})
    own = Ownership(config.ownership)
    emails = own.emails()
    assert {alias: own.area(alias) for alias in ("infra", "search", "ux", "guardrails", "legal")} == {
        "infra": "infra-deploy",
        "search": "data",
        "ux": "user-experience",
        "guardrails": "policy-guardrails",
        "legal": "policy-guardrails",
    }
    for key in config.ownership.areas:
        raci = own.raci(key)
        # Everyone paged must be someone Slack can reach: an ID, or an e-mail resolved at start-up.
        people = config.ownership.people
        unreachable = [
            ref
            for ref in own.scope(key, "everyone")
            if not own.user_id(ref) and people.get(ref, ref) not in emails
        ]
        assert unreachable == [], key
        assert raci.accountable in own.scope(key, "owning-team")


def test_a_role_key_is_written_and_read_in_one_place() -> None:
    """The keys Holder and OwnerOverride rows are filed under, as earlier versions wrote them."""
    assert role_key("accountable", area="model-quality") == "area:model-quality:accountable"
    assert role_key("responsible", area="data") == "area:data:responsible"
    assert role_key("oncall", team="ml", area="ignored") == "team:ml:oncall"
    for key in ("area:model-quality:accountable", "team:ml:oncall"):
        assert str(RoleKey.parse(key)) == key
    assert RoleKey.parse("team:ml:oncall") == RoleKey(RoleKind.TEAM, "ml", "oncall")
    for bad in ("area:data", "area:a:b:c", "room:ml:oncall"):
        with pytest.raises(ValueError):
            RoleKey.parse(bad)


def test_signers_are_stored_and_sent_as_the_plain_words() -> None:
    assert [str(s) for s in Signer] == ["incoming", "outgoing", "peer"]
    assert f"7:{Signer.PEER}" == "7:peer" and Signer("outgoing") is Signer.OUTGOING
