"""Genres from what each source calls them: one normalised, deduplicated list per book.

Open Library's subjects are librarians' headings mixed with shelf noise ("Accessible book",
"nyt:hardcover-fiction=2010-05-09", "Fiction, science fiction, general"); Google's categories
are BISAC paths ("Fiction / Science Fiction / Space Opera"). Both become short genre names in
one vocabulary, so "Science fiction", "SF" and "Fiction / Science Fiction / General" count as
the same genre on the dashboard.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_GENRES = 12

_NOISE = re.compile(
    r"^(accessible book|protected daisy|in library|lending library|large type books|"
    r"open library staff picks|overdrive|internet archive wishlist|long now manual.*|"
    r"reading level.*|nyt:.*|new york times.*|award:.*|series:.*|general|"
    r"fiction in english|english fiction|american fiction|translations into .*|"
    r"place:.*|time:.*|person:.*|\d+.*|.*\bbestseller.*|.*\(fictitious.*|"
    r"ebooks?|e-books?|kindle|audiobooks?|audible|to-read|currently-reading|read|re-?reads?|"
    r"owned|owned-books|favou?rites?|all-time-favou?rites?|wishlist|wish-list|tbr|dnf|"
    r"did-not-finish|library|borrowed|books-i-own|default|paused|"
    r"books?|literature|textbooks?|.{0,2}|.{61,})$",
    re.IGNORECASE,
)
_SYNONYMS = {
    "sci-fi": "Science Fiction",
    "scifi": "Science Fiction",
    "sf": "Science Fiction",
    "science fiction": "Science Fiction",
    "science-fiction": "Science Fiction",
    "fantasy fiction": "Fantasy",
    "fantasy": "Fantasy",
    "mystery and detective stories": "Mystery",
    "detective and mystery stories": "Mystery",
    "mystery": "Mystery",
    "mysteries": "Mystery",
    "crime": "Crime",
    "thrillers": "Thriller",
    "thriller": "Thriller",
    "suspense": "Thriller",
    "romance": "Romance",
    "love stories": "Romance",
    "horror": "Horror",
    "horror tales": "Horror",
    "ghost stories": "Horror",
    "biography & autobiography": "Biography",
    "biography": "Biography",
    "biographies": "Biography",
    "autobiography": "Biography",
    "memoir": "Memoir",
    "memoirs": "Memoir",
    "history": "History",
    "historical fiction": "Historical Fiction",
    "juvenile fiction": "Children's",
    "children's fiction": "Children's",
    "young adult fiction": "Young Adult",
    "young adult": "Young Adult",
    "ya": "Young Adult",
    "nonfiction": "Nonfiction",
    "non-fiction": "Nonfiction",
    "self-help": "Self-Help",
    "self help": "Self-Help",
    "business & economics": "Business",
    "business": "Business",
    "economics": "Economics",
    "philosophy": "Philosophy",
    "psychology": "Psychology",
    "poetry": "Poetry",
    "comics & graphic novels": "Graphic Novels",
    "graphic novels": "Graphic Novels",
    "comic books, strips, etc": "Graphic Novels",
    "classics": "Classics",
    "classic literature": "Classics",
    "literary fiction": "Literary Fiction",
    "dystopias": "Dystopian",
    "dystopian": "Dystopian",
    "space opera": "Space Opera",
    "humor": "Humor",
    "humour": "Humor",
    "true crime": "True Crime",
    "science": "Science",
    "popular science": "Science",
    "travel": "Travel",
    "cooking": "Cooking",
    "religion": "Religion",
    "politics": "Politics",
    "political science": "Politics",
    "art": "Art",
    "music": "Music",
    "technology": "Technology",
    "computers": "Computers",
    "fiction": "Fiction",
}
_SMALL_WORDS = {"and", "of", "the", "in", "on", "for", "a", "an", "to"}


def normalise(raw: Iterable[str]) -> list[str]:
    """Each source name split into parts, noise dropped, synonyms merged, first seen first."""
    genres: list[str] = []
    seen: set[str] = set()
    for name in raw:
        for part in _parts(name):
            genre = _genre(part)
            if genre is None or genre.lower() in seen:
                continue
            seen.add(genre.lower())
            genres.append(genre)
            if len(genres) >= MAX_GENRES:
                return genres
    return genres


def merge(*lists: Iterable[str]) -> list[str]:
    """Several sources' genres as one list: normalised, each genre once, in source order."""
    return normalise(genre for genres in lists for genre in genres)


def _parts(name: str) -> list[str]:
    # BISAC paths ("Fiction / Science Fiction / General") and OL's comma headings
    # ("Fiction, science fiction, general") both name a genre and its sub-genres
    separator = "/" if "/" in name else ("," if name.lower().startswith("fiction,") else None)
    pieces = name.split(separator) if separator else [name]
    return [" ".join(piece.split()).strip(" .;:-") for piece in pieces]


def _genre(part: str) -> str | None:
    known = _SYNONYMS.get(part.lower()) or _SYNONYMS.get(part.lower().replace("-", " "))
    if known:
        return known
    if not part or _NOISE.match(part):
        return None
    if "-" in part and " " not in part:  # a shelf name: "literary-fiction", "space-opera"
        part = part.replace("-", " ")
    if "--" in part:  # Library of Congress subdivisions: "Mars (Planet) -- Fiction"
        return None
    return _title_case(part)


def _title_case(text: str) -> str:
    words = text.split()
    return " ".join(
        word
        if word.isupper() and len(word) > 1
        else (word.lower() if i and word.lower() in _SMALL_WORDS else word.capitalize())
        for i, word in enumerate(words)
    )
