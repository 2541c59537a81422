"""Word lists (Indonesian and English) the query parser relies on. All lowercase.

Kept out of the formatter (``fmt: off``): the lists read better packed than one word per line."""

# fmt: off

from __future__ import annotations

# --- categories -----------------------------------------------------------------------------------

# synonym (one or more words) -> category. Strong synonyms decide the category on their own; weak ones
# ("layar" = screen, "tab", "android") only when no strong synonym appears anywhere.
STRONG_CATEGORY_WORDS: dict[str, str] = {
    **dict.fromkeys(
        ("laptop", "laptops", "notebook", "notebooks", "ultrabook", "ultrabooks", "macbook", "macbooks",
         "chromebook", "chromebooks", "netbook"),
        "laptop",
    ),
    **dict.fromkeys(
        ("smartphone", "smartphones", "handphone", "handphones", "ponsel", "phone", "phones", "hape",
         "telepon genggam", "telpon genggam", "iphone", "iphones", "mobile phone", "mobile phones",
         "cell phone", "cellphone", "cellphones", "hp android"),
        "smartphone",
    ),
    **dict.fromkeys(("tablet", "tablets", "ipad", "ipads"), "tablet"),
    **dict.fromkeys(("monitor", "monitors"), "monitor"),
    **dict.fromkeys(("keyboard", "keyboards", "papan ketik"), "keyboard"),
    **dict.fromkeys(("mouse", "mice", "tetikus"), "mouse"),
    **dict.fromkeys(("printer", "printers", "pencetak"), "printer"),
    **dict.fromkeys(
        ("headphone", "headphones", "earphone", "earphones", "headset", "headsets", "earbuds", "earbud",
         "tws", "airpods", "headfon"),
        "headphone",
    ),
    **dict.fromkeys(("speaker", "speakers", "soundbar", "pengeras suara"), "speaker"),
    **dict.fromkeys(("camera", "cameras", "kamera", "dslr", "mirrorless"), "camera"),
    **dict.fromkeys(
        ("smartwatch", "smartwatches", "smart watch", "jam tangan pintar", "jam pintar", "apple watch"),
        "smartwatch",
    ),
    **dict.fromkeys(
        ("console", "consoles", "konsol", "playstation", "ps5", "ps4", "xbox", "nintendo switch",
         "konsol game", "game console"),
        "console",
    ),
}
WEAK_CATEGORY_WORDS: dict[str, str] = {
    "layar": "monitor",
    "screen": "monitor",
    "tab": "tablet",
    "android": "smartphone",
    "hp": "smartphone",  # unless it is the brand HP, see category.py
}
# Category words that also name a product line: they stay in the keywords ("iphone" narrows the search).
SPECIFIC_CATEGORY_WORDS = frozenset(
    {"macbook", "macbooks", "chromebook", "iphone", "ipad", "airpods", "playstation", "ps5", "ps4", "xbox",
     "nintendo switch", "apple watch", "ultrabook", "dslr", "mirrorless", "tws", "soundbar"}
)

# "tas laptop", "charger hp", "mouse pad": accessories, so the next word is not the category.
ACCESSORY_WORDS = frozenset(
    {"tas", "bag", "sleeve", "charger", "casing", "case", "cover", "kabel", "cable", "adaptor", "adapter",
     "pelindung", "protector", "tempered", "skin", "cooler", "cooling", "stand", "dudukan", "holder",
     "baterai", "battery", "sparepart", "spare", "lcd", "garskin", "silikon", "tinta", "ink", "toner",
     "strap", "tali", "lensa", "lens", "tripod", "pad", "mousepad", "cartridge", "dock", "docking", "hub"}
)

# "HP" is the brand when next to one of these (otherwise "hp" is Indonesian for a mobile phone).
HP_BRAND_CONTEXT = frozenset(
    {"laptop", "laptops", "notebook", "notebooks", "printer", "printers", "monitor", "monitors",
     "pavilion", "envy", "omen", "victus", "elitebook", "probook", "spectre", "zbook", "chromebook",
     "deskjet", "laserjet", "officejet", "smart tank", "ink tank", "elitedesk", "prodesk", "hewlett",
     "packard", "mouse", "keyboard", "ultrabook", "tinta", "toner", "cartridge"}
)

