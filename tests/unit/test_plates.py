import pytest
from hypothesis import given
from hypothesis import strategies as st

from complaints.domain.errors import InvalidPlate
from complaints.domain.plates import PROVINCES, normalise_plate

LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
ordinary = st.builds(
    lambda p, c, rest: p + c + rest,
    st.sampled_from(PROVINCES),
    st.sampled_from(LETTERS),
    st.text(alphabet=LETTERS + "0123456789", min_size=5, max_size=5),
)


@pytest.mark.parametrize("raw", ["浙C·12345", "浙c12345", " 浙 C 12345 ", "浙Ｃ１２３４５", "浙C-12345"])
def test_the_ways_people_write_a_plate_are_one_plate(raw):
    assert normalise_plate(raw) == "浙C12345"


@pytest.mark.parametrize("raw", ["浙CD12345", "浙C12345F", "浙CFA1234"])
def test_new_energy_plates_have_eight_characters(raw):
    assert normalise_plate(raw) == raw


@pytest.mark.parametrize(
    "raw", ["", "C12345", "沪C1234", "浙C123456789", "浙CI2345", "浙CO2345", "浙C1D2345", "浙CA12345", "X浙12345"]
)
def test_what_is_not_a_plate_is_refused(raw):
    with pytest.raises(InvalidPlate):
        normalise_plate(raw)


@given(ordinary)
def test_an_ordinary_plate_is_its_own_normal_form(plate):
    assert normalise_plate(plate) == plate


@given(ordinary, st.lists(st.sampled_from([" ", "·", "-", "\u3000"]), max_size=3))
def test_separators_and_case_never_change_the_plate(plate, seps):
    raw = plate[:2].lower() + "".join(seps) + plate[2:].lower()
    assert normalise_plate(raw) == plate


@given(st.text(max_size=12))
def test_any_text_is_a_plate_or_a_clear_refusal(raw):
    try:
        plate = normalise_plate(raw)
    except InvalidPlate as e:
        assert e.code == "invalid_plate"
    else:
        assert "I" not in plate and "O" not in plate and len(plate) in (7, 8)
