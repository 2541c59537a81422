"""Listing and searching products: the use cases' translation to ``ProductFilter`` and the fake's
search semantics, which the SQL adapter's integration tests hold to as well."""

from __future__ import annotations

import pytest

from core.domain.errors import InvalidInput
from core.domain.marketplace import Page, ProductChanges
from core.geo.distance import haversine_km
from core.use_cases.authenticate import Access
from core.use_cases.list_products import ListProducts
from core.use_cases.search_products import ProductSearch, SearchProducts, search_filter
from core.use_cases.update_product import UpdateProduct
from tests.fakes.marketplace import FakeProductCatalog, FakeUnitOfWork
from tests.unit.marketplace.builders import (
    BANDUNG,
    JAKARTA,
    JAKARTA_SELATAN,
    MEDAN,
    SURABAYA,
    keyed,
    product_in,
    supplier_in,
)


@pytest.fixture
async def catalogue() -> FakeUnitOfWork:
    """Four shops in four places; each sells a gaming laptop, two sell a monitor."""
    uow = FakeUnitOfWork()
    places = [
        ("Jakarta", JAKARTA),
        ("Bandung", BANDUNG),
        ("Surabaya", SURABAYA),
        ("Jakarta Selatan", JAKARTA_SELATAN),
    ]
    for index, (city, point) in enumerate(places):
        shop = await supplier_in(
            uow, email=f"shop{index}@x.id", city=city, location=point, business_name=f"Shop {city}"
        )
        await product_in(
            uow,
            shop,
            name=f"Laptop Gaming {city}",
            sku=f"LAP-{index}",
            price=10_000_000 + index * 1_000_000,
            tags="gaming,rtx",
        )
        if index % 2 == 0:
            await product_in(
                uow,
                shop,
                name=f"Monitor 4K {city}",
                sku=f"MON-{index}",
                category="Monitor",
                description="IPS panel for gaming",
                price=4_500_000,
                tags="monitor,4k",
            )
    return uow


async def search(uow: FakeUnitOfWork, **kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.name for p in (await SearchProducts(FakeProductCatalog(uow))(ProductSearch(**kwargs))).items]


async def test_every_word_must_match_in_any_order_and_case(catalogue: FakeUnitOfWork) -> None:
    assert await search(catalogue, q="GAMING laptop bandung") == ["Laptop Gaming Bandung"]
    assert await search(catalogue, q="laptop gaming bandung") == ["Laptop Gaming Bandung"]
    assert await search(catalogue, q="laptop phone") == []


async def test_words_match_description_tags_and_category(catalogue: FakeUnitOfWork) -> None:
    assert sorted(await search(catalogue, q="ips")) == ["Monitor 4K Jakarta", "Monitor 4K Surabaya"]
    assert len(await search(catalogue, q="rtx")) == 4
    assert len(await search(catalogue, q="monitor panel")) == 2


async def test_best_text_match_first_without_a_location(catalogue: FakeUnitOfWork) -> None:
    # "gaming" is in every laptop's name but only in the monitors' description.
    found = await search(catalogue, q="gaming")
    assert len(found) == 6
    assert all(name.startswith("Laptop") for name in found[:4])
    assert all(name.startswith("Monitor") for name in found[4:])


async def test_nearest_first_with_haversine_distances(catalogue: FakeUnitOfWork) -> None:
    result = await SearchProducts(FakeProductCatalog(catalogue))(
        ProductSearch(q="laptop", user_lat=-6.2088, user_lon=106.8456)
    )
    assert [p.city for p in result.items] == ["Jakarta", "Jakarta Selatan", "Bandung", "Surabaya"]
    for product in result.items:
        assert product.distance_km == pytest.approx(haversine_km(JAKARTA, product.location))
    assert result.items[0].distance_km == pytest.approx(0.0)


async def test_radius_bounds_the_distance(catalogue: FakeUnitOfWork) -> None:
    found = await search(catalogue, q="laptop", user_lat=JAKARTA.latitude, user_lon=JAKARTA.longitude, radius_km=50)
    assert found == ["Laptop Gaming Jakarta", "Laptop Gaming Jakarta Selatan"]


async def test_city_jakarta_also_matches_jakarta_selatan(catalogue: FakeUnitOfWork) -> None:
    assert sorted(await search(catalogue, q="laptop", city="jakarta")) == [
        "Laptop Gaming Jakarta",
        "Laptop Gaming Jakarta Selatan",
    ]
    assert await search(catalogue, q="laptop", city="Jakarta Selatan") == ["Laptop Gaming Jakarta Selatan"]
    assert await search(catalogue, q="laptop", city="Medan") == []