# Brand names as shoppers write them (lower case). Product lines are in ``PRODUCT_LINES``.
BRANDS = frozenset(
    {"asus", "acer", "lenovo", "hp", "dell", "apple", "samsung", "xiaomi", "oppo", "vivo",
     "realme", "infinix", "tecno", "itel", "huawei", "honor", "nokia", "sony", "lg", "msi", "razer",
     "logitech", "rexus", "fantech", "epson", "canon", "brother", "gigabyte", "microsoft", "google",
     "oneplus", "axioo", "advan", "zyrex", "toshiba", "fujitsu", "keychron", "aoc", "viewsonic",
     "benq", "philips", "jbl", "sennheiser", "anker", "baseus", "edifier", "nintendo", "garmin", "amazfit",
     "fitbit", "nikon", "fujifilm", "gopro", "dji", "sharp", "polytron", "steelseries", "corsair", "hyperx",
     "mediatek", "lexar", "sandisk", "kingston", "tplink", "tp-link", "motorola", "zte", "meizu",
     "alienware", "hewlett"}
)
# Words that name a brand differently ("hewlett packard" is HP).
BRAND_ALIASES: dict[str, str] = {"hewlett": "hp", "tp-link": "tplink", "alienware": "dell"}
# Product line -> (brand, category it implies or None). A line is kept as a keyword (it narrows the search).
PRODUCT_LINES: dict[str, tuple[str, str | None]] = {
    "iphone": ("apple", "smartphone"), "iphones": ("apple", "smartphone"), "ipad": ("apple", "tablet"),
    "ipads": ("apple", "tablet"), "macbook": ("apple", "laptop"), "macbooks": ("apple", "laptop"),
    "imac": ("apple", None), "airpods": ("apple", "headphone"), "rog": ("asus", None), "tuf": ("asus", None),
    "zenbook": ("asus", "laptop"), "vivobook": ("asus", "laptop"), "zenfone": ("asus", "smartphone"),
    "galaxy": ("samsung", None), "odyssey": ("samsung", "monitor"), "thinkpad": ("lenovo", "laptop"),
    "ideapad": ("lenovo", "laptop"), "legion": ("lenovo", "laptop"), "yoga": ("lenovo", "laptop"),
    "thinkbook": ("lenovo", "laptop"), "redmi": ("xiaomi", None), "poco": ("xiaomi", "smartphone"),
    "pavilion": ("hp", "laptop"), "omen": ("hp", "laptop"), "victus": ("hp", "laptop"), "envy": ("hp", "laptop"),
    "elitebook": ("hp", "laptop"), "probook": ("hp", "laptop"), "spectre": ("hp", "laptop"),
    "deskjet": ("hp", "printer"), "laserjet": ("hp", "printer"), "predator": ("acer", "laptop"),
    "nitro": ("acer", "laptop"), "aspire": ("acer", "laptop"), "swift": ("acer", "laptop"),
    "xps": ("dell", "laptop"), "inspiron": ("dell", "laptop"), "latitude": ("dell", "laptop"),
    "surface": ("microsoft", None), "xbox": ("microsoft", "console"), "pixel": ("google", "smartphone"),
    "playstation": ("sony", "console"), "ps5": ("sony", "console"), "ps4": ("sony", "console"),
    "xperia": ("sony", "smartphone"), "bravia": ("sony", None), "ecotank": ("epson", "printer"),
    "pixma": ("canon", "printer"), "eos": ("canon", "camera"), "blackwidow": ("razer", "keyboard"),
    "deathadder": ("razer", "mouse"), "reno": ("oppo", "smartphone"),
    "matebook": ("huawei", "laptop"),
}
# Words between an exclusion or a brand and the brand itself: "selain merk asus", "brand samsung".
BRAND_FILLER = frozenset({"merk", "merek", "brand", "brands", "produk", "buatan", "made", "by", "the", "yang", "yg"})
# "selain asus", "bukan samsung", "except apple", "other than lenovo".
EXCLUDE_PHRASES: tuple[tuple[str, ...], ...] = (
    ("selain",), ("bukan",), ("kecuali",), ("tanpa",), ("except",), ("excluding",), ("not",), ("no",),
    ("other", "than"), ("but", "not"), ("non",), ("jangan",), ("ga", "mau"), ("gak", "mau"), ("nggak", "mau"),
    ("tidak", "mau"), ("anti",),
)
BRAND_JOINERS = frozenset({"dan", "atau", "and", "or", "&", "n", "maupun", "ataupun", "sama", "serta", "nor"})

