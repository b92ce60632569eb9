"""Is a message about a place outside the area this service covers (Chicago, Cook County, Illinois)?

When it is, Chicago and Illinois rules must never be presented as applying there: the engine adds a
one-line caveat and answers only from documents about federal rights or general help. Readable
place lists rather than a model: place names are a closed list, and a guess would either hide the
caveat or put it on a Chicago question.
"""

from __future__ import annotations

import re

from bot.corpus import fold

#: U.S. states other than Illinois, territories and D.C., in English and Spanish spellings.
_STATES = (
    "alabama",
    "alaska",
    "arizona",
    "arkansas",
    "california",
    "colorado",
    "connecticut",
    "delaware",
    "florida",
    "georgia",
    "hawaii",
    "idaho",
    "indiana",
    "iowa",
    "kansas",
    "kentucky",
    "louisiana",
    "luisiana",
    "maine",
    "maryland",
    "massachusetts",
    "michigan",
    "minnesota",
    "mississippi",
    "misisipi",
    "missouri",
    "misuri",
    "montana",
    "nebraska",
    "nevada",
    "new hampshire",
    "nuevo hampshire",
    "new jersey",
    "nueva jersey",
    "new mexico",
    "nuevo mexico",
    "new york",
    "nueva york",
    "north carolina",
    "carolina del norte",
    "north dakota",
    "dakota del norte",
    "ohio",
    "oklahoma",
    "oregon",
    "pennsylvania",
    "pensilvania",
    "rhode island",
    "south carolina",
    "carolina del sur",
    "south dakota",
    "dakota del sur",
    "tennessee",
    "texas",
    "tejas",
    "utah",
    "vermont",
    "virginia",
    "west virginia",
    "virginia occidental",
    "washington state",
    "estado de washington",
    "washington dc",
    "washington d c",
    "wisconsin",
    "wyoming",
    "puerto rico",
)
#: Large cities outside Illinois that residents mention (and the nearby ones across the line).
_CITIES = (
    "new york city",
    "nyc",
    "los angeles",
    "houston",
    "phoenix",
    "philadelphia",
    "filadelfia",
    "san antonio",
    "san diego",
    "dallas",
    "san jose",
    "fort worth",
    "jacksonville",
    "indianapolis",
    "san francisco",
    "seattle",
    "denver",
    "nashville",
    "oklahoma city",
    "el paso",
    "boston",
    "portland",
    "las vegas",
    "detroit",
    "memphis",
    "louisville",
    "baltimore",
    "milwaukee",
    "albuquerque",
    "tucson",
    "fresno",
    "sacramento",
    "atlanta",
    "miami",
    "orlando",
    "tampa",
    "minneapolis",
    "st paul",
    "saint louis",
    "st louis",
    "kansas city",
    "omaha",
    "raleigh",
    "newark",
    "brooklyn",
    "queens",
    "bronx",
    "south bend",
    "kenosha",
    "des moines",
    "cleveland",
    "cincinnati",
    "pittsburgh",
    "salt lake city",
    "new orleans",
    "nueva orleans",
    "mcallen",
    "laredo",
    "brownsville",
    "san juan",
)
#: Places inside the area: a message naming one of these is about here, even if it names
#: another state too ("I moved from Texas to Chicago").
_HERE = (
    "chicago",
    "chicagoland",
    "illinois",
    "cook county",
    "condado de cook",
    "evanston",
    "cicero",
    "berwyn",
    "aurora",
    "elgin",
    "joliet",
    "waukegan",
    "naperville",
    "skokie",
    "oak park",
    "rockford",
    "springfield",
    "peoria",
    "champaign",
    "broadview",
    "melrose park",
    "des plaines",
    "schaumburg",
    "bolingbrook",
    "east st louis",
    "east saint louis",
    "little village",
    "pilsen",
    "la villita",
)


def _norm(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", fold(text)).strip() + " "


def _alternation(names: tuple[str, ...]) -> re.Pattern[str]:
    ordered = sorted(set(names), key=len, reverse=True)
    return re.compile(r" (?:" + "|".join(re.escape(n) for n in ordered) + r") ")


_ELSEWHERE = _alternation(_STATES + _CITIES)
_HERE_RE = _alternation(_HERE)


def outside(text: str) -> bool:
    """True when the message names a place outside Illinois and none inside it."""
    norm = _norm(text)
    if _HERE_RE.search(norm):
        return False
    # "new mexico" counts, "mexico" (the country) does not; "washington" alone is a Chicago street
    return bool(_ELSEWHERE.search(norm))


def mentions_here(text: str) -> bool:
    """True when ``text`` names Chicago, Cook County, Illinois or a place in it."""
    return bool(_HERE_RE.search(_norm(text)))


#: Places in Cook County outside Chicago, and ways of saying "outside the city": Chicago's own
#: ordinance does not reach them (Cook County's and Illinois' rules do).
_SUBURBS = (
    "evanston",
    "cicero",
    "berwyn",
    "skokie",
    "oak park",
    "broadview",
    "melrose park",
    "des plaines",
    "schaumburg",
    "suburbs",
    "suburb",
    "suburban",
    "suburbios",
    "suburbio",
    "outside the city",
    "outside of the city",
    "outside chicago",
    "outside of chicago",
    "fuera de la ciudad",
    "afuera de la ciudad",
    "fuera de chicago",
    "afuera de chicago",
)
#: Places in Illinois outside Cook County, and state-level agencies: only Illinois law (and federal
#: rules) reach them, not Chicago's or Cook County's.
_STATE_ONLY = (
    "aurora",
    "elgin",
    "joliet",
    "waukegan",
    "naperville",
    "rockford",
    "springfield",
    "peoria",
    "champaign",
    "bolingbrook",
    "east st louis",
    "east saint louis",
    "kane county",
    "condado de kane",
    "lake county",
    "condado de lake",
    "dupage",
    "du page",
    "will county",
    "condado de will",
    "mchenry",
    "downstate",
    "state police",
    "policia estatal",
    "policia del estado",
)
_SUBURBS_RE = _alternation(_SUBURBS)
_STATE_ONLY_RE = _alternation(_STATE_ONLY)
_CHICAGO_RE = _alternation(
    ("chicago", "cpd", "chicago police", "pilsen", "little village", "la villita")
)


def local_limits(text: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """Jurisdictions whose local rules do not reach the place a message names, and the places named.

    "Can police in Aurora hold me for ICE?" is about Illinois law, not Chicago's ordinance or Cook
    County's: the engine then skips Chicago and Cook County sections unless their text names the
    place itself (a Chicago section on the 2025 Broadview protests still answers "broadview").
    Empty when the message names Chicago itself or no place.
    """
    norm = _norm(text)
    state = [m.strip() for m in _STATE_ONLY_RE.findall(norm)]
    suburbs = [m.strip() for m in _SUBURBS_RE.findall(norm)]
    without = _SUBURBS_RE.sub(" ", norm)
    if _CHICAGO_RE.search(without) or not (state or suburbs):
        return frozenset(), ()
    if state:
        return frozenset({"Chicago", "Cook County"}), tuple(state + suburbs)
    return frozenset({"Chicago"}), tuple(suburbs)


def reaches(jurisdiction: str, text: str, limits: tuple[frozenset[str], tuple[str, ...]]) -> bool:
    """Whether a section (its jurisdiction, heading and text) speaks to the place a message names."""
    excluded, places = limits
    if jurisdiction not in excluded:
        return True
    norm = _norm(text)
    return any(f" {place} " in norm for place in places)