async def test_price_and_category_filters(catalogue: FakeUnitOfWork) -> None:
    monitors = await search(catalogue, category=" MONITOR ")
    assert sorted(monitors) == ["Monitor 4K Jakarta", "Monitor 4K Surabaya"]
    assert await search(catalogue, q="laptop", min_price=11_000_000, max_price=12_000_000) == [
        "Laptop Gaming Surabaya",
        "Laptop Gaming Bandung",
    ]


async def test_search_pages_and_counts(catalogue: FakeUnitOfWork) -> None:
    result = await SearchProducts(FakeProductCatalog(catalogue))(ProductSearch(q="laptop", page=Page(skip=1, limit=2)))
    assert result.total == 4
    assert len(result.items) == 2


async def test_search_hides_unavailable_products(catalogue: FakeUnitOfWork) -> None:
    bandung = next(p for p in catalogue.products.items.values() if p.city == "Bandung")
    await catalogue.products.update(bandung.id, ProductChanges(is_available=False))
    assert await search(catalogue, q="laptop bandung") == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"user_lat": -6.2}, "user_lon"),
        ({"user_lon": 106.8}, "user_lat"),
        ({"user_lat": 91.0, "user_lon": 0.0}, "user_lat"),
        ({"user_lat": 0.0, "user_lon": -181.0}, "user_lon"),
        ({"user_lat": float("nan"), "user_lon": 0.0}, "user_lat"),
        ({"radius_km": 10.0}, "radius_km"),
        ({"radius_km": 0.0, "user_lat": 0.0, "user_lon": 0.0}, "radius_km"),
        ({"radius_km": float("nan"), "user_lat": 0.0, "user_lon": 0.0}, "radius_km"),
        ({"min_price": -1}, "min_price"),
        ({"max_price": -1}, "max_price"),
        ({"min_price": 10, "max_price": 5}, "min_price"),
        ({"q": "x" * 201}, "q"),
        ({"city": "Jakarta\x00"}, "city"),
    ],
)
def test_bad_searches_name_the_parameter(kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        search_filter(ProductSearch(**kwargs))
    assert raised.value.field == field


def test_search_translation() -> None:
    criteria = search_filter(
        ProductSearch(
            q="  laptop gaming ",
            category="Laptop",
            city=" Jakarta ",
            user_lat=-6.2,
            user_lon=106.8,
            radius_km=10**9,
        )
    )
    assert criteria.text == "laptop gaming"
    assert criteria.category == "laptop"
    assert criteria.cities == ("Jakarta",)
    assert criteria.radius_km == pytest.approx(20_038.0)
    assert criteria.available_only
    assert criteria.order == "distance"
    assert search_filter(ProductSearch(q=" ")).text is None


async def test_list_products_newest_first_with_filters(catalogue: FakeUnitOfWork) -> None:
    listed = await ListProducts(FakeProductCatalog(catalogue))(category="laptop", min_price=11_000_000)
    assert [p.name for p in listed.items] == [
        "Laptop Gaming Jakarta Selatan",
        "Laptop Gaming Surabaya",
        "Laptop Gaming Bandung",
    ]
    assert listed.total == 3
    assert all(p.distance_km is None for p in listed.items)


async def test_list_products_hides_unavailable_unless_asked(catalogue: FakeUnitOfWork) -> None:
    shop = await supplier_in(catalogue, email="medan@x.id", city="Medan", location=MEDAN)
    product = await product_in(catalogue, shop, sku="GONE-1", name="Old laptop")
    await keyed(UpdateProduct(catalogue), catalogue, Access.SUPPLIER)(
        shop.api_key, product.id, ProductChanges(is_available=False)
    )
    assert product.id not in [p.id for p in (await ListProducts(FakeProductCatalog(catalogue))()).items]
    everything = await ListProducts(FakeProductCatalog(catalogue))(available_only=False)
    assert product.id in [p.id for p in everything.items]


async def test_list_products_rejects_crossed_prices(catalogue: FakeUnitOfWork) -> None:
    with pytest.raises(InvalidInput) as raised:
        await ListProducts(FakeProductCatalog(catalogue))(min_price=5, max_price=1)
    assert raised.value.field == "min_price"