# --- intent and sort --------------------------------------------------------------------------------

AVAILABILITY_PHRASES: tuple[tuple[str, ...], ...] = (
    ("apakah", "ada"), ("apa", "ada"), ("ada", "gak"), ("ada", "ga"), ("ada", "nggak"), ("ada", "enggak"),
    ("ada", "ngga"), ("ada", "gk"), ("ada", "tidak"), ("ada", "tak"), ("masih", "ada"), ("ready",),
    ("ready", "stock"), ("ready", "stok"), ("tersedia",), ("ada", "stok"), ("ada", "stock"), ("is", "there"),
    ("are", "there"), ("in", "stock"), ("available",), ("availability",), ("do", "you", "have"),
    ("have", "any"), ("any", "in", "stock"), ("stoknya", "ada"), ("stok", "ada"), ("adakah",), ("ada", "kah"),
    ("ready", "gak"), ("ready", "ga"), ("ready", "nggak"), ("ready", "kah"), ("masih", "ready"),
    ("can", "i", "get"),
)
# "stok laptop gaming?", "stock of rtx?": a stock word in a question.
STOCK_WORDS = frozenset({"stok", "stock", "stoknya", "persediaan", "ready"})
COMPARE_PHRASES: tuple[tuple[str, ...], ...] = (
    ("bandingkan",), ("bandingin",), ("banding",), ("dibandingkan",), ("perbandingan",),
    ("vs",), ("versus",), ("compare",), ("comparing",), ("comparison",), ("which", "is", "better"),
    ("which", "one", "is", "better"), ("which", "is", "cheaper"), ("mana", "yang", "lebih"),
    ("mana", "yg", "lebih"), ("mana", "lebih"), ("lebih", "bagus", "mana"), ("bagus", "mana"),
    ("lebih", "baik", "mana"), ("pilih", "mana"), ("better", "than"), ("difference", "between"),
    ("beda",), ("bedanya",), ("perbedaan",),
)
PRICE_ASC_PHRASES: tuple[tuple[str, ...], ...] = (
    ("termurah",), ("paling", "murah"), ("palin", "murah"), ("cheapest",), ("lowest", "price"),
    ("lowest", "priced"), ("harga", "terendah"), ("harga", "paling", "rendah"), ("paling", "hemat"),
    ("termurah", "dulu"), ("dari", "yang", "termurah"), ("murah", "ke", "mahal"), ("least", "expensive"),
    ("price", "low", "to", "high"), ("sort", "by", "price"), ("urutkan", "harga"), ("urut", "harga"),
)
PRICE_DESC_PHRASES: tuple[tuple[str, ...], ...] = (
    ("termahal",), ("paling", "mahal"), ("most", "expensive"), ("highest", "price"), ("priciest",),
    ("harga", "tertinggi"), ("harga", "paling", "tinggi"), ("mahal", "ke", "murah"), ("price", "high", "to", "low"),
    ("paling", "premium"), ("top", "end"),
)
NEAREST_PHRASES: tuple[tuple[str, ...], ...] = (
    ("terdekat",), ("paling", "dekat"), ("nearest",), ("closest",), ("yang", "dekat"), ("near", "me"),
    ("dekat", "sini"), ("deket", "sini"), ("terdeket",),
)

# --- prices ---------------------------------------------------------------------------------------

