"""auditor items-list against a moto server: RedBrick's items-list JSON, streamed page by page."""

from __future__ import annotations

import json

from auditor.cli import main


def test_items_list_for_a_root_folder(moto, aws, tmp_path, capsys):
    s3 = aws("s3")
    s3.create_bucket(Bucket="dicom-studies")
    keys = [f"studies/p{p:02d}/ct-{i:04d}.dcm" for p in range(3) for i in range(350)]  # > 1 page
    for k in keys:
        s3.put_object(Bucket="dicom-studies", Key=k, Body=b"")
    s3.put_object(Bucket="dicom-studies", Key="other/skip.dcm", Body=b"")
    s3.put_object(Bucket="dicom-studies", Key="studies/readme.txt", Body=b"")
    out = tmp_path / "items.json"
    code = main(["items-list", "--bucket", "s3://dicom-studies", "--prefix", "studies/", "--endpoint-url", moto.endpoint,
                 "--output", str(out), "--ext", ".dcm", "--quiet"])
    assert code == 0
    items = json.loads(out.read_text())
    assert [d["items"][0] for d in items] == sorted(keys)
    assert items[0] == {"name": "studies/p00/ct-0000.dcm", "items": ["studies/p00/ct-0000.dcm"]}
    assert "wrote 1050 datapoint(s)" in capsys.readouterr().out

    # One datapoint per series folder, from a config's redbrick integration.
    config = tmp_path / "auditor.toml"
    config.write_text(f'[[accounts]]\nname = "main"\nendpoint_url = "{moto.endpoint}"\n'
                      '[[integrations]]\nvendor = "redbrick"\naccount = "main"\nbucket = "dicom-studies"\n'
                      'user = "rb"\nprefix = "studies/"\n')
    assert main(["items-list", "--config", str(config), "--group-by", "folder", "--ext", ".dcm",
                 "--output", str(out), "--quiet"]) == 0
    series = json.loads(out.read_text())
    assert [(d["name"], len(d["items"])) for d in series] == [("studies/p00", 350), ("studies/p01", 350), ("studies/p02", 350)]


def test_items_list_prefix_is_a_folder_not_the_start_of_a_name(moto, aws, tmp_path):
    s3 = aws("s3")
    s3.create_bucket(Bucket="dicom-prefix")
    for key in ("studies/p1/ct.dcm", "studies-old/p1/ct.dcm", "studiesX.dcm"):
        s3.put_object(Bucket="dicom-prefix", Key=key, Body=b"")
    out = tmp_path / "items.json"
    for prefix in ("studies", "studies/", "/studies/"):
        assert main(["items-list", "--bucket", "dicom-prefix", "--prefix", prefix, "--endpoint-url", moto.endpoint,
                     "--output", str(out), "--quiet"]) == 0
        assert [d["name"] for d in json.loads(out.read_text())] == ["studies/p1/ct.dcm"], prefix
    config = tmp_path / "auditor.toml"
    config.write_text(f'[[accounts]]\nname = "main"\nendpoint_url = "{moto.endpoint}"\n'
                      '[[integrations]]\nvendor = "redbrick"\naccount = "main"\nbucket = "dicom-prefix"\n'
                      'user = "rb"\n')
    assert main(["items-list", "--config", str(config), "--prefix", "studies", "--output", str(out), "--quiet"]) == 0
    assert [d["name"] for d in json.loads(out.read_text())] == ["studies/p1/ct.dcm"]


def test_items_list_errors_are_clear_and_write_nothing(moto, tmp_path, capsys):
    out = tmp_path / "items.json"
    code = main(["items-list", "--bucket", "no-such-bucket", "--endpoint-url", moto.endpoint, "--output", str(out), "--quiet"])
    assert code == 2
    assert "NoSuchBucket" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert main(["items-list"]) == 2


def test_items_list_for_an_organization_member_account(moto, aws, tmp_path, capsys):
    # A redbrick integration in a member account that only [organization] names: reached through the
    # organization's role, as scans reach it (not "internal error").
    s3 = aws("s3")
    s3.create_bucket(Bucket="member-dicom")
    s3.put_object(Bucket="member-dicom", Key="studies/p1/ct.dcm", Body=b"")
    config = tmp_path / "auditor.toml"
    out = tmp_path / "items.json"
    org = f'[organization]\nrole_name = "OrganizationAccountAccessRole"\nendpoint_url = "{moto.endpoint}"\n'
    config.write_text(org + '[[integrations]]\nvendor = "redbrick"\naccount = "123456789012"\n'
                      'bucket = "member-dicom"\nuser = "rb"\n')
    assert main(["items-list", "--config", str(config), "--output", str(out), "--quiet"]) == 0, capsys.readouterr().err
    assert [d["name"] for d in json.loads(out.read_text())] == ["studies/p1/ct.dcm"]
    # An account that is neither configured nor a member id: one line naming it, exit 2, nothing written.
    out.unlink()
    config.write_text(org + '[[integrations]]\nvendor = "redbrick"\naccount = "elsewhere"\n'
                      'bucket = "member-dicom"\nuser = "rb"\n')
    code = main(["items-list", "--config", str(config), "--output", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code in (2,) and "elsewhere" in err and "Traceback" not in err, err
    assert not out.exists()
