"""Sentences for the e5 tokenizer fidelity test: short everyday sentences written for this
test in many languages and scripts (no external source), and the variants the test
derives from them (decomposed accents, fullwidth forms, odd whitespace, emoji, digits,
prompts, cuts in mid-word) plus seeded random texts built from the vocabulary's pieces
and from codepoints of many Unicode blocks."""

import random
import unicodedata

SENTENCES = {
    "en": [
        "The library opens at nine o'clock on weekdays.",
        "How much protein should an adult eat per day?",
        "She couldn't find her keys, so she called a locksmith.",
        "Vitamin D deficiency is common in northern countries during winter.",
        "The café's crème brûlée was the best I've ever had!",
        "Is it safe to take ibuprofen with coffee?",
    ],
    "fr": [
        "Où se trouve la gare la plus proche, s'il vous plaît ?",
        "Les élèves ont réussi l'examen grâce à leurs efforts.",
        "Ça coûte quatorze euros, TVA comprise.",
        "L'hôpital a ouvert un nouveau service de pédiatrie.",
        "Nous irons à la plage demain s'il ne pleut pas.",
    ],
    "de": [
        "Die Straßenbahn fährt alle zehn Minuten zum Hauptbahnhof.",
        "Wie viel Eiweiß braucht ein Erwachsener pro Tag?",
        "Übermorgen öffnet das Geschäft schon um acht Uhr.",
        "Die Bundesausbildungsförderungsgesetznovelle wurde verabschiedet.",
        "Grüße aus Köln und schöne Feiertage!",
    ],
    "es": [
        "¿Cuántas horas duerme un niño de cinco años?",
        "El médico recomendó caminar treinta minutos al día.",
        "Mañana habrá tormentas en el norte de España.",
        "La cigüeña construyó su nido en el campanario.",
        "¡Qué alegría verte después de tanto tiempo!",
    ],
    "pt": [
        "Quantos anos tem a Constituição brasileira?",
        "A vacinação reduziu as internações em São Paulo.",
        "Não se esqueça de levar o guarda-chuva amanhã.",
        "O coração humano bate cerca de cem mil vezes por dia.",
        "Ele comprou pães, maçãs e um queijo da Serra da Estrela.",
    ],
    "it": [
        "Perché il cielo è azzurro durante il giorno?",
        "La città più popolosa d'Italia è Roma.",
        "Ho già prenotato il tavolo per le otto e mezza.",
    ],
    "pl": [
        "Zażółć gęślą jaźń, powiedział nauczyciel z uśmiechem.",
        "Ile kosztuje bilet miesięczny w Krakowie?",
        "Wczoraj padał śnieg, a dziś świeci słońce.",
    ],
    "cs": ["Příliš žluťoučký kůň úpěl ďábelské ódy.", "Kde je nejbližší lékárna?"],
    "tr": [
        "Çocuklar bahçede güneşin altında oynuyor.",
        "İstanbul'dan Ankara'ya tren kaç saat sürüyor?",
        "Şu anda ağır bir öğle yemeği yiyemem.",
    ],
    "vi": [
        "Tiếng Việt có sáu thanh điệu khác nhau.",
        "Hôm nay trời mưa to ở Hà Nội.",
        "Bạn có thể giúp tôi tìm đường đến bệnh viện không?",
    ],
    "ro": ["Școala începe în fiecare an pe cincisprezece septembrie.", "Țara are munți frumoși și râuri limpezi."],
    "is": ["Þetta er ótrúlega fallegur dagur í Reykjavík.", "Hvað kostar kaffibolli á Íslandi?"],
    "sv": ["Hur många öar finns det i Stockholms skärgård?", "Smörgåsbordet var dukat med sill och knäckebröd."],
    "fi": ["Hyvää huomenta, mitä kuuluu?", "Järvien määrä Suomessa on yli sata tuhatta."],
    "hu": ["Árvíztűrő tükörfúrógép a raktárban.", "Mennyi ideig tart a vonat Budapestről Bécsbe?"],
    "ru": [
        "Сколько белка нужно съедать взрослому человеку в день?",
        "Съешь же ещё этих мягких французских булок, да выпей чаю.",
        "Москва — столица России, а Нева течёт через Санкт-Петербург.",
        "Врач посоветовал больше гулять на свежем воздухе.",
        "Ёжик в тумане искал своего друга медвежонка.",
    ],
    "uk": [
        "Чи можна купити квиток на потяг до Львова онлайн?",
        "Ґанок біля їдальні пофарбували в жовтий колір.",
        "Щастя — це коли тебе розуміють.",
    ],
    "sr": ["Љубазни ђак је нашао џеп пун шљива.", "Београд лежи на ушћу Саве у Дунав."],
    "bg": ["Къде се намира най-близката аптека?", "Обичам да чета книги през зимните вечери."],
    "el": [
        "Πόσες ώρες ύπνου χρειάζεται ένας ενήλικας;",
        "Η Ακρόπολη βρίσκεται στην Αθήνα.",
        "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
    ],
    "zh": [
        "成年人每天需要摄入多少蛋白质？",
        "北京是中华人民共和国的首都。",
        "我昨天在图书馆借了三本书。",
        "請問最近的地鐵站在哪裡？",
        "維生素D缺乏在冬季很常見。",
    ],
    "ja": [
        "成人は一日にどれくらいのタンパク質を摂るべきですか？",
        "東京タワーは一九五八年に完成しました。",
        "ｶﾀｶﾅとﾊﾝｶｸのﾃｷｽﾄも正しく読めますか。",
        "今日はとても暑いので、アイスクリームを食べました。",
    ],
    "ko": [
        "성인은 하루에 단백질을 얼마나 섭취해야 하나요?",
        "서울은 대한민국의 수도입니다.",
        "내일 아침 아홉 시에 회의가 있습니다.",
    ],
    "ar": [
        "كم من البروتين يحتاج الشخص البالغ يوميا؟",
        "القاهرة هي عاصمة مصر وأكبر مدنها.",
        "ذَهَبَ الوَلَدُ إِلَى المَدْرَسَةِ صَبَاحًا.",
        "يُنصح بشرب ثمانية أكواب من الماء كل يوم.",
    ],
    "fa": ["تهران پایتخت ایران است.", "لطفاً در را پشت سرتان ببندید."],
    "ur": ["پاکستان کا دارالحکومت اسلام آباد ہے۔"],
    "he": ["כמה חלבון צריך אדם מבוגר לאכול ביום?", "ירושלים היא עיר עתיקה מאוד."],
    "hi": [
        "एक वयस्क को प्रतिदिन कितना प्रोटीन खाना चाहिए?",
        "नई दिल्ली भारत की राजधानी है।",
        "मुझे हिंदी में किताबें पढ़ना पसंद है।",
        "डॉक्टर ने रोज़ तीस मिनट टहलने की सलाह दी।",
    ],
    "mr": ["मुंबई ही महाराष्ट्राची राजधानी आहे."],
    "ne": ["काठमाडौं नेपालको राजधानी हो।"],
    "bn": ["ঢাকা বাংলাদেশের রাজধানী।", "আমি প্রতিদিন সকালে চা পান করি।"],
    "ta": ["சென்னை தமிழ்நாட்டின் தலைநகரம்.", "நான் தினமும் காலையில் நடக்கிறேன்."],
    "te": ["హైదరాబాద్ తెలంగాణ రాజధాని."],
    "th": ["กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย", "วันนี้อากาศร้อนมาก ฉันอยากกินไอศกรีม"],
    "ka": ["თბილისი საქართველოს დედაქალაქია."],
    "hy": ["Երևանը Հայաստանի մայրաքաղաքն է։"],
    "am": ["አዲስ አበባ የኢትዮጵያ ዋና ከተማ ናት።"],
    "km": ["ភ្នំពេញ​ជា​រាជធានី​នៃ​ប្រទេស​កម្ពុជា។"],
    "emoji": [
        "I love pizza 🍕🍕 and sushi 🍣!",
        "Family: 👨‍👩‍👧‍👦, thumbs up 👍🏽, flag 🇩🇪🇧🇷, keycap 1️⃣ #️⃣",
        "❤️ Merci beaucoup 🙏 — à bientôt 😊",
        "🦩🦭🪿 new emoji and old ones ☀☔✨",
    ],
    "digits": [
        "Call +1 (555) 012-3456 before 17:45 on 2024-03-15.",
        "The price rose from $1,299.99 to €1.349,00 (≈ 3.8%).",
        "π ≈ 3.14159, e ≈ 2.71828, √2 ≈ 1.41421, 10² = 100, H₂O, ½ cup, №7",
        "Version 2.10.3-rc1 fixes CVE-2023-12345; see https://example.org/a?b=1&c=2#x",
    ],
    "mixed": [
        "def main(): return {'ключ': 'значение', \"键\": [1, 2, 3]}",
        "<html><body>Hello — ﬁnal ﬂight · “quotes” ‘single’ «guillemets» …</body></html>",
        "ＡＢＣ　ｆｕｌｌｗｉｄｔｈ　１２３　！？",
        "Ⅻ ⅷ ㎏ ㎡ ℃ ℉ ™ © ® ℡ ㍻ ㈱",
    ],
}