UPPER_BOUND_PHRASES: tuple[tuple[str, ...], ...] = (
    ("tidak", "lebih", "dari"), ("tak", "lebih", "dari"), ("gak", "lebih", "dari"), ("ga", "lebih", "dari"),
    ("nggak", "lebih", "dari"), ("no", "more", "than"), ("not", "more", "than"), ("di", "bawah"),
    ("dibawah",), ("bawah",), ("kurang", "dari"), ("kurang", "dr"), ("maksimal",), ("maksimum",), ("maks",),
    ("max",), ("maximum",), ("under",), ("below",), ("less", "than"), ("up", "to"),
    ("sampai",), ("sampe",), ("hingga",), ("budget",), ("budgetnya",), ("bujet",), ("budjet",), ("dana",),
    ("dananya",), ("anggaran",), ("anggarannya",), ("within",), ("at", "most"), ("paling", "mahal"),
    ("tidak", "sampai"), ("gak", "sampai"), ("ga", "sampai"), ("cuma", "punya"), ("punya",), ("modal",),
    *((neg, *rest) for neg in ("tidak", "tak", "gak", "ga", "nggak", "enggak", "ngga", "engga", "gk", "kagak",
                                "ndak", "nda", "not")
      for rest in (("lebih", "dari"), ("lebih", "dr"), ("lebih",), ("sampai",), ("sampe",), ("nyampe",),
                   ("nyampai",), ("lewat",), ("lewat", "dari"), ("melebihi",), ("over",), ("exceeding",),
                   ("more", "than"))),
    ("duit",), ("duitnya",), ("uang",), ("uangnya",), ("modalnya",), ("dana", "saya"), ("budget", "saya"),
    ("no", "more", "than"), ("not", "over"), ("not", "exceeding"), ("no", "higher", "than"),
    ("money",), ("i", "have"), ("i", "only", "have"), ("punya", "uang"), ("punya", "duit"), ("ada", "duit"),
    ("ada", "uang"),
)
LOWER_BOUND_PHRASES: tuple[tuple[str, ...], ...] = (
    ("di", "atas"), ("diatas",), ("atas",), ("lebih", "dari"), ("lebih", "dr"), ("minimal",), ("minimum",),
    ("min",), ("above",), ("over",), ("at", "least"), ("more", "than"), ("mulai", "dari"), ("mulai",),
    ("starting", "from"), ("starting", "at"), ("from",), ("paling", "murah"),
)
AROUND_PHRASES: tuple[tuple[str, ...], ...] = (
    ("kurang", "lebih"), ("sekitar",), ("sekitaran",), ("kisaran",), ("kira-kira",), ("kira", "kira"),
    ("kurleb",), ("around",), ("about",), ("approximately",), ("approx",), ("roughly",), ("range",),
    ("di", "kisaran"),
)
# Tokens skipped when looking back from a price to its bound word ("budget saya 12 juta").
PRICE_FILLER = frozenset(
    {"rp", "idr", "harga", "harganya", "price", "priced", "prices", "saya", "aku", "gue", "gw", "my", "our",
     "is", "of", "cuma", "hanya", "only", "just", "yang", "yg", "itu", "ini", "nya", "dengan", "dgn", "an",
     "a", "rupiah", "rupiahs", "ada"}
)
# Words after a price: "5 juta ke bawah", "2 million or more".
UPPER_SUFFIX_PHRASES: tuple[tuple[str, ...], ...] = (
    ("ke", "bawah"), ("kebawah",), ("or", "less"), ("or", "below"), ("or", "under"), ("and", "below"),
    ("and", "under"), ("max",), ("maks",), ("maksimal",), ("tops",),
)
LOWER_SUFFIX_PHRASES: tuple[tuple[str, ...], ...] = (
    ("ke", "atas"), ("keatas",), ("or", "more"), ("or", "above"), ("and", "above"), ("and", "up"),
    ("plus",), ("minimal",), ("lebih",),
)
RANGE_START_WORDS = frozenset({"antara", "between", "from", "dari", "mulai", "range", "kisaran", "rentang"})

CHEAP_WORDS = frozenset(
    {"murah", "murahan", "termurah", "murmer", "cheap", "cheapest", "terjangkau", "affordable", "hemat",
     "ekonomis", "inexpensive", "low-cost", "lowcost", "low-budget", "bajet", "budget", "entry-level",
     "irit"}
)
CHEAPER_PHRASES: tuple[tuple[str, ...], ...] = (
    ("lebih", "murah"), ("lbh", "murah"), ("yang", "murah", "lagi"), ("cheaper",), ("less", "expensive"),
    ("lebih", "hemat"), ("lebih", "terjangkau"), ("more", "affordable"), ("lower", "price"),
    ("murah", "lagi"), ("lebih", "murahan"),
)
PRICIER_PHRASES: tuple[tuple[str, ...], ...] = (
    ("lebih", "mahal"), ("lbh", "mahal"), ("more", "expensive"), ("pricier",), ("higher", "end"),
    ("lebih", "premium"), ("more", "premium"),
)

# --- follow-ups -----------------------------------------------------------------------------------

