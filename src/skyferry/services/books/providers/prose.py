"""A small grammar that writes readable English about any topic, for the offline provider.

Each chapter has a *focus* (a phrase naming its angle on the topic, from the outline); paragraphs
open on that focus, carry on with claims, examples, advice and questions whose slots (people,
places, habits, obstacles...) are filled at random, and the chapter opens by linking back to the
previous chapter and closes by pointing at the next one. A sentence never repeats within a
chapter, so no paragraph does either. Everything is drawn from a ``random.Random`` seeded with a
string, which Python hashes the same way in every process: one seed, one book.
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from skyferry.services.books.models import BookRequest, OutlineEntry

# -- vocabulary ----------------------------------------------------------------------------------

PEOPLE = (
    "Ada", "Marcus", "Priya", "Tomás", "Lena", "Kofi", "Mei", "Jonas", "Amara", "Ravi",
    "Sofia", "Elif", "Hugo", "Nadia", "Samuel", "Yuki", "Farah", "Olu", "Greta", "Mateo",
)  # fmt: skip
ROLES = (
    "a retired teacher", "a first-year student", "a nurse on night shifts",
    "a small-business owner", "a software engineer", "a grandmother of four",
    "a volunteer firefighter", "a museum guide", "a bus driver", "a graphic designer",
    "a carpenter", "a librarian", "a chef", "a postdoctoral researcher", "a farmer",
)  # fmt: skip
PLACES = (
    "a small flat in Lisbon", "a farmhouse outside Nairobi", "a shared office in Toronto",
    "a village school in Wales", "a busy kitchen in Osaka", "a community centre in Leeds",
    "a quiet library in Kraków", "a garage in Ohio", "a studio in Mexico City",
    "a workshop in Tallinn", "a market town in Provence", "a co-op in Melbourne",
)  # fmt: skip
TIMES = (
    "in the first week", "after a month", "over a long weekend", "within a season",
    "after a year", "by the third attempt", "in the early mornings", "over a few evenings",
)  # fmt: skip
QUALITIES = (
    "careful", "patient", "deliberate", "playful", "structured", "curious", "steady",
    "honest", "modest", "systematic", "generous", "flexible",
)  # fmt: skip
OUTCOMES = (
    "confidence", "clarity", "a sense of momentum", "better judgement", "fewer surprises",
    "real enjoyment", "a deeper understanding", "more reliable results", "a calmer mind",
    "lasting skill",
)  # fmt: skip
OBSTACLES = (
    "impatience", "information overload", "a lack of honest feedback", "perfectionism",
    "the fear of looking foolish", "too many choices", "unclear goals",
    "borrowed assumptions", "a crowded schedule", "advice that contradicts itself",
)  # fmt: skip
ACTIONS = (
    "keep a simple notebook", "start with the smallest useful step",
    "ask someone a little further along", "set aside a regular hour",
    "write down what surprised you", "repeat the basics until they feel boring",
    "compare notes with a friend", "change one thing at a time",
    "look back at last month's work", "explain the idea out loud", "draw a rough diagram",
    "try the opposite approach once", "name the one thing you want to improve",
)  # fmt: skip
FACETS = (
    "patience", "precision", "curiosity", "timing", "feedback", "simplicity", "community",
    "risk", "craft", "planning", "failure", "practice", "constraints", "scale", "variety",
    "attention", "memory", "rhythm", "trust", "judgement", "play", "rest", "tradition",
    "invention", "measurement", "storytelling", "balance", "habit", "doubt", "ambition",
)  # fmt: skip
NUMBERS = ("two", "three", "four", "five", "six", "seven", "ten", "twelve")

# -- the outline ---------------------------------------------------------------------------------

BOOK_TITLES = (
    "{Topic}: A Practical Guide", "Understanding {Topic}", "The Patient Guide to {Topic}",
    "{Topic} from First Principles", "Getting Started with {Topic}",
    "A Field Guide to {Topic}", "Notes on {Topic}", "The Everyday Book of {Topic}",
)  # fmt: skip

# (chapter title, focus): the focus is how the prose refers to the chapter's angle
OPENING_ANGLES = (
    ("Why {Topic} Matters", "why {topic} matters"),
    ("An Invitation to {Topic}", "what {topic} has to offer"),
    ("Getting to Know {Topic}", "the overall shape of {topic}"),
)
MIDDLE_ANGLES = (
    ("A Short History of {Topic}", "how {topic} came to be what it is"),
    ("The Core Ideas", "the core ideas behind {topic}"),
    ("First Steps", "the first steps in {topic}"),
    ("Tools of the Trade", "the tools people use for {topic}"),
    ("Common Mistakes and How to Avoid Them", "the mistakes beginners make with {topic}"),
    ("{Topic} in Everyday Life", "{topic} in everyday life"),
    ("Learning from Experienced Hands", "what experienced people know about {topic}"),
    ("Measuring Progress", "telling whether you are getting better at {topic}"),
    ("When Things Go Wrong", "recovering when {topic} goes wrong"),
    ("Building Lasting Habits", "the habits that make {topic} stick"),
    ("Myths and Misconceptions", "the myths that surround {topic}"),
    ("The Evidence Behind {Topic}", "what the evidence says about {topic}"),
    ("Costs, Trade-offs and Choices", "the trade-offs hidden in {topic}"),
    ("Teaching {Topic} to Others", "passing {topic} on to others"),
    ("Working Together", "{topic} as a shared effort"),
    ("Small Experiments", "small, cheap experiments with {topic}"),
    ("Planning Ahead", "planning ahead in {topic}"),
    ("The Details That Matter", "the details of {topic} that matter most"),
    ("Advanced Techniques", "the advanced techniques of {topic}"),
    ("Case Study: A Year of {Topic}", "a year spent with {topic}"),
    ("Ethics and Responsibility", "the responsibilities that come with {topic}"),
    ("{Topic} Around the World", "how {topic} differs from place to place"),
    ("Questions Worth Asking", "the questions worth asking about {topic}"),
    ("Resources for Going Further", "where to learn more about {topic}"),
)
CLOSING_ANGLES = (
    ("Putting It All Together", "how the ideas of {topic} fit together"),
    ("The Road Ahead", "where {topic} is heading"),
    ("Keeping Going", "keeping {topic} alive in your own life"),
)
FACET_TITLES = (
    ("{Facet} and {Topic}", "the part {facet} plays in {topic}"),
    ("On {Facet}", "{facet}, and what it means for {topic}"),
    ("A Lesson in {Facet}", "what {topic} teaches about {facet}"),
    ("{Topic} and the Art of {Facet}", "{facet} as a craft within {topic}"),
)
SUMMARIES = (
    "This chapter explores {focus}, with examples and practical advice for {aud}.",
    "A look at {focus}: what it involves, where people stumble, and what helps.",
    "We examine {focus} through stories, habits and a few simple exercises.",
    "Why {focus} deserves attention, and how {aud} can make the most of it.",
    "An unhurried tour of {focus}, from first principles to everyday practice.",
)

# -- sentences -----------------------------------------------------------------------------------

OPENERS = (
    "Consider {focus} through the eyes of {role}.",
    "It helps to be concrete about {focus}, starting with {facet}.",
    "There is more to {focus} than first appears, especially where {facet} is concerned.",
    "Much of what matters in {topic} comes down to {focus}.",
    "Any honest account of {focus} has to begin with {facet}.",
    "People tend to underestimate how much {facet} shapes {focus}.",
    "A useful way into {focus} is to ask what {role} would need from it.",
    "When {aud} first meet {focus}, they often expect rules and find judgement instead.",
    "The heart of {focus} is surprisingly simple: {facet}, applied steadily.",
    "A {quality} approach pays off when it comes to {focus}.",
    "It is worth looking at {focus} from the angle of {facet}.",
    "Looked at closely, success with {focus} rests less on talent than on {facet}.",
    "Think about {focus} as a series of small decisions about {facet}.",
    "The first thing {role} notices about {focus} is how forgiving the subject can be.",
    "Picture {role} in {place}, thinking about {focus}.",
    "Nobody masters {focus} in a day, and {aud} should not expect to.",
    "Of all the sides of {topic}, {focus} is the one where {facet} shows most.",
    "Here is a question that gets to the centre of {focus}: where does {facet} come in?",
)
CLAIMS = (
    "most progress in {topic} comes from small, repeated efforts rather than rare bursts.",
    "the difference between a good result and a great one is usually {facet}.",
    "what looks like talent is often {facet} practised over a long time.",
    "people give up on {topic} because of {obstacle} more often than for any other reason.",
    "a {quality} approach tends to produce {outcome}.",
    "nothing in {topic} is quite as fixed as it first seems.",
    "the basics of {topic} never stop being useful, however far you go.",
    "every choice in {topic} trades one good thing for another, and {facet} decides which.",
    "it is far cheaper to deal with {obstacle} early than late.",
    "{facet} matters at least as much as knowledge.",
    "good results usually come from {number} things done well, not dozens done adequately.",
    "being {quality} is a skill in itself, and it can be learned like any other.",
    "a little {facet} each week adds up to {outcome} within a season.",
    "the people who last longest in {topic} are rarely the most gifted at the start.",
    "{topic} looks different after {number} honest attempts than after one.",
    "{aud} who pay attention to {facet} tend to reach {outcome} sooner.",
)
CONNECTORS = (
    "In practice, ", "Of course, ", "Still, ", "Even so, ", "More often than not, ",
    "Put simply, ", "At the same time, ", "Over time, ", "In other words, ", "Oddly enough, ",
)  # fmt: skip
EXAMPLES = (
    "{Person}, {role} in {place}, learned this the hard way {time}.",
    "Take {person}, {role} who came to {topic} with no particular advantages.",
    "When {person} began, {obstacle} got in the way almost every day.",
    "{Person} found that {outcome} arrived {time}, once the routine was in place.",
    "In {place}, {person} kept a notebook of every attempt, and it became the best teacher.",
    "{Person}'s advice is blunt: {action}.",
    "For {person}, {role}, the breakthrough was learning to {action}.",
    "A group in {place} tried the same idea {time} and reported {outcome}.",
    "Ask {person} what made the difference and the answer is always {facet}.",
    "{Person} and {person2} started together; only one of them chose to {action}.",
)
ADVICE = (
    "If you are unsure where to start, {action}.",
    "A practical rule: {action}, then look at what changed.",
    "Try this {time}: {action}.",
    "Before reaching for anything new, {action}.",
    "It is worth the effort to {action}, even when it feels unnecessary.",
    "At the first sign of {obstacle}, {action}.",
    "Aim for {outcome}, not perfection.",
    "Keep the goal modest and come back to it {time}.",
    "Resist the urge to change everything at once; {action} instead.",
)
QUESTIONS = (
    "What would change if {facet} came first?",
    "Why do so many {aud} neglect {facet}?",
    "How would you explain {focus} to {role} in {number} sentences?",
    "What is the smallest version of this you could try {time}?",
    "Which of your habits already support {focus}, and which work against {facet}?",
    "Where in your own attempts at {topic} have you run into {obstacle}?",
    "What would {person} do differently {time}?",
    "If {facet} were your only guide, what would you try next?",
    "How much of {focus} is really about {facet}?",
)
CLOSERS = (
    "That, in the end, is the lesson of {focus}.",
    "Keep {facet} in mind as we go on.",
    "The rest follows from there, {time} or so.",
    "It is a small shift, but it brings {outcome}.",
    "None of this requires special equipment, only {facet}.",
    "Over months, the effect on {outcome} is hard to miss.",
    "{Outcome} follows, usually sooner than expected.",
    "{Person} would put it more simply: {action}.",
)

_BODY: tuple[tuple[Sequence[str], float], ...] = (
    (CLAIMS, 0.36),
    (EXAMPLES, 0.28),
    (ADVICE, 0.22),
    (QUESTIONS, 0.14),
)
_SLOT = re.compile(r"\{(\w+)\}")
_A_BEFORE_VOWEL = re.compile(r"\b([Aa]) (?=(?:[aeio]|u(?!s[eu]|ni|ro)|hon|hour))", re.IGNORECASE)
_SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to"}


@dataclass(frozen=True)
class Subject:
    """How the prose names the book's subject: ``topic`` mid-sentence, ``Topic`` in titles."""

    topic: str
    title: str
    audience: str

    @classmethod
    def of(cls, request: BookRequest) -> Subject:
        topic = request.topic
        first, _, rest = topic.partition(" ")
        if rest and first in ("The", "A", "An"):
            topic = first.lower() + " " + rest  # an article reads wrong capitalised mid-sentence
        return cls(topic=topic, title=_title_case(request.topic), audience=_audience(request))


