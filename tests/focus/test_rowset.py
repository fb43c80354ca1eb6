"""A group's rows as shapes and per-row values: Tags from a template are the encoder's text exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from llm_cost.focus.rowset import TagsTemplate, tags_json

ROW_KEYS = ["effective-cost", "token-type", "x-token-type"]
# Keys around the row keys in sort order, and keys and values that look like the text the template cuts at.
keys = st.one_of(
    st.sampled_from([*ROW_KEYS, "effective-cos", "token-typf", "x-", "a", "zz", 'q"k', "n\\", "é"]), st.text(max_size=6)
)
tag_values = st.one_of(
    st.sampled_from(['"x-token-type":null', ',"token-type":null', "\\", '"', "null", "\u2028"]),
    st.text(max_size=8),
    st.integers(-5, 10**12),
)


@given(
    st.dictionaries(keys, tag_values, max_size=10),
    st.lists(st.sampled_from(ROW_KEYS), unique=True, max_size=3),
    st.lists(st.one_of(st.text(max_size=6), st.sampled_from(["input", "0.000123"])), min_size=3, max_size=3),
)
def test_a_rendered_row_is_the_encoders_text(
    shared: dict[str, object], row_keys: list[str], row_values: list[str]
) -> None:
    template = TagsTemplate.build(shared, row_keys)
    values = row_values[: len(template.row_keys)]
    assert template.render(values) == tags_json({**shared, **dict(zip(template.row_keys, values, strict=True))})
    assert template.render(values) == template.render(values)  # the remembered pairs give the same text