FOLLOW_UP_OPENERS: tuple[tuple[str, ...], ...] = (
    ("yang",), ("yg",), ("kalau",), ("kalo",), ("klo",), ("gimana", "kalau"), ("gimana", "kalo"),
    ("bagaimana", "dengan"), ("bagaimana", "kalau"), ("terus",), ("trus",), ("lalu",), ("how", "about"),
    ("what", "about"), ("and",), ("dan",), ("ada", "yang"), ("ada", "yg"), ("any",), ("only",), ("hanya",),
    ("cuma",), ("tapi",), ("but",), ("same",), ("sama",), ("now",), ("sekarang",), ("the", "ones"),
    ("ones",), ("what", "if"), ("show", "me", "cheaper"), ("show", "cheaper"),
)
FOLLOW_UP_WORDS = frozenset({"lainnya", "lain", "others", "another", "other", "instead"})

# Spec units glued to the number before them: "16 GB" -> "16gb", "27 inch" -> "27inch".
SPEC_UNITS = frozenset({"gb", "tb", "mb", "inch", "inci", "hz", "mah", "mp", "w", "watt", "mm", "ghz", "dpi"})

# --- places ---------------------------------------------------------------------------------------

# Prepositions that introduce a place. Strong ones make any gazetteer name count as a place.
PLACE_PREPOSITIONS_STRONG = frozenset(
    {"di", "in", "near", "dekat", "deket", "sekitar", "area", "daerah", "wilayah", "kawasan", "kota",
     "kabupaten", "kab", "provinsi", "prov", "around", "at", "lokasi", "domisili", "nearby"}
)
PLACE_PREPOSITIONS_WEAK = frozenset({"dari", "from", "ke", "to", "seputar", "sekitaran"})

# --- stop words -----------------------------------------------------------------------------------

