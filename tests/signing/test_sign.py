"""qa-sign and qa-export --sign-key: the signature is one more file of the bundle, written before the bundle
lands (export) or atomically beside its files (qa-sign), and what they write verifies."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from rnnqa.bundle_format import SIGNATURE_FILE
from rnnqa.errors import ExportError
from rnnqa.export.cli import main as qa_export
from rnnqa.runtime import QAModel
from rnnqa.signing.cli import main as qa_sign

pytest.importorskip("model_signing", reason="needs the sign extra: pip install 'rnnqa[sign]'")


def test_qa_sign_signs_an_existing_bundle_and_resigns_it_with_another_key(make_bundle, make_keys, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(make_bundle("gru"), bundle)
    result = CliRunner().invoke(qa_sign, [str(bundle), "--key", str(make_keys()[0])])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"signed {bundle} ({SIGNATURE_FILE}, key sha256 ")
    assert QAModel.load(bundle, public_key=make_keys()[1]).bundle.signed_by
    statement = json.loads((bundle / SIGNATURE_FILE).read_text())
    assert statement["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    again = CliRunner().invoke(qa_sign, [str(bundle), "--key", str(make_keys("other")[0])])
    assert again.exit_code == 0, again.output
    assert QAModel.load(bundle, public_key=make_keys("other")[1]).bundle.signed_by
    with pytest.raises(Exception, match="made with another key"):
        QAModel.load(bundle, public_key=make_keys()[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]  # no temporary file left anywhere
    assert sorted(p.name for p in bundle.iterdir() if p.name.startswith(".")) == []


def test_qa_sign_refuses_bad_keys_and_bundles_in_one_line(make_bundle, make_keys, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(make_bundle("gru"), bundle)
    (tmp_path / "bad.pem").write_text("nope")
    cases = [([str(bundle), "--key", str(make_keys()[1])], "not an unencrypted PEM private key"),
             ([str(bundle), "--key", str(tmp_path / "bad.pem")], "not an unencrypted PEM private key"),
             ([str(bundle), "--key", str(tmp_path / "absent.pem")], "cannot read the private key"),
             ([str(tmp_path / "nope"), "--key", str(make_keys()[0])], "not a bundle directory")]
    (bundle / "vocab.json").write_text("{}")
    cases.append(([str(bundle), "--key", str(make_keys()[0])], "sha256 mismatch"))
    for args, message in cases:
        result = CliRunner().invoke(qa_sign, args)
        assert result.exit_code == 1 and result.output.startswith("error: ") and message in result.output, result.output
        assert isinstance(result.exception, SystemExit)
    assert not (bundle / SIGNATURE_FILE).exists()


def test_qa_export_sign_key_lands_a_signed_bundle(make_run, make_keys, tmp_path):
    out = tmp_path / "bundle"
    result = CliRunner().invoke(qa_export, [str(make_run("gru")), "--out", str(out), "--sign-key", str(make_keys()[0])])
    assert result.exit_code == 0, result.output
    assert f"{SIGNATURE_FILE})" in result.output.splitlines()[-1]
    assert QAModel.load(out, public_key=make_keys()[1]).bundle.signed_by


def test_qa_export_with_a_bad_key_fails_before_any_work(make_run, make_keys, tmp_path):
    result = CliRunner().invoke(qa_export, [str(make_run("gru")), "--out", str(tmp_path / "b"),
                                            "--sign-key", str(make_keys()[1])])
    assert result.exit_code == 1 and "not an unencrypted PEM private key" in result.output, result.output
    assert list(tmp_path.iterdir()) == []


def test_a_failed_signature_leaves_the_previous_bundle_and_no_unsigned_one(make_run, make_keys, tmp_path, monkeypatch):
    out = tmp_path / "bundle"
    first = CliRunner().invoke(qa_export, [str(make_run("gru")), "--out", str(out), "--sign-key", str(make_keys()[0])])
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def fail(bundle_dir, private_key):
        raise ExportError("the signer went away")

    monkeypatch.setattr("rnnqa.export.bundle.sign_bundle", fail)
    again = CliRunner().invoke(qa_export, [str(make_run("gru")), "--out", str(out), "--force", "--threshold", "0.3",
                                           "--sign-key", str(make_keys()[0])])
    assert again.exit_code == 1 and "the signer went away" in again.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]
    fresh = CliRunner().invoke(qa_export, [str(make_run("gru")), "--out", str(tmp_path / "new"),
                                           "--sign-key", str(make_keys()[0])])
    assert fresh.exit_code == 1 and "the signer went away" in fresh.output, fresh.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]  # no new bundle, no staging left over
