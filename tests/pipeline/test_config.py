"""Config validation: every mistake is one line naming file, key (and line) and the fix."""

from __future__ import annotations

import pytest

from auditor.config import load_config, parse_config
from auditor.errors import ConfigError

GOOD = """
[scan]
concurrency = 8

[[accounts]]
name = "prod"
profile = "prod"
regions = ["us-east-1"]

[[accounts]]
name = "wasabi"
provider = "wasabi"
endpoint_url = "https://s3.wasabisys.com"

[[integrations]]
vendor = "v7-aws"
account = "prod"
bucket = "radiology-scans"
mode = "read-write"
scope = "slides/"
prefix = "darwin/"

[[integrations]]
vendor = "tenyks"
account = "prod"
bucket = "cats"
mode = "read-write"
user = "tenyks-reader"
dataset = "cats"
images_dir = "images"
metadata_dir = "tenyks-meta"

[[integrations]]
vendor = "datature"
account = "prod"
bucket = "assets"
role_arn = "arn:aws:iam::111122223333:role/datature-nexus"
external_id = "76072142-60c6-426e-a2ae-6ed0c3b1886b"
"""


def test_good_config_parses_every_key():
    config = parse_config(GOOD, "auditor.toml")
    assert config.scan.concurrency == 8
    assert [a.name for a in config.accounts] == ["prod", "wasabi"]
    assert config.accounts[1].provider == "wasabi"
    v7, tenyks, datature = config.integrations
    assert (v7.vendor, v7.mode, v7.option("scope"), v7.option("prefix")) == ("v7-aws", "read-write", "slides/", "darwin/")
    assert tenyks.option("metadata_dir") == "tenyks-meta"
    assert datature.mode == "read-only"  # the default
    assert datature.option("external_id").startswith("7607")


@pytest.mark.parametrize("text, key, words, line", [
    ("[[accounts]]\nname = 'a'\nprofle = 'x'\n", "accounts[0].profle", "unknown key 'profle'", 3),
    ("[[accounts]]\nname = 'a'\n[[integrations]]\nvendor = 'v8'\naccount = 'a'\nbucket = 'bkt'\n",
     "integrations[0].vendor", "unknown vendor 'v8'", 4),
    ("[[accounts]]\nname = 'a'\n[[integrations]]\nvendor = 'datature'\naccount = 'a'\nbucket = 'bkt'\n",
     "integrations[0]", "missing required key 'role_arn'", 3),
    ("[[accounts]]\nname = 'a'\n[[integrations]]\nvendor = 'tenyks'\naccount = 'a'\nbucket = 'bkt'\nmode = 'read-write'\n"
     "user = 'u'\ndataset = 'd'\nimages_dir = 'i'\n", "integrations[0]", "missing required key 'metadata_dir'", 3),
    ("[[accounts]]\nname = 'a'\n[[integrations]]\nvendor = 'v7-aws'\naccount = 'a'\nbucket = 'bkt'\ndataset = 'x'\n",
     "integrations[0].dataset", "'dataset' applies to tenyks, not v7-aws", 7),
    ("[[accounts]]\nname = 'a'\n[[integrations]]\nvendor = 'v7-aws'\naccount = 'nope'\nbucket = 'bkt'\n",
     "integrations[0].account", "no account named 'nope'", 5),
    ("[[accounts]]\nname = 'a'\nprovider = 'gcs'\n", "accounts[0].provider", "unknown provider 'gcs'", 3),
    ("[[accounts]]\nname = 'a'\n[[integrations]]\nvendor = 'v7-aws'\naccount = 'a'\nbucket = 'bkt'\nmode = 'rw'\n",
     "integrations[0].mode", "unknown mode 'rw'", 7),
    ("[scan]\nconcurrency = 0\n", "concurrency", "must be a positive integer", 2),
    ("colour = 'blue'\n", "colour", "unknown top-level key", 1),
    ("[[suppress]]\nrule = 'baseline.tls_only'\nreason = 'typo'\n", "suppress[0].rule", "matches no rule id", 2),
])
def test_config_errors_name_file_key_line_and_fix(text, key, words, line):
    with pytest.raises(ConfigError) as err:
        parse_config(text, "conf/auditor.toml")
    message = str(err.value)
    assert message.startswith(f"conf/auditor.toml:{line}: {key}: "), message
    assert words in message
    assert " — " in message  # the fix follows
    assert "\n" not in message


def test_bad_toml_gives_the_line():
    with pytest.raises(ConfigError) as err:
        parse_config("[[accounts]]\nname = 'a\n", "auditor.toml")
    assert str(err.value).startswith("auditor.toml:2: invalid TOML")


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.toml")
    assert "config file not found" in str(err.value)
    assert "--config" in str(err.value)


def test_suppression_rule_may_be_an_id_or_a_glob():
    for rule in ("baseline.tls-only", "baseline.*", "v7-*.cors"):
        config = parse_config(f"[[suppress]]\nrule = '{rule}'\nreason = 'accepted risk'\n")
        assert config.suppressions[0].rule == rule


DATATURE_RW = """
[[accounts]]
name = "prod"

[[integrations]]
vendor = "datature"
account = "prod"
bucket = "assets"
mode = "read-write"
role_arn = "arn:aws:iam::111122223333:role/datature-nexus"
"""


def test_a_mode_the_vendor_does_not_offer_is_a_config_error():
    # Datature's guide: "the access is read-only".
    with pytest.raises(ConfigError) as err:
        parse_config(DATATURE_RW, "auditor.toml")
    message = str(err.value)
    assert message.startswith("auditor.toml:9: integrations[0].mode: datature offers no read-write mode"), message
    assert "read-only" in message.split(" — ", 1)[1] and "\n" not in message


def test_check_mode_the_vendor_does_not_offer_is_one_line_and_exit_2(capsys):
    from auditor.cli import main

    code = main(["check", "datature", "s3://assets", "--mode", "read-write", "--role-arn",
                 "arn:aws:iam::111122223333:role/datature-nexus", "--endpoint-url", "http://127.0.0.1:9", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "--mode" in err and "datature offers no read-write mode" in err, err


def test_profile_modes_are_those_the_guides_offer():
    from auditor.rulepack import load_packs

    modes = {p.vendor.id: p.vendor.modes for p in load_packs() if p.vendor.access}
    assert modes["datature"] == ("read-only",)
    for vendor in ("v7-aws", "v7-wasabi", "tenyks", "redbrick"):  # read-write / metadata / annotation storage
        assert modes[vendor] == ("read-only", "read-write"), vendor


def test_a_vendor_on_a_provider_it_does_not_support_is_a_config_error():
    text = ('[[accounts]]\nname = "w"\nprovider = "wasabi"\n'
            '[[integrations]]\nvendor = "v7-aws"\naccount = "w"\nbucket = "slides"\n')
    with pytest.raises(ConfigError) as err:
        parse_config(text, "auditor.toml")
    message = str(err.value)
    assert "integrations[0].vendor" in message and "wasabi" in message and "v7-wasabi" in message, message