STOPWORDS_ID = frozenset(
    {"saya", "aku", "gue", "gua", "gw", "kami", "kita", "anda", "kamu", "lu", "lo", "butuh", "butuhkan",
     "perlu", "memerlukan", "mau", "ingin", "pengen", "pingin", "kepingin", "cari", "carikan", "cariin",
     "mencari", "nyari", "lagi", "sedang", "tolong", "minta", "dong", "deh", "ya", "yah", "kak", "kakak",
     "gan", "sis", "bro", "min", "mimin", "yang", "yg", "di", "ke", "dari", "dr", "untuk", "utk", "buat",
     "bwt", "dengan", "dgn", "dg", "dan", "atau", "juga", "ini", "itu", "ada", "apa", "apakah", "aja", "saja",
     "sih", "nih", "tuh",
     "kah", "pun", "nya", "adalah", "punya", "bisa", "boleh", "dapat", "rekomendasi", "rekomendasiin",
     "rekomen", "rekom", "saran", "sarankan", "beli", "membeli", "pembelian", "jual", "dijual", "harga",
     "harganya", "dana", "anggaran", "budget", "budgetnya", "sekitar", "kisaran", "area", "daerah", "dekat",
     "deket", "wilayah", "kawasan", "kota", "kabupaten", "provinsi", "lokasi", "toko", "seller", "penjual",
     "supplier", "barang", "produk", "lebih", "kurang", "paling", "sangat", "banget", "bgt", "agak", "cukup",
     "terbaik", "bagus", "baik", "oke", "ok", "kalau", "kalo", "klo", "gimana", "bagaimana", "terus", "trus",
     "lalu", "tapi", "sama", "sekarang", "lain", "lainnya", "tersedia", "stok", "stock", "ready", "tidak",
     "tak", "gak", "ga", "nggak", "enggak", "bawah", "atas", "dibawah", "diatas", "maksimal", "maksimum",
     "maks", "minimal", "minimum", "sampai", "sampe", "hingga", "antara", "mulai", "juta", "jt", "ribu", "rb",
     "rp", "idr", "rupiah", "murah", "termurah", "murmer", "terjangkau", "hemat", "ekonomis", "mahal",
     "hanya", "cuma", "kira", "kira-kira", "kurleb", "tolongin", "dicari", "jika", "kan", "lah",
     "mohon", "info", "seharga", "terdekat", "sebuah", "satu", "unit", "pcs", "buah", "halo", "hai", "hi",
     "berapa", "brp", "selamat", "pagi", "siang", "sore", "malam", "terima", "kasih", "makasih", "thanks",
     "please", "pls", "sekitaran", "rentang", "modal", "bujet", "baru", "irit", "murahan", "bajet",
     "pakai", "pake", "dipakai", "duit", "duitnya", "uang", "uangnya", "modalnya", "nyampe", "nyampai",
     "lewat", "melebihi", "selain", "bukan", "kecuali", "tanpa", "merk", "merek", "jangan", "bandingkan",
     "bandingin", "banding", "dibandingkan", "perbandingan", "vs", "versus", "mana", "pilih", "masih",
     "adakah", "termahal", "tertinggi", "terendah", "rendah", "tinggi", "urutkan", "urut", "beda", "bedanya",
     "perbedaan", "ngga", "engga", "gk", "kagak", "ndak", "nda", "an", "stoknya", "persediaan", "terdeket",
     "sini", "palin", "maupun", "ataupun", "serta", "non"}
)
STOPWORDS_EN = frozenset(
    {"i", "me", "my", "we", "us", "our", "you", "your", "need", "needs", "want", "wants", "would", "like",
     "looking", "look", "for", "find", "search", "searching", "show", "give", "get", "buy", "buying", "a",
     "an", "the", "in", "at", "on", "near", "nearby", "with", "and", "or", "to", "from", "of", "some", "any",
     "please", "is", "are", "am", "be", "there", "that", "this", "these", "those", "it", "its", "under",
     "below", "above", "over", "around", "about", "approximately", "approx", "roughly", "budget", "price",
     "prices", "priced", "cheap", "cheaper", "cheapest", "affordable", "inexpensive", "expensive", "best",
     "good", "great", "nice", "new", "less", "more", "than", "least", "most", "up", "max", "maximum",
     "min", "minimum", "between", "within", "what", "which", "how", "can", "could", "do", "does", "have",
     "has", "recommend", "recommendation", "recommendations", "suggest", "ones", "one", "other", "others",
     "another", "instead", "only", "just", "but", "same", "now", "then", "also", "too", "very", "so",
     "million", "millions", "thousand", "billion", "rupiah", "idr", "rp", "area", "city", "store",
     "shop", "seller", "sellers", "supplier", "suppliers", "available", "products", "product", "item",
     "items", "much", "something", "anything", "if", "plus", "tops", "range", "starting", "not", "no", "will",
     "should",
     "pricier", "lower", "higher", "end", "premium", "hello", "hey", "thank", "thanks", "sell",
     "selling", "stock", "ready", "help", "pick", "option", "options", "local", "here", "where",
     "except", "excluding", "brand", "brands", "compare", "comparing", "comparison", "better", "difference",
     "versus", "vs", "money", "priciest", "closest", "nearest", "sort", "by", "high", "low",
     "top", "availability", "exceeding", "made", "nor", "got", "still", "really"}
)
STOPWORDS = STOPWORDS_ID | STOPWORDS_EN

# --- language detection ---------------------------------------------------------------------------

# Words that point at a language. Brands, product words and place names count for neither.
LANGUAGE_WORDS_ID = frozenset(
    (STOPWORDS_ID - {"min", "info", "ok", "oke", "stock", "stok", "ready", "seller", "supplier", "budget",
                     "hi", "thanks", "please", "pls", "area", "unit", "pcs", "rp", "idr", "toko"})
    | {"jutaan", "ribuan", "rebu", "gaming", "murah", "ponsel", "hape", "kamera", "tetikus", "layar",
       "pencetak", "konsol", "cek", "bekas", "second", "original", "ori", "garansi", "resmi", "kerja",
       "kuliah", "sekolah", "kantor", "desain", "main", "game", "anak", "ketik", "pintar", "jam", "tangan"}
    - {"gaming", "second", "original", "game"}
)
LANGUAGE_WORDS_EN = frozenset(
    (STOPWORDS_EN - {"idr", "rp", "max", "min", "plus", "area", "ok"})
    | {"cheap", "phone", "phones", "work", "school", "office", "used", "warranty", "official", "design",
       "kids", "student", "students", "screen", "gamers", "laptops", "monitors", "keyboards", "printers",
       "tablets", "cameras", "speakers", "headphones", "consoles", "mice"}
)
# Marketplace words that by themselves make a query Indonesian.
INDONESIAN_MONEY_WORDS = frozenset(
    {"juta", "jt", "jta", "ribu", "rb", "rebu", "jutaan", "ribuan", "miliar", "milyar"}
)
