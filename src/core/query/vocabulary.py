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

BRANDS = frozenset(
    {"asus", "acer", "lenovo", "hp", "dell", "apple", "samsung", "xiaomi", "redmi", "poco", "oppo", "vivo",
     "realme", "infinix", "tecno", "itel", "huawei", "honor", "nokia", "sony", "lg", "msi", "razer",
     "logitech", "rexus", "fantech", "epson", "canon", "brother", "gigabyte", "microsoft", "google",
     "oneplus", "axioo", "advan", "zyrex", "toshiba", "fujitsu", "alienware", "keychron", "aoc", "viewsonic",
     "benq", "philips", "jbl", "sennheiser", "anker", "baseus", "edifier", "nintendo", "garmin", "amazfit",
     "fitbit", "nikon", "fujifilm", "gopro", "dji", "sharp", "polytron", "xbox", "playstation", "iphone",
     "ipad", "macbook", "rog", "tuf", "legion", "thinkpad", "ideapad", "vivobook", "zenbook", "predator",
     "nitro", "aspire", "galaxy", "pixel", "surface", "steelseries", "corsair", "hyperx", "mediatek"}
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
     "pakai", "pake", "dipakai"}
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
     "selling", "stock", "ready", "help", "pick", "option", "options", "local", "here", "where"}
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
