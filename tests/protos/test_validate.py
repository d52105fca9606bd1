"""stepaudio_protos.validate: one table of request fields, by type and range (no daemon needed)."""
from __future__ import annotations

import math

import pytest

from stepaudio_protos import validate
from stepaudio_protos.validate import Invalid, check_fields

BASE = {"ref": "r.wav", "text": "hi", "output": "o.wav"}


@pytest.mark.parametrize("field,value,fragment", [
    ("seed", "7", "must be an integer, not a string"),
    ("seed", 1.5, "must be an integer, not a number"),
    ("seed", True, "must be an integer, not true/false"),
    ("seed", 2 ** 64, "must be"),
    ("keep_alive", "nan", "must be a number of seconds"),
    ("keep_alive", math.nan, "finite"),
    ("keep_alive", math.inf, "finite"),
    ("keep_alive", False, "number of seconds"),
    ("candidates", 0, "1 to 8"),
    ("candidates", "2", "integer"),
    ("check", "yes", "true or false"),
    ("variant", "large", "unknown variant"),
    ("variant", 3, "must be a string"),
    ("text", 5, "must be a string"),
    ("output", "", "is empty"),
    ("output", ["a"], "must be a string"),
])
def test_a_clone_field_of_the_wrong_type_or_range_is_refused(field, value, fragment):
    with pytest.raises(Invalid) as info:
        check_fields({**BASE, field: value})
    assert info.value.field == field and fragment in info.value.message


@pytest.mark.parametrize("spec,fragment", [
    ({"input": "i.wav", "output": "o.wav", "emotion": "happy", "iterations": 0}, "1 to 10"),
    ({"input": "i.wav", "output": "o.wav", "emotion": "happy", "iterations": 2.0}, "integer"),
    ({"input": "i.wav", "output": "o.wav", "emotion": "ecstatic"}, "unknown emotion"),
    ({"input": "i.wav", "output": "o.wav", "denoise": "true"}, "true or false"),
    ({"input": "i.wav", "output": "o.wav", "paralinguistic": "no tag"}, "no sound tag"),
    ({"input": "i.wav", "output": "o.wav", "ref": "r.wav"}, "unknown field(s) for edit: ref"),
    ({"kind": "mix", "output": "o.wav"}, "unknown kind"),
])
def test_edit_fields_are_checked_too(spec, fragment):
    with pytest.raises(Invalid) as info:
        check_fields(spec)
    assert fragment in info.value.message


def test_options_and_variants_are_case_insensitive_and_normalised():
    kind, fields = check_fields({"input": "i.wav", "output": "o.wav", "emotion": "HAPPY", "variant": "BASE",
                                 "seed": 7, "keep_alive": -1})
    assert kind == "edit" and fields["emotion"] == "happy" and fields["variant"] == "base"
    assert fields["keep_alive"] == -1.0 and fields["seed"] == 7
    assert validate.edit_option("speed", "More  Faster") == "more faster"


def test_null_means_not_given():
    _, fields = check_fields({**BASE, "seed": None, "variant": None})
    assert "seed" not in fields and "variant" not in fields


def test_a_new_field_is_one_table_entry():
    validate.add_field(validate.Field("colour", ("clone",), lambda v: validate.string(v, "colour")))
    try:
        assert check_fields({**BASE, "colour": "red"})[1]["colour"] == "red"
        with pytest.raises(Invalid):
            check_fields({"input": "i.wav", "output": "o.wav", "vad": True, "colour": "red"})
    finally:
        del validate.FIELDS["colour"]


def test_batch_lines_take_an_output_format_and_sample_format() -> None:
    from stepaudio_protos import validate as v

    _, fields = v.check_fields({"ref": "r.wav", "text": "a", "output": "o.flac", "format": "FLAC",
                                "sample_format": "S16"})
    assert fields["format"] == "flac" and fields["sample_format"] == "s16"
    for bad, words in (({"format": 3}, "must be a string"), ({"format": "aac"}, "unknown output format"),
                       ({"sample_format": "s24"}, "unknown sample format")):
        try:
            v.check_fields({"ref": "r.wav", "output": "o.wav", **bad})
        except v.Invalid as exc:
            assert words in exc.message
        else:
            raise AssertionError(f"{bad} passed")