_SPACES = ["  ", "\t", "\n", "\u00a0", "\u3000", "\u2009", " \r\n ", "\u200b ", "   \t  "]
_EMOJI = ["🙂", "👍🏿", "🏳️‍🌈", "👩🏽‍💻", "🇯🇵", "9️⃣", "🫠", "🧑‍🚀", "⭐️", "🐈‍⬛"]


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)


def _odd_spaces(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    return (
        rng.choice(["", " ", "\t", "\n "])
        + "".join(w + rng.choice(_SPACES) for w in words[:-1])
        + words[-1]
        + rng.choice(["", " ", "  ", "\n", "\u00a0"])
    )


def _with_emoji(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    at = rng.randrange(len(words) + 1)
    glue = rng.choice(["", " "])
    return " ".join(words[:at] + [glue.join(rng.sample(_EMOJI, 2))] + words[at:])


def variants(text: str, rng: random.Random) -> list[str]:
    """Ten texts from one sentence, each stressing another part of the tokenizer."""
    cut = rng.randrange(1, len(text))
    return [
        text,
        unicodedata.normalize("NFD", text),
        _fullwidth(text),
        _odd_spaces(text, rng),
        _with_emoji(text, rng),
        f"{rng.randrange(1, 10**6)} {text} {rng.random() * 1000:.3f}",
        text.upper(),
        "query: " + text,
        "passage: " + text[:cut],
        text[cut:] + " " + rng.choice([s for group in SENTENCES.values() for s in group]),
    ]


def random_piece_texts(pieces: list[str], count: int, rng: random.Random) -> list[str]:
    """Texts glued from random vocabulary pieces (every script the vocabulary has)."""
    texts = []
    for _ in range(count):
        parts = [pieces[rng.randrange(4, len(pieces) - 1)].replace("\u2581", " ") for _ in range(rng.randint(1, 10))]
        texts.append("".join(p + rng.choice(["", "", " ", "  ", "\t"]) for p in parts))
    return texts


_BLOCKS = [
    (0x20, 0x7F),
    (0xA0, 0x250),
    (0x300, 0x370),
    (0x370, 0x530),
    (0x590, 0x700),
    (0x900, 0xD80),
    (0xE00, 0xF00),
    (0x1100, 0x1200),
    (0x2000, 0x2C00),
    (0x3000, 0x3100),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7A4),
    (0xF900, 0xFB00),
    (0xFB00, 0xFFF0),
    (0x1F300, 0x1FA00),
    (0x20000, 0x2A000),
]


def random_codepoint_texts(count: int, rng: random.Random) -> list[str]:
    """Texts of random codepoints from many blocks: compatibility forms the map rewrites,
    combining marks after them, characters no piece covers (one <unk> each)."""
    return ["".join(chr(rng.randrange(*rng.choice(_BLOCKS))) for _ in range(rng.randint(1, 15))) for _ in range(count)]


def corpus(pieces: list[str], seed: int = 24) -> list[str]:
    """Every sentence's variants, then the random texts: about 1,500 texts."""
    rng = random.Random(seed)
    texts = [v for group in SENTENCES.values() for s in group for v in variants(s, rng)]
    return texts + random_piece_texts(pieces, 250, rng) + random_codepoint_texts(250, rng)
