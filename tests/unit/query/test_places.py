"""The gazetteer: provinces, cities, aliases, word-boundary matching and containment."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from core.query import Gazetteer, GazetteerEntry, parse_query


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load_default()


def test_default_gazetteer_is_loaded_once() -> None:
    assert Gazetteer.load_default() is Gazetteer.load_default()


def test_bundled_data_names_its_source_and_licence() -> None:
    document = json.loads((resources.files("core.query") / "data" / "gazetteer.json").read_bytes())
    assert "GeoNames" in document["source"]
    assert "CC BY 4.0" in document["license"]
    provinces = [p for p in document["places"] if p["kind"] == "province"]
    assert len(provinces) == 38
    for place in document["places"]:
        assert -11.5 < place["latitude"] < 6.5 and 94.5 < place["longitude"] < 141.5, place["name"]


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("Jakarta", "DKI Jakarta"),
        ("DKI", "DKI Jakarta"),
        ("Jakarta Selatan", "Jakarta Selatan"),
        ("Jaksel", "Jakarta Selatan"),
        ("South Jakarta", "Jakarta Selatan"),
        ("Jakpus", "Jakarta Pusat"),
        ("Central Jakarta", "Jakarta Pusat"),
        ("Jakbar", "Jakarta Barat"),
        ("Jaktim", "Jakarta Timur"),
        ("Jakut", "Jakarta Utara"),
        ("North Jakarta", "Jakarta Utara"),
        ("Jogja", "DI Yogyakarta"),
        ("Yogya", "DI Yogyakarta"),
        ("Yogyakarta", "DI Yogyakarta"),
        ("DIY", "DI Yogyakarta"),
        ("Solo", "Surakarta"),
        ("Surakarta", "Surakarta"),
        ("Bandung", "Bandung"),
        ("Kota Bandung", "Bandung"),
        ("Surabaya", "Surabaya"),
        ("Medan", "Medan"),
        ("Makassar", "Makassar"),
        ("Ujung Pandang", "Makassar"),
        ("Denpasar", "Denpasar"),
        ("Bali", "Bali"),
        ("Semarang", "Semarang"),
        ("Palembang", "Palembang"),
        ("Bekasi", "Bekasi"),
        ("Tangerang", "Tangerang"),
        ("Tangsel", "Tangerang Selatan"),
        ("Depok", "Depok"),
        ("Bogor", "Bogor"),
        ("Malang", "Malang"),
        ("Batam", "Batam"),
        ("Pekanbaru", "Pekanbaru"),
        ("Balikpapan", "Balikpapan"),
        ("Manado", "Manado"),
        ("Kab. Sleman", "Sleman"),
        ("West Java", "Jawa Barat"),
        ("Jabar", "Jawa Barat"),
        ("Jatim", "Jawa Timur"),
        ("NTT", "Nusa Tenggara Timur"),
        ("Kepri", "Kepulauan Riau"),
    ],
)
def test_lookup_by_name_and_alias(gazetteer: Gazetteer, alias: str, name: str) -> None:
    place = gazetteer.lookup(alias)
    assert place is not None and place.name == name


def test_lookup_unknown(gazetteer: Gazetteer) -> None:
    assert gazetteer.lookup("Atlantis") is None
    assert gazetteer.lookup("") is None


@pytest.mark.parametrize(
    ("name", "province"),
    [
        ("Batam", "Kepulauan Riau"),
        ("Serpong", "Banten"),
        ("Jakarta Selatan", "DKI Jakarta"),
        ("Surakarta", "Jawa Tengah"),
        ("Denpasar", "Bali"),
        ("Sorong", "Papua Barat Daya"),
    ],
)
def test_places_know_their_province(gazetteer: Gazetteer, name: str, province: str) -> None:
    place = gazetteer.lookup(name)
    assert place is not None and place.province == province


def test_coordinates_are_real(gazetteer: Gazetteer) -> None:
    jakarta = gazetteer.lookup("Jakarta")
    surabaya = gazetteer.lookup("Surabaya")
    assert jakarta is not None and surabaya is not None
    assert jakarta.latitude == pytest.approx(-6.2, abs=0.1) and jakarta.longitude == pytest.approx(106.8, abs=0.1)
    assert surabaya.latitude == pytest.approx(-7.25, abs=0.1) and surabaya.longitude == pytest.approx(112.75, abs=0.1)


@pytest.mark.parametrize(
    "supplier_city",
    [
        "Jakarta",
        "Jakarta Selatan",
        "jakarta selatan",
        "Kota Adm. Jakarta Barat",
        "Jaksel",
        "South Jakarta",
        "Jakarta Utara",
        "DKI Jakarta",
        "Kepulauan Seribu",
    ],
)
def test_di_jakarta_includes_its_cities(gazetteer: Gazetteer, supplier_city: str) -> None:
    place = parse_query("laptop di Jakarta").location
    assert place is not None and place.matches_city(supplier_city)


@pytest.mark.parametrize("supplier_city", ["Bandung", "Surabaya", "Bekasi", "Tangerang", "", "Jakartaa"])
def test_di_jakarta_excludes_other_cities(gazetteer: Gazetteer, supplier_city: str) -> None:
    place = gazetteer.lookup("Jakarta")
    assert place is not None and not place.matches_city(supplier_city)


def test_jakarta_lists_its_five_cities(gazetteer: Gazetteer) -> None:
    place = gazetteer.lookup("Jakarta")
    assert place is not None
    assert {"Jakarta Pusat", "Jakarta Utara", "Jakarta Barat", "Jakarta Selatan", "Jakarta Timur"} <= set(
        place.contained_cities
    )


def test_a_city_does_not_contain_its_neighbours(gazetteer: Gazetteer) -> None:
    jaksel = gazetteer.lookup("Jaksel")
    assert jaksel is not None
    assert jaksel.matches_city("Jakarta Selatan") and jaksel.matches_city("Kota Jakarta Selatan")
    assert not jaksel.matches_city("Jakarta Pusat")
    assert not jaksel.matches_city("Jakarta")


@pytest.mark.parametrize(
    ("city", "inside"),
    [
        ("Bandung", True),
        ("Kota Bandung", True),
        ("Kabupaten Bandung", True),
        ("Bandung Barat", True),
        ("bandung city", True),
        ("Cimahi", False),
        ("Jakarta", False),
    ],
)
def test_city_matches_its_own_variants(gazetteer: Gazetteer, city: str, inside: bool) -> None:
    bandung = gazetteer.lookup("Bandung")
    assert bandung is not None and bandung.matches_city(city) is inside


def test_province_contains_its_cities(gazetteer: Gazetteer) -> None:
    jogja = gazetteer.lookup("Jogja")
    jabar = gazetteer.lookup("Jawa Barat")
    assert jogja is not None and jabar is not None
    assert jogja.matches_city("Sleman") and jogja.matches_city("Bantul") and jogja.matches_city("Yogyakarta")
    assert jabar.matches_city("Bandung") and jabar.matches_city("Bekasi") and not jabar.matches_city("Semarang")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("laptop di Jakarta Selatan", "Jakarta Selatan"),  # the longest alias wins over "Jakarta"
        ("laptop di jaksel", "Jakarta Selatan"),
        ("hp di JOGJA", "DI Yogyakarta"),
        ("monitor murah di solo", "Surakarta"),
        ("mouse in Yogyakarta", "DI Yogyakarta"),
        ("printer near South Jakarta", "Jakarta Selatan"),
        ("laptop Bandung", "Bandung"),  # a well-known city needs no preposition
        ("kirim dari Surabaya, saya di Malang", "Malang"),  # "di" beats "dari"
        ("laptop di kota Batu", "Batu"),
        ("hp di Palu", "Palu"),
        ("laptop dekat Depok", "Depok"),  # Depok (West Java), not the district of Sleman
    ],
)
def test_find_in_text(gazetteer: Gazetteer, text: str, name: str) -> None:
    place = gazetteer.find(text)
    assert place is not None and place.name == name


@pytest.mark.parametrize(
    "text",
    [
        "batu baterai laptop",  # batu = stone
        "palu besi",  # palu = hammer
        "kasihan deh",  # kasihan = pity (also a district of Bantul)
        "laptop kota",
        "laptop gaming murah",
        "serang balik",
        "the metro",
    ],
)
def test_common_words_are_not_places_without_a_preposition(gazetteer: Gazetteer, text: str) -> None:
    assert gazetteer.find(text) is None


def test_kisaran_before_a_price_is_not_the_town_kisaran() -> None:
    query = parse_query("laptop di kisaran 5 juta")
    assert query.location is None
    assert (query.min_price, query.max_price) == (4_000_000, 6_000_000)


def test_words_are_matched_whole() -> None:
    gazetteer = Gazetteer([GazetteerEntry("Medan", "city", "Sumatera Utara", 3.58, 98.67)])
    assert gazetteer.find("laptop di medan") is not None
    assert gazetteer.find("laptop medanku") is None
    assert gazetteer.find("laptop kemedan") is None


def test_a_custom_gazetteer_is_used_by_parse_query() -> None:
    gazetteer = Gazetteer([GazetteerEntry("Kotaku", "city", "Provinsiku", -6.0, 106.0, aliases=("ktk",))])
    query = parse_query("laptop di ktk", gazetteer=gazetteer)
    assert query.location is not None and query.location.name == "Kotaku"
    assert parse_query("laptop di Bandung", gazetteer=gazetteer).location is None