def outline(request: BookRequest, seed: int) -> tuple[str, list[OutlineEntry]]:
    title, plan = _plan(request, seed)
    return title, [entry for entry, _ in plan]


def focuses(request: BookRequest, entries: Sequence[OutlineEntry], seed: int) -> list[str]:
    """Each chapter's angle as a phrase for the prose ("the tools people use for baking").

    An outline this grammar wrote gets its own phrases back; any other outline's titles serve,
    their first letter lower-cased.
    """
    _, plan = _plan(request, seed)
    phrases = {entry.title: focus for entry, focus in plan}
    return [phrases.get(entry.title) or _decapitalise(entry.title) for entry in entries]


def _plan(request: BookRequest, seed: int) -> tuple[str, list[tuple[OutlineEntry, str]]]:
    rng = random.Random(f"{seed}|outline|{request.topic}|{request.chapters}")
    subject = Subject.of(request)
    title = request.title or _fill(rng.choice(BOOK_TITLES), rng, subject)
    plan = []
    for number, (title_template, focus_template) in enumerate(
        _angles(rng, request.chapters), start=1
    ):
        focus = _fill(focus_template, rng, subject, sentence=False)
        summary = _fill(rng.choice(SUMMARIES), rng, subject, focus=focus)
        entry = OutlineEntry(
            number=number, title=_fill(title_template, rng, subject), summary=summary
        )
        plan.append((entry, focus))
    return title, plan


