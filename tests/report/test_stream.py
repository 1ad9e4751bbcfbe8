"""Reports written as a stream are the bytes the whole-document writers wrote."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from auditor.report.stream import LazyList, write_json
from auditor.textsafe import json_text

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)  # control and bidi characters too
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=20)


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
