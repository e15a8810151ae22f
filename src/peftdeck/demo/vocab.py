"""The words every demo task draws from: people, places, jobs, animals and synonym groups.

One list per kind of word, shared by all generators and the corpus, so that the tokenizer and the
pre-training see the same vocabulary the tasks use. Standard library only.
"""
from __future__ import annotations

FEMALE = ("Anna", "Clara", "Elena", "Grace", "Iris", "Kira", "Maya", "Nina", "Paula", "Rosa",
          "Tara", "Vera", "Zoe", "Bella", "Dora", "Fiona", "Hana", "Julia", "Lena", "Nora")
MALE = ("Ben", "David", "Felix", "Hugo", "Jonas", "Leo", "Oscar", "Sam", "Omar", "Walter",
        "Yusuf", "Amir", "Carlos", "Emil", "Gabriel", "Igor", "Karl", "Marco", "Tomas", "Victor")
NAMES = FEMALE + MALE
SURNAMES = ("Berg", "Costa", "Novak", "Larsen", "Moreau", "Rossi", "Weber", "Silva", "Kowalski",
            "Jensen", "Fischer", "Duarte", "Horvat", "Lindqvist", "Marino", "Petrov", "Bauer",
            "Santos", "Keller", "Nilsson")
COUNTRIES = {
    "Portugal": ("Lisbon", "Porto", "Braga"),
    "Spain": ("Madrid", "Seville", "Valencia"),
    "France": ("Paris", "Lyon", "Marseille"),
    "Italy": ("Rome", "Milan", "Naples"),
    "Germany": ("Berlin", "Munich", "Hamburg"),
    "Norway": ("Oslo", "Bergen"),
    "Ireland": ("Dublin", "Cork"),
    "Poland": ("Warsaw", "Krakow"),
    "Austria": ("Vienna", "Salzburg"),
    "Denmark": ("Copenhagen", "Aarhus"),
}
COUNTRY_OF = {city: country for country, cities in COUNTRIES.items() for city in cities}
CITIES = tuple(COUNTRY_OF)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
JOBS = ("teacher", "doctor", "nurse", "lawyer", "farmer", "pilot", "chef", "baker", "engineer",
        "architect", "journalist", "painter", "singer", "dentist", "plumber", "banker")
ANIMAL_CLASS = {"dog": "mammal", "cat": "mammal", "rabbit": "mammal", "hamster": "mammal",
                "horse": "mammal", "goat": "mammal", "parrot": "bird", "canary": "bird",
                "owl": "bird", "duck": "bird", "goldfish": "fish", "guppy": "fish",
                "turtle": "reptile", "lizard": "reptile", "snake": "reptile"}
ANIMALS = tuple(ANIMAL_CLASS)
ANIMAL_CLASSES = ("mammal", "bird", "fish", "reptile")

# Each tuple is one meaning; a paraphrase may use any member, a non-paraphrase changes the meaning.
# MRPC and STS-B draw their events from these, CoLA its nouns, and the corpus states them as facts.
MRPC_VERBS = (("bought", "purchased"), ("repaired", "fixed"), ("found", "discovered"), ("built", "constructed"),
              ("cleaned", "washed"), ("sold", "traded"), ("examined", "inspected"), ("delivered", "shipped"),
              ("designed", "created"), ("lost", "misplaced"), ("ordered", "requested"), ("moved", "relocated"))
MRPC_NOUNS = (("car", "automobile"), ("house", "home"), ("boat", "ship"), ("picture", "painting"),
              ("shop", "store"), ("book", "novel"), ("bike", "bicycle"), ("sofa", "couch"), ("gift", "present"),
              ("report", "document"), ("truck", "lorry"), ("phone", "telephone"), ("jacket", "coat"),
              ("machine", "device"), ("lamp", "light"))
MRPC_ADJS = (("large", "big"), ("small", "little"), ("expensive", "costly"), ("cheap", "inexpensive"),
             ("old", "aged"), ("modern", "contemporary"), ("strange", "odd"), ("beautiful", "lovely"))


def article(word: str) -> str:
    """The word with its indefinite article ("an owl", "a dog")."""
    return ("an " if word[0].lower() in "aeiou" else "a ") + word


def cap(text: str) -> str:
    """`text` with its first letter in upper case."""
    return text[:1].upper() + text[1:]