def chapter(
    request: BookRequest, title: str, entries: Sequence[OutlineEntry], number: int, seed: int
) -> str:
    """Chapter ``number``: about ``words_per_chapter`` words, in paragraphs split by blank lines."""
    rng = random.Random(f"{seed}|chapter|{request.topic}|{title}|{number}")
    phrases = focuses(request, entries, seed)
    writer = _ChapterWriter(rng, Subject.of(request), phrases, number)
    paragraphs = [writer.introduction(request)]
    target = request.words_per_chapter
    closing_words = 60
    while _words(paragraphs) < target - closing_words:
        paragraphs.append(writer.paragraph())
    paragraphs.append(writer.conclusion())
    return "\n\n".join(paragraphs)


class _ChapterWriter:
    def __init__(
        self, rng: random.Random, subject: Subject, focuses: list[str], number: int
    ) -> None:
        self.rng = rng
        self.subject = subject
        self.focuses = focuses
        self.number = number
        self.focus = focuses[number - 1]
        self.used: set[str] = set()
        # templates used lately, per pool: the same sentence shape twice in a row reads badly
        self.recent: dict[int, deque[str]] = {}

    def introduction(self, request: BookRequest) -> str:
        s = self.subject
        if self.number == 1:
            lead = [f"This book is about {s.topic}, and it is written for {s.audience}."]
            if request.style:
                lead.append(f"It aims to be {request.style} in tone.")
            lead.append(f"We begin with {self.focus}.")
        else:
            lead = [
                f"In the previous chapter we looked at {self.focuses[self.number - 2]}.",
                f"Here we turn to {self.focus}.",
            ]
        return " ".join([*lead, *self._body(2, 3)])

    def paragraph(self) -> str:
        sentences = [self._sentence(OPENERS)]
        sentences += self._body(3, 5)
        if self.rng.random() < 0.45:
            sentences.append(self._sentence(CLOSERS))
        return " ".join(sentences)

    def conclusion(self) -> str:
        sentences = [f"So much for {self.focus}.", *self._body(1, 2)]
        if self.number < len(self.focuses):
            sentences.append(f"In the next chapter, we turn to {self.focuses[self.number]}.")
        else:
            sentences.append(
                f"That brings this book to a close; the best way to learn {self.subject.topic} "
                "from here is to practise it, a little at a time."
            )
        return " ".join(sentences)

    def _body(self, fewest: int, most: int) -> list[str]:
        pools = [pool for pool, _ in _BODY]
        weights = [weight for _, weight in _BODY]
        count = self.rng.randint(fewest, most)
        return [self._sentence(self.rng.choices(pools, weights)[0]) for _ in range(count)]

    def _sentence(self, pool: Sequence[str]) -> str:
        recent = self.recent.setdefault(id(pool), deque(maxlen=len(pool) // 2))
        template = sentence = ""
        # prefer a shape not used lately; once the plain templates have all been said, a recent
        # shape with fresh slot values beats saying something twice
        for attempt in range(60):
            template = self.rng.choice(pool)
            sentence = _fill(template, self.rng, self.subject, focus=self.focus, sentence=False)
            if sentence not in self.used and (attempt >= 30 or template not in recent):
                break
        recent.append(template)
        self.used.add(sentence)
        if pool is CLAIMS and self.rng.random() < 0.5:
            sentence = self.rng.choice(CONNECTORS) + sentence
        return _capitalise(sentence)


def _angles(rng: random.Random, count: int) -> list[tuple[str, str]]:
    if count == 1:
        return [rng.choice(OPENING_ANGLES)]
    middle = list(MIDDLE_ANGLES)
    rng.shuffle(middle)
    facets = list(FACETS)
    rng.shuffle(facets)
    while len(middle) < count - 2:
        # past the stock of angles, each further chapter takes a facet of the topic
        facet = facets.pop()
        title, focus = rng.choice(FACET_TITLES)
        middle.append((title.replace("{Facet}", facet.title()), focus.replace("{facet}", facet)))
    return [rng.choice(OPENING_ANGLES), *middle[: count - 2], rng.choice(CLOSING_ANGLES)]


def _fill(
    template: str, rng: random.Random, subject: Subject, *, focus: str = "", sentence: bool = True
) -> str:
    """Fill each ``{slot}``; a capitalised slot name capitalises its value."""
    values: dict[str, str] = {}
    pick: dict[str, Callable[[], str]] = {
        "topic": lambda: subject.topic,
        "aud": lambda: subject.audience,
        "focus": lambda: focus,
        "person": lambda: rng.choice(PEOPLE),
        "person2": lambda: rng.choice([p for p in PEOPLE if p != values.get("person")]),
        "role": lambda: rng.choice(ROLES),
        "place": lambda: rng.choice(PLACES),
        "time": lambda: rng.choice(TIMES),
        "quality": lambda: rng.choice(QUALITIES),
        "outcome": lambda: rng.choice(OUTCOMES),
        "obstacle": lambda: rng.choice(OBSTACLES),
        "action": lambda: rng.choice(ACTIONS),
        "facet": lambda: rng.choice(FACETS),
        "number": lambda: rng.choice(NUMBERS),
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "Topic":
            return subject.title
        key = name.lower()
        if key not in values:
            values[key] = pick[key]()
        value = values[key]
        return _capitalise(value) if name[0].isupper() else value

    text = _articles(_SLOT.sub(replace, template))
    return _capitalise(text) if sentence else text


def _articles(text: str) -> str:
    """'a' before a vowel sound becomes 'an' (not before 'use', 'uni', 'euro': a useful...)."""
    return _A_BEFORE_VOWEL.sub(lambda m: m.group(1) + "n ", text)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _decapitalise(text: str) -> str:
    return text[:1].lower() + text[1:]


def _title_case(text: str) -> str:
    words = text.split()
    return " ".join(
        word
        if (index and word.lower() in _SMALL_WORDS) or not word[:1].islower()
        else word[:1].upper() + word[1:]
        for index, word in enumerate(words)
    )


def _audience(request: BookRequest) -> str:
    if not request.audience:
        return "curious readers"
    audience = request.audience
    first = audience.split(" ", 1)[0]
    return audience[:1].lower() + audience[1:] if first in ("The", "A", "An", "All") else audience


def _words(paragraphs: Sequence[str]) -> int:
    return sum(len(paragraph.split()) for paragraph in paragraphs)
