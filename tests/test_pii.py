"""PII redaction: each type found and validated, each action honoured, the labelled set scored, and
the cleaned-stage gate that fails a run when PII is left in the text."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import polars as pl
import pytest
from documents import doc_frame

from forge_core.clean.pii import PLACEHOLDERS, TYPES, PiiConfig, redact, redact_pii
from forge_core.io.shards import write_shard
from forge_core.steps import run_steps

PII_DATA = Path(__file__).resolve().parent / "data" / "pii"
ALL_REDACT = PiiConfig(**dict.fromkeys(TYPES, "redact"))

# One document per type, and the value in it that must go.
SAMPLES = {
    "email": (
        "Please write to anna.berg@northwind-instruments.com about the audit.",
        "anna.berg@northwind-instruments.com",
    ),
    "phone": ("Call the Leeds plant on +44 113 496 0555 before noon.", "+44 113 496 0555"),
    "credit_card": ("Refund to Visa 4012 8888 8888 1881, exp 09/27.", "4012 8888 8888 1881"),
    "iban": ("Pay to IBAN DE89 3704 0044 0532 0130 00 within 30 days.", "DE89 3704 0044 0532 0130 00"),
    "us_ssn": ("Payroll record: SSN 536-22-8714, start date 2024-04-02.", "536-22-8714"),
    "ip_address": ("The gauge gateway answers on 10.20.30.40 since the move.", "10.20.30.40"),
    "credential": ("Export job key: aws_access_key_id = AKIA4HXQ2ZB7NDLR5TEW (rotate).", "AKIA4HXQ2ZB7NDLR5TEW"),
}


def load_scorer():
    spec = importlib.util.spec_from_file_location("pii_score", PII_DATA / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The labelled set ------------------------------------------------------------------------------
def test_labelled_set_recall_and_decoy_survival():
    scorer = load_scorer()
    scores = scorer.score_labelled_set()
    print("\n" + scorer.format_scores(scores))  # pytest -s shows the per-type figures
    assert scores["overall"]["documents"] >= 40
    assert all(t["planted"] >= 9 for t in scores["recall"].values()), "every type is planted several times"
    assert scores["overall"]["recall"] >= 0.99, scores["missed"]
    assert scores["overall"]["decoy_survival"] >= 0.95, scores["eaten"]


def test_labels_match_their_documents():
    for doc in load_scorer().labelled_documents():
        for kind, value in doc["pii"] + doc["decoys"]:
            assert value in doc["text"], f"{doc['document']}: {kind} {value!r} is not in the document"
        assert all(kind in TYPES for kind, _ in doc["pii"]), doc["document"]


def test_redacted_text_holds_no_pii_a_second_pass_would_find():
    """What the residual gate relies on: redaction leaves nothing its own detectors would find again."""
    for doc in load_scorer().labelled_documents():
        once, _ = redact(doc["text"], ALL_REDACT)
        assert redact(once, ALL_REDACT) == (once, {}), doc["document"]


# Each type, each action -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", TYPES)
def test_redact_replaces_the_value_with_its_placeholder(kind):
    text, value = SAMPLES[kind]
    out, found = redact(text, ALL_REDACT)
    assert out == text.replace(value, PLACEHOLDERS[kind])
    assert found == {kind: 1}


@pytest.mark.parametrize("kind", TYPES)
def test_keep_leaves_the_value_but_still_counts_it(kind):
    text, _ = SAMPLES[kind]
    out, found = redact(text, PiiConfig(**{kind: "keep"}))
    assert out == text and found == {kind: 1}


@pytest.mark.parametrize("kind", TYPES)
def test_drop_removes_the_document_with_a_reason_and_no_value_in_the_ledger(kind):
    text, value = SAMPLES[kind]
    clean = "The calibration schedule for the pressure sensors is unchanged this quarter."
    result = redact_pii(doc_frame([clean, text]), PiiConfig(**{kind: "drop"}))
    assert result.kept["text"].to_list() == [clean]
    [row] = result.dropped.to_dicts()
    assert row["doc_id"] == f"{1:016x}" and row["status"] == "dropped"
    assert row["reason"] == f"pii_{kind}"
    assert row["detail"] == f"1 {kind} found; clean.pii: {kind}=drop"
    assert value not in row["detail"]
    assert json.loads(row["pii"]) == {kind: 1}  # the annotation travels into the ledger


def test_a_document_with_several_drop_types_is_dropped_once_under_the_most_sensitive():
    text = SAMPLES["email"][0] + " " + SAMPLES["credential"][0] + " " + SAMPLES["credential"][0]
    cfg = PiiConfig(email="drop", credential="drop")
    [row] = redact_pii(doc_frame([text]), cfg).dropped.to_dicts()
    assert row["reason"] == "pii_credential"
    assert row["detail"] == "2 credential, 1 email found; clean.pii: credential=drop, email=drop"


def test_default_config_redacts_every_type_and_drops_nothing():
    """A pasted secret costs the secret, not the note it was pasted into."""
    result = redact_pii(doc_frame([SAMPLES["credential"][0], SAMPLES["phone"][0]]), PiiConfig())
    assert result.dropped is None or result.dropped.is_empty()
    assert "<CREDENTIAL>" in result.kept["text"][0]
    assert result.kept["text"][1] == "Call the Leeds plant on <PHONE> before noon."


def test_dropping_a_document_for_pii_happens_only_when_configured():
    result = redact_pii(doc_frame([SAMPLES["credential"][0]]), PiiConfig(credential="drop"))
    assert result.dropped["reason"].to_list() == ["pii_credential"]


# The pii column and the stage counts ----------------------------------------------------------
def test_pii_column_holds_compact_json_counts_whatever_the_action():
    texts = [
        "Mail a.b@example.com or c.d@example.org, or call (415) 555-0134.",
        "Nothing personal in this calibration note.",
    ]
    result = redact_pii(doc_frame(texts), PiiConfig(phone="keep"))
    assert result.kept["pii"].to_list() == ['{"email":2,"phone":1}', "{}"]
    assert result.kept["text"][0] == "Mail <EMAIL> or <EMAIL>, or call (415) 555-0134."
    assert result.kept.schema["pii"] == pl.String


def test_stage_counts_spans_and_documents_per_type_and_drops():
    texts = [
        "Mail a.b@example.com or c.d@example.org.",
        "Mail e.f@example.com from 10.0.4.17.",
        "token: ghp_4fT9kQ2wLx7mNc3vBz8RjY1pHs6dKe0aUg5i",
        "Nothing to see.",
    ]
    cfg = PiiConfig(credential="drop")
    out = run_steps(doc_frame(texts), [("pii", lambda s: redact_pii(s, cfg))], stage="clean")
    assert out.counts["pii.found.email"] == 3 and out.counts["pii.docs_with.email"] == 2
    assert out.counts["pii.found.ip_address"] == 1 and out.counts["pii.docs_with.ip_address"] == 1
    assert out.counts["pii.found.credential"] == 1 and out.counts["dropped.pii_credential"] == 1
    assert out.counts["pii.found.phone"] == 0  # every type is counted, zeros included
    assert out.kept.height == 3 and out.ledger["stage"].to_list() == ["clean"]


# Validation: checksums, rules and formats -------------------------------------------------------
@pytest.mark.parametrize(
    "decoy",
    [
        "4111 1111 1111 1112",  # fails Luhn
        "5555-5555-5555-4445",  # fails Luhn
        "1000000000000008",  # passes Luhn, no card brand starts with 1
        "DE88 3704 0044 0532 0130 00",  # IBAN with a wrong check digit
        "GB28NWBK60161331926819",
        "000-12-3456",  # SSN area 000
        "666-45-1234",  # area 666
        "900-12-3456",  # 900-999 are ITINs
        "123-00-4567",  # group 00
        "234-56-0000",  # serial 0000
        "123456789",  # a bare 9-digit number is not taken for an SSN
    ],
)
def test_numbers_that_fail_their_checks_survive(decoy):
    text = f"Reference {decoy} was rejected by the bank."
    assert redact(text, ALL_REDACT) == (text, {})


@pytest.mark.parametrize(
    "phone",
    [
        "+1 (415) 555-0134", "+1 415 555 0134", "415-555-0199", "(212) 555-0147", "212.555.0198", "+44 20 7946 0958",
        "020 7946 0321", "+49 30 1234 5678", "030 1234 5678", "+33 1 42 68 53 00", "06 12 34 56 78",
        "06.12.34.56.78", "+31 20 794 6000", "1-800-555-0100", "+81 3-1234-5678",
        "555.867.5309",  # no such area code, but the North American shape is taken when US is a region
    ],
)  # fmt: skip
def test_phone_numbers_are_redacted(phone):
    text, found = redact(f"Call me on {phone}, thanks.", ALL_REDACT)
    assert text == "Call me on <PHONE>, thanks."
    assert found == {"phone": 1}


@pytest.mark.parametrize(
    "not_phone",
    [
        "on 2024-03-15", "at 2024-03-15T10:22:01Z", "from 04.03.2024-07.03.2024", "version 2.13.0",
        "order 2024-0031-77", "total 1,234,567.89", "ISBN 0-201-89683-4", "tariff code 9026.20.4000",
        "routing 021000021", "ticket ORD-2125550147", "e-ticket 047-2150982231",
        "uuid 123e4567-e89b-12d3-a456-426614174000", "placeholder 123-456-7890",
    ],
)  # fmt: skip
def test_dates_versions_and_ids_are_not_phones(not_phone):
    assert redact(not_phone, ALL_REDACT) == (not_phone, {})


def test_numbers_written_one_after_another_are_each_found():
    text = "Numbers: (415) 555-0134 (212) 555-0147, Tel/Fax 030 1234 5678 / 030 1234 5679."
    assert redact(text, ALL_REDACT) == ("Numbers: <PHONE> <PHONE>, Tel/Fax <PHONE> / <PHONE>.", {"phone": 4})


def test_a_bare_digit_run_is_a_phone_only_after_a_phone_word():
    assert redact("account 4155550134", ALL_REDACT)[1] == {}
    assert redact("Tel: 4155550134", ALL_REDACT) == ("Tel: <PHONE>", {"phone": 1})


def test_phone_regions_decide_national_formats_but_not_international_ones():
    us_only = PiiConfig(phone_regions=["US"])
    assert redact("call 020 7946 0321", us_only)[1] == {}
    assert redact("call +44 20 7946 0321", us_only)[1] == {"phone": 1}
    assert redact("call +44 20 7946 0321", PiiConfig(phone_regions=[]))[1] == {"phone": 1}
    with pytest.raises(ValueError, match="clean.pii.phone_regions: unknown region"):
        redact("call 020 7946 0321", PiiConfig(phone_regions=["XX"]))


def test_emails_are_redacted_and_counted():
    text, found = redact("Write j.doe+billing@example.org or first_last@northwind-instruments.com.", ALL_REDACT)
    assert text == "Write <EMAIL> or <EMAIL>."
    assert found == {"email": 2}


def test_an_ssh_remote_is_not_an_email():
    text = "git clone git@github.com:northwind/forge.git"
    assert redact(text, ALL_REDACT) == (text, {})


def test_ip_addresses_but_not_loopback_netmasks_or_versions():
    text = (
        "hosts 10.0.0.5, 203.0.113.45, 2001:db8::42 and fe80::1ff:fe23:4567:890a; "
        "local 127.0.0.1, ::1, 0.0.0.0; netmask 255.255.255.0; version 1.2.3.4, v1.2.3.4, 1.2.3.4.5; "
        "time 10:22:01, MAC 00:1A:2B:3C:4D:5E, std::vector"
    )
    out, found = redact(text, ALL_REDACT)
    assert found == {"ip_address": 4}
    assert out.startswith("hosts <IP_ADDRESS>, <IP_ADDRESS>, <IP_ADDRESS> and <IP_ADDRESS>; local 127.0.0.1")
    assert "version 1.2.3.4, v1.2.3.4, 1.2.3.4.5" in out and "00:1A:2B:3C:4D:5E" in out


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("aws_secret_access_key = u8Rk2/VqT9mLx4HcPz7Wb1Ns0JdYeKf3GaQo6iXv", "VqT9mLx4HcPz7Wb1Ns0JdYeKf3GaQo6iXv"),
        ("Authorization: Bearer abcdEFGH1234ijklMNOP5678", "abcdEFGH1234ijklMNOP5678"),
        ("GITHUB_TOKEN: ghp_4fT9kQ2wLx7mNc3vBz8RjY1pHs6dKe0aUg5i", "ghp_4fT9kQ2wLx7mNc3vBz8RjY1pHs6dKe0aUg5i"),
        ("slack xoxb-2048159723-5561823047-Kq8Zt3LmN7pRvX2sY9wB4cJd", "5561823047-Kq8Zt3LmN7pRvX2sY9wB4cJd"),
        ("DB_PASSWORD=Tr0ub4dor&3xq", "Tr0ub4dor&3xq"),
        ('"client_secret": "h7#Gk2!pQz"', "h7#Gk2!pQz"),
        ("passwd: Summer2024!", "Summer2024!"),
        ("api_key=sk_live_51HqLyjWDarjtT1zdp7dcXyZ9aBcD2eF", "sk_live_51HqLyjWDarjtT1zdp7dcXyZ9aBcD2eF"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.kX9vT2qLm8Nc4pRw7sYb1HdJf6Ga end", "eyJzdWIiOiJ4In0"),
        ("curl -u deploy:Jk8#vQ2mLx9p https://artifacts.corp.example", "Jk8#vQ2mLx9p"),
    ],
)  # fmt: skip
def test_credentials_are_found(text, secret):
    out, found = redact(text, ALL_REDACT)
    assert found == {"credential": 1} and secret not in out and "<CREDENTIAL>" in out


def test_a_private_key_block_goes_whole():
    text = (
        "key for the backup job:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
        "QyNTUxOQAAACBq3cU8Yb4pW7kXh1vZ2mNfR9sTqL0a\n-----END OPENSSH PRIVATE KEY-----\nrotated since."
    )
    assert redact(text, ALL_REDACT) == ("key for the backup job:\n<CREDENTIAL>\nrotated since.", {"credential": 1})


@pytest.mark.parametrize(
    "text",
    [
        "Reset your password: click the link below.",
        "password: ${DB_PASSWORD}",
        'PASSWORD = os.environ["DB_PASSWORD"]',
        "PASSWORD_MIN_LENGTH=12",
        "passwd:         files systemd",
        "secret: true",
        "The secretary: Jane Holt",
        "api_key: <your-key-here>",
    ],
)
def test_secret_words_without_a_secret_survive(text):
    assert redact(text, ALL_REDACT) == (text, {})


# Overlaps ---------------------------------------------------------------------------------------
def test_overlaps_go_to_the_most_specific_longest_span():
    cases = {
        # a phone-like run inside a card number: one card
        "card 5555 5555 5555 4444 on file": ("card <CREDIT_CARD> on file", {"credit_card": 1}),
        # an IP inside a URL: the URL stays readable
        "see http://172.16.8.5:8080/healthz": ("see http://<IP_ADDRESS>:8080/healthz", {"ip_address": 1}),
        # a password in a URL looks like an e-mail (pw@host.tld): credentials claim it first
        "pg://app:S3cr3tPass@db.example.com/x": ("pg://app:<CREDENTIAL>@db.example.com/x", {"credential": 1}),
        # a URL's user (no password) is not a mailbox either
        "ftp://anonymous@ftp.example.com/pub": ("ftp://anonymous@ftp.example.com/pub", {}),
        # digits of an IBAN look like a phone and a card: the IBAN wins
        "IBAN FR76 3000 6000 0112 3456 7890 189 ok": ("IBAN <IBAN> ok", {"iban": 1}),
        # a phone number inside an e-mail address stays part of the address
        "mail john.4155550134@example.com": ("mail <EMAIL>", {"email": 1}),
        # a token that holds digit runs and an e-mail-like tail
        "token=ghp_4fT9kQ2wLx7mNc3vBz8RjY1pHs6dKe0aUg5i": ("token=<CREDENTIAL>", {"credential": 1}),
    }  # fmt: skip
    for text, expected in cases.items():
        assert redact(text, ALL_REDACT) == expected, text


def test_counts_only_name_types_found_in_type_order():
    text = "ip 10.1.2.3, mail x.y@example.com, call (212) 555-0147"
    assert list(redact(text, ALL_REDACT)[1]) == ["email", "phone", "ip_address"]


# The residual-PII gate on the cleaned stage ----------------------------------------------------
def cleaned_shard(texts: list[str]) -> pl.DataFrame:
    return doc_frame(texts, stage="cleaned").with_columns(language_score=pl.lit(0.99))


def validate_cleaned(tmp_path, texts: list[str], pii: PiiConfig | None):
    from forge_core.io.workspace import Workspace
    from forge_core.schema import CLEANED
    from forge_core.validate import ValidationConfig, validate_stage

    ws = Workspace(str(tmp_path / "ws"))
    path = ws.path("cleaned", "part-00000.parquet")
    n = write_shard(ws, path, cleaned_shard(texts), CLEANED)
    return validate_stage(ws, "cleaned", [(path, n)], ValidationConfig(), ws.path("validation.json"), pii=pii)


def corpus(n: int, leaks: int) -> list[str]:
    texts = [f"Calibration note {i}: sensor checked, contact <EMAIL> or <PHONE> if it drifts." for i in range(n)]
    for i in range(leaks):
        texts[i] = f"Calibration note {i}: sensor checked, contact jane.doe{i}@example.com if it drifts."
    return texts


def test_residual_pii_above_the_rate_fails_the_gate_without_printing_the_pii(tmp_path):
    from forge_core.validate import ValidationFailed

    with pytest.raises(ValidationFailed) as err:
        validate_cleaned(tmp_path, corpus(100, leaks=2), PiiConfig(residual_max_rate=0.01))
    message = str(err.value)
    assert "stage 'cleaned'" in message
    assert "expect_column_values_to_be_null(column='residual_pii', mostly=0.99): 2 unexpected" in message
    assert "'email'" in message and "example.com" not in message
    saved = json.loads((tmp_path / "ws" / "validation.json").read_text())
    assert saved["success"] is False and "example.com" not in json.dumps(saved)


def test_residual_pii_at_or_below_the_rate_passes(tmp_path):
    summary = validate_cleaned(tmp_path, corpus(100, leaks=1), PiiConfig(residual_max_rate=0.01))
    [gate] = [c for c in summary["checks"] if c["kwargs"].get("column") == "residual_pii"]
    assert gate["success"] and gate["unexpected_count"] == 1


def test_types_kept_on_purpose_do_not_trip_the_gate(tmp_path):
    summary = validate_cleaned(tmp_path, corpus(100, leaks=20), PiiConfig(email="keep"))
    assert summary["success"]


def test_without_a_pii_config_the_gate_is_not_added(tmp_path):
    summary = validate_cleaned(tmp_path, corpus(10, leaks=10), None)
    assert all(c["kwargs"].get("column") != "residual_pii" for c in summary["checks"])
