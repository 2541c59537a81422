"""Follow-up turns merged with the previous turn's filters."""

from __future__ import annotations

from core.query import merge_with_previous, parse_query

FIRST = "Saya butuh laptop gaming asus di Jakarta, budget 12 juta"


def _turn(text: str, previous_text: str = FIRST, cheapest_shown: int | None = None):
    return merge_with_previous(parse_query(text), parse_query(previous_text), cheapest_shown=cheapest_shown)


def test_no_previous_turn_returns_the_query_unchanged() -> None:
    query = parse_query("yang lebih murah?")
    assert merge_with_previous(query, None, cheapest_shown=None) == query


def test_cheaper_goes_below_the_cheapest_price_shown() -> None:
    merged = _turn("yang lebih murah?", cheapest_shown=9_499_000)
    assert merged.category == "laptop"
    assert merged.location is not None and merged.location.name == "DKI Jakarta"
    assert merged.max_price == 9_498_999
    assert merged.prefer_cheaper and merged.is_follow_up
    assert merged.keywords == ("gaming",) and merged.brands == ("asus",)


def test_cheaper_without_prices_shown_lowers_the_budget_by_a_fifth() -> None:
    merged = _turn("cheaper ones?")
    assert merged.max_price == 9_600_000
    assert merged.category == "laptop" and merged.prefer_cheaper
    assert merged.language == "en"


def test_cheaper_without_any_budget_just_prefers_cheaper() -> None:
    merged = _turn("yang lebih murah", previous_text="laptop gaming di Bandung")
    assert merged.max_price is None and merged.prefer_cheaper
    assert merged.location is not None and merged.location.name == "Bandung"


def test_cheaper_drops_a_minimum_that_no_longer_fits() -> None:
    merged = _turn("yang lebih murah", previous_text="laptop antara 10 dan 12 juta", cheapest_shown=9_000_000)
    assert (merged.min_price, merged.max_price) == (None, 8_999_999)


def test_cheaper_with_its_own_price_uses_that_price() -> None:
    merged = _turn("yang lebih murah, di bawah 8 juta", cheapest_shown=11_000_000)
    assert merged.max_price == 8_000_000


def test_pricier_raises_the_floor() -> None:
    merged = _turn("yang lebih mahal?")
    assert (merged.min_price, merged.max_price) == (12_000_000, None)
    assert not merged.prefer_cheaper


def test_other_place_keeps_category_and_budget() -> None:
    merged = _turn("yang di Bandung?")
    assert merged.location is not None and merged.location.name == "Bandung"
    assert merged.category == "laptop"
    assert merged.max_price == 12_000_000
    assert merged.keywords == ("gaming",) and merged.brands == ("asus",)


def test_english_place_follow_up() -> None:
    merged = _turn("what about in Surabaya?", previous_text="gaming laptop in Bandung under 15 million")
    assert merged.location is not None and merged.location.name == "Surabaya"
    assert (merged.category, merged.max_price) == ("laptop", 15_000_000)


def test_new_budget_replaces_the_old_one() -> None:
    merged = _turn("kalau budget 20 juta?")
    assert (merged.category, merged.max_price) == ("laptop", 20_000_000)
    assert merged.location is not None and merged.location.name == "DKI Jakarta"


def test_new_brand_replaces_the_old_brand() -> None:
    merged = _turn("kalau yang lenovo?")
    assert merged.keywords == ("gaming",) and merged.brands == ("lenovo",)
    assert merged.category == "laptop" and merged.max_price == 12_000_000


def test_new_category_starts_fresh_but_keeps_the_place() -> None:
    merged = _turn("kalau monitor?")
    assert merged.category == "monitor"
    assert merged.max_price is None and merged.keywords == ()
    assert merged.location is not None and merged.location.name == "DKI Jakarta"


def test_new_full_request_replaces_everything_it_states() -> None:
    merged = _turn("cari hp samsung di bawah 5jt di Jaksel")
    assert merged.category == "smartphone"
    assert merged.max_price == 5_000_000
    assert merged.location is not None and merged.location.name == "Jakarta Selatan"
    assert merged.keywords == () and merged.brands == ("samsung",)


def test_same_category_without_follow_up_words_is_a_new_search() -> None:
    merged = _turn("laptop kantor lenovo")
    assert merged.keywords == ("kantor",) and merged.brands == ("lenovo",)
    assert merged.max_price is None
    assert merged.location is not None and merged.location.name == "DKI Jakarta"


def test_brand_follow_up_adds_the_brand_and_keeps_category_and_place() -> None:
    merged = _turn("yang merk asus aja", previous_text="laptop gaming di Bandung budget 20 juta")
    assert merged.brands == ("asus",)
    assert merged.category == "laptop" and merged.max_price == 20_000_000 and merged.keywords == ("gaming",)
    assert merged.location is not None and merged.location.name == "Bandung"


def test_budget_follow_up_keeps_category_brand_and_place() -> None:
    merged = _turn("kalau yang di bawah 5 juta?", previous_text="hp samsung di Surabaya")
    assert (merged.category, merged.max_price, merged.brands) == ("smartphone", 5_000_000, ("samsung",))
    assert merged.location is not None and merged.location.name == "Surabaya"


def test_english_brand_follow_up() -> None:
    merged = _turn("what about lenovo?", previous_text="gaming laptop in Jakarta under 20 million")
    assert merged.brands == ("lenovo",) and merged.category == "laptop" and merged.max_price == 20_000_000


def test_exclusions_accumulate_and_a_brand_asked_again_is_no_longer_excluded() -> None:
    first = "laptop selain asus di Jakarta"
    merged = _turn("yang bukan lenovo juga", previous_text=first)
    assert merged.exclude_brands == ("asus", "lenovo") and merged.category == "laptop"
    again = merge_with_previous(parse_query("kalau yang asus?"), merged)
    assert again.brands == ("asus",) and again.exclude_brands == ("lenovo",)


def test_sort_and_intent_are_kept_unless_restated() -> None:
    merged = _turn("yang di Bandung?", previous_text="hp samsung yang paling murah")
    assert merged.sort == "price_asc" and merged.brands == ("samsung",)
    assert _turn("yang termahal?", previous_text="hp samsung yang paling murah").sort == "price_desc"
    compare = "bandingkan laptop asus dan lenovo di bawah 15 juta"
    assert _turn("kalau di bawah 20 juta?", previous_text=compare).intent == "compare"
    narrowed = _turn("yang asus aja", previous_text=compare)
    assert narrowed.brands == ("asus",) and narrowed.intent is None


def test_a_new_brand_drops_the_old_brands_product_lines() -> None:
    merged = _turn("kalau yang lenovo?", previous_text="laptop asus rog di Jakarta")
    assert merged.brands == ("lenovo",) and "rog" not in merged.keywords
