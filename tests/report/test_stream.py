"""Reports written as a stream are the bytes the whole-document writers wrote."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.model import Finding, Severity, Status
from auditor.report.safe import json_finding, plain_finding
from auditor.report.stream import LazyList, indented, write_json
from auditor.textsafe import _JSON_UNSAFE, json_text

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=8))  # control and bidi characters too
# Keys as json converts them: numbers, booleans and None become strings.
keys = st.text(max_size=5) | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.booleans() | st.none()
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                         | st.dictionaries(keys, inner, max_size=4), max_leaves=20)


@given(head=st.dictionaries(st.text(max_size=5), documents, max_size=3), items=st.lists(documents, max_size=5))
def test_a_streamed_document_is_what_json_dumps_writes(tmp_path_factory, head, items):
    path = tmp_path_factory.mktemp("stream") / "doc.json"
    made = []

    def make():
        for item in items:
            made.append(item)
            yield item

    write_json(path, {**head, "items": LazyList(make, len(items))})
    whole = json.dumps({**head, "items": items}, indent=2, ensure_ascii=False, allow_nan=False)
    assert path.read_text(encoding="utf-8") == json_text(whole) + "\n"
    assert made == items  # each item made once, while it was written


def test_items_are_made_while_writing_not_before(tmp_path):
    calls = []

    def make():
        calls.append("walked")
        yield {"a": 1}

    doc = {"findings": LazyList(make, 1)}
    assert calls == []
    write_json(tmp_path / "x.json", doc)
    assert calls == ["walked"]


@pytest.mark.parametrize("document", [{"a": [1, math.nan]}, {"a": math.inf}, [-math.inf], {math.nan: 1},
                                      {"a": object()}, {(1, 2): 3}, {"a": {1, 2}}])
def test_what_json_dumps_refuses_is_refused_alike(tmp_path, document):
    with pytest.raises((ValueError, TypeError)) as theirs:
        json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False)
    with pytest.raises(type(theirs.value)) as mine:
        write_json(tmp_path / "x.json", document)
    assert str(mine.value) == str(theirs.value)
    assert not (tmp_path / "x.json").exists()  # nothing written half-way


@given(text=st.text() | st.text(alphabet=st.characters(min_codepoint=0x70, max_codepoint=0x2100)))
def test_json_text_escapes_what_the_table_names(text):
    assert json_text(text) == text.translate(_JSON_UNSAFE)


class _Opaque:
    def __str__(self) -> str:
        return "opaque \u202e"


@given(document=documents)
def test_indented_with_sorted_keys_and_a_default_is_json_dumps(document):
    # Keys of one kind, as sorting needs; an object json cannot write goes through ``default``.
    def same_keys(value):
        if isinstance(value, dict):
            return {str(k): same_keys(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [same_keys(v) for v in value] + [_Opaque()]
        return value

    document = same_keys(document)
    assert indented(document, sort_keys=True, default=str) == json.dumps(
        document, indent=2, ensure_ascii=False, allow_nan=False, sort_keys=True, default=str)


_evidence = st.recursive(
    scalars | st.floats() | st.sampled_from(list(Status)),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
    | st.frozensets(st.integers() | st.text(max_size=3) | st.floats(), max_size=3)
    | st.dictionaries(st.text(max_size=4) | st.integers() | st.sampled_from(list(Severity)), inner, max_size=3),
    max_leaves=15)


@given(evidence=st.dictionaries(st.text(max_size=4), _evidence, max_size=4),
       suppression=st.none() | st.dictionaries(st.text(max_size=4), _evidence, min_size=1, max_size=2))
def test_json_finding_is_the_plain_findings_json(evidence, suppression):
    f = Finding(rule_id="r", vendor="v", status=Status.FAIL, severity=Severity.HIGH, account_id="1", region=None,
                bucket="b", resource="arn:aws:s3:::b", inferred=False, title="t", message="m", evidence=evidence,
                suppression=suppression)
    mine = json_finding(f)
    json.dumps(mine, allow_nan=False)  # never a number JSON does not have
    theirs = plain_finding(f).to_json()
    try:
        json.dumps(theirs, allow_nan=False)
    except ValueError:
        return  # a NaN inside a set: the two-walk conversion left it (and the report could not be written)
    assert json.dumps(mine) == json.dumps(theirs)


def test_a_nan_inside_a_set_of_evidence_is_written_as_text(tmp_path):
    f = Finding(rule_id="r", vendor="v", status=Status.FAIL, severity=Severity.HIGH, account_id="1", region=None,
                bucket="b", resource="arn:aws:s3:::b", inferred=False, title="t", message="m",
                evidence={"seen": frozenset({math.nan, 1.5})})
    assert json_finding(f)["evidence"]["seen"] == [1.5, "nan"]
