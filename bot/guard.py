"""Safety routing before retrieval: situations happening now (urgent) and requests we must decline.

These are deliberately explicit patterns, not a learned model: a person in danger must get the
urgent script every time (recall first), and a maintainer must be able to read why a question was
declined. The dense-retrieval signal in :mod:`bot.engine` backs up the urgent patterns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.corpus import fold

Situation = Literal["door", "work", "detained"]

#: Position of each script in the urgent document (its sections, in order).
SCRIPT_INDEX: dict[Situation, int] = {"door": 0, "work": 1, "detained": 2}


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_IMMIGRATION = _rx(
    r"\bice\b",
    r"\bimmigration\b",
    r"\bagents?\b",
    r"\bfederal(?:es)?\b",
    r"\bfeds\b",
    r"\bmigra\b",
    r"\bmigracion\b",
    r"\bagentes?\b",
    r"\bdhs\b",
    r"\bcbp\b",
    r"\bborder patrol\b",
    r"\bla inmigracion\b",
)
_OFFICERS = _rx(r"\bofficers?\b", r"\bpolice\b", r"\bcops?\b", r"\bpolicias?\b", r"\boficiales\b")
_LOCAL_POLICE = _rx(
    r"\bcpd\b",
    r"\bby (?:the )?(?:chicago )?(?:police|cops)\b",
    r"\bpolicia de chicago\b",
    r"\b(?:lo|la|los|las|me) (?:agarro|detuvo|arresto|paro) la policia\b",
    r"\bsheriff\b",
)
_STRONG_NOW = _rx(
    r"\bright now\b",
    r"\brn\b",
    r"\bahorita\b",
    r"\bahora mismo\b",
    r"\ben este momento\b",
    r"\bknock(?:ing)?\b",
    r"\bbanging\b",
    r"\btocando\b",
    r"\bgolpeando\b",
    r"\b(?:is|are|r|s|re)\s+(?:here|outside|at|in front|inside|knocking|banging|raiding|"
    r"entering|coming in|trying)\b",
    r"\bthere (?:is|are|s|re) (?:ice|immigration|agents?|officers|feds)\b",
    r"\besta(?:n)? (?:aqui|afuera|en|enfrente|tocando|golpeando|entrando|adentro)\b",
    r"\bhay (?:agentes|migra|ice|federales|policias?|oficiales)\b",
    r"\bacaban? de\b",
    r"\bjust (?:got )?(?:took|taken|arrested|detained|picked up|grabbed)\b",
)
_WEAK_NOW = _rx(
    r"\bnow\b",
    r"\bahora\b",
    r"\bhere\b",
    r"\baqui\b",
    r"\bafuera\b",
    r"\boutside\b",
    r"\bllegaron\b",
    r"\bllego\b",
    r"\bvinieron\b",
    r"\bvino\b",
    r"\bcame\b",
    r"\bshowed up\b",
    r"\bat my (?:door|work|job)",
    r"\ben mi (?:puerta|casa|trabajo)\b",
)
_TAKEN = _rx(
    r"\b(?:took|taken|arrested|detained|picked up|grabbed|got) (?:away )?"
    r"(?:my|our|his|her|their)\b",
    r"\b(?:took|taken|arrested|detained|picked up|grabbed) (?:him|her|them)\b",
    r"\b(?:was|were|got|been|just) (?:just )?(?:taken|arrested|detained|picked up|grabbed)\b",
    r"\bse (?:lo|la|los|las) llevaron\b",
    r"\bse llevaron a\b",
    r"\b(?:detener|arrestar|agarrar|llevar|levantar)(?:se)? a (?:mi|mis|nuestro|nuestra|su|sus)\b",
    r"\b(?:detuvieron|arrestaron|agarraron|levantaron|llevaron|deportaron|detuvo|arresto|agarro|"
    r"levanto|llevo) a (?:mi|mis|nuestro|nuestra|su|sus)\b",
    r"\b(?:lo|la|los|las) (?:detuvieron|arrestaron|agarraron|levantaron|detuvo|arresto|agarro)\b",
    r"\b(?:esta|estan|fue|fueron) (?:detenid[oa]s?|arrestad[oa]s?)\b",
)
_HYPOTHETICAL = _rx(
    r"\bif\b",
    r"\bwhat happens\b",
    r"\bsomeday\b",
    r"\bever\b",
    r"\bin the future\b",
    r"\bcould\b",
    r"\bwould\b",
    r"\bcan (?:ice|immigration|they|agents|police|cops)\b",
    r"\blast (?:week|month|year|time|night|monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday)\b",
    r"\b(?:days?|weeks?|months?|years?) ago\b",
    r"\byesterday\b",
    r"\bayer\b",
    r"\bsi (?:llega|llegan|viene|vienen|me|la|el|los|alguna|algun)\b",
    r"\balgun dia\b",
    r"\bque pasa si\b",
    r"\bpasad[oa]\b",
    r"\bhace (?:dias|semanas|meses|anos|un mes|un ano)\b",
    r"\bya se fueron\b",
    r"\bpueden? (?:la migra|ice|los agentes|la policia)\b",
)
_DOOR = _rx(
    r"\bdoor\b",
    r"\bhouse\b",
    r"\bhome\b",
    r"\bapartment\b",
    r"\bapt\b",
    r"\bbuilding\b",
    r"\bknock",
    r"\bpuerta\b",
    r"\bcasa\b",
    r"\bdepartamento\b",
    r"\bdepa\b",
    r"\btocando\b",
    r"\bedificio\b",
    r"\bporch\b",
    r"\bwindow\b",
    r"\bventana\b",
)
_WORK = _rx(
    r"\bwork\b",
    r"\bjob\b",
    r"\bworkplace\b",
    r"\bfactory\b",
    r"\brestaurant\b",
    r"\bshop\b",
    r"\bstore\b",
    r"\bsite\b",
    r"\btrabajo\b",
    r"\bchamba\b",
    r"\bfabrica\b",
    r"\brestaurante\b",
    r"\btienda\b",
    r"\bobra\b",
    r"\bempresa\b",
    r"\bwarehouse\b",
    r"\bbodega\b",
)


@dataclass(frozen=True)
class UrgentMatch:
    """An urgent situation and which script fits it."""

    situation: Situation


def detect_urgent(question: str) -> UrgentMatch | None:
    """Recognise a situation happening now; ``None`` for general or hypothetical questions."""
    text = fold(question)
    immigration = bool(_IMMIGRATION.search(text))
    strong = bool(_STRONG_NOW.search(text))
    hypothetical = bool(_HYPOTHETICAL.search(text))
    if _LOCAL_POLICE.search(text) and not strong:
        return None  # an arrest by local police is answered from the documents
    if _TAKEN.search(text) and (immigration or strong) and (strong or not hypothetical):
        return UrgentMatch("detained")
    present = strong or (_WEAK_NOW.search(text) and not hypothetical)
    if not present or not (immigration or (_OFFICERS.search(text) and strong)):
        return None
    if _WORK.search(text) and not _DOOR.search(text):
        return UrgentMatch("work")
    return UrgentMatch("door")


_DECLINE = _rx(
    # forged or borrowed papers and identities
    r"\b(?:buy|get|make|sell|where|who|comprar|conseguir|hacer|sacar|donde|quien|venden?)\b.*"
    r"\b(?:fake|false|forged?|fraudulent|counterfeit|phony|chuec[oa]s?|falsos?|falsas?|"
    r"clonad[oa]s?)\b",
    r"\b(?:buy|get|make|comprar|conseguir|hacer)\b.*\b(?:ssn|social security number|numero de "
    r"seguro social|seguro social)\b.*\b(?:someone|somebody|another|otra persona|alguien|ajeno)\b",
    r"\b(?:someone else'?s|somebody else'?s|another person'?s|de otra persona|de alguien mas)\b.*"
    r"\b(?:ssn|social|papers?|id|documents?|papeles|documentos?|seguro|identidad|identity)\b",
    r"\b(?:use|usar)\b.*\b(?:ssn|social security|seguro social)\b.*\b(?:not mine|that isn'?t mine|"
    r"de otro|de otra|ajeno|prestado)\b",
    # someone else's status or identity, reporting people
    r"\b(?:is|are|if) (?:my |our |the |this |that )?(?:neighbou?r|coworker|co-worker|boss|tenant|"
    r"roommate|classmate|employee|worker|landlord|friend|guy|lady|man|woman|family)s?\b.*"
    r"\b(?:undocumented|illegal|legal|citizen|status|papers)\b",
    r"\b(?:find out|check|know|tell|see|look up|verify)\b.*\b(?:someone|somebody|neighbou?r|"
    r"coworker|co-worker|tenant|employee|person|he|she|they)\b.*\b(?:undocumented|illegal|status|"
    r"papers|citizen)\b",
    r"\b(?:report|turn in|snitch on|denounce)\b.*\b(?:neighbou?r|coworker|co-worker|tenant|"
    r"employee|worker|roommate|illegals?|undocumented)s?\b",
    r"\bcall (?:ice|immigration|la migra) on\b",
    r"\b(?:use|usar|borrow)\b.*\b(?:cousin|friend|brother|sister|someone|somebody|another|other|"
    r"primo|prima|amigo|amiga|hermano|hermana|alguien|otra persona)'?s?\b.*\b(?:ssn|social "
    r"security|seguro social|papers|papeles|id|identity|identidad|name|nombre)\b",
    r"\b(?:reportar|denunciar|acusar|echarle la migra|llamar a la migra)\b.*\b(?:vecin[oa]s?|"
    r"companer[oa]s?|inquilin[oa]s?|emplead[oa]s?|alguien|persona|el|ella|ellos)\b",
    r"\b(?:vecin[oa]|companer[oa]|inquilin[oa]|emplead[oa]|jefe|patron)s?\b.*\b(?:es|son|esta|"
    r"estan|tiene|tienen)\b.*\b(?:ilegal(?:es)?|indocumentad[oa]s?|papeles|estatus|ciudadan[oa])\b",
    r"\b(?:saber|averiguar|checar|investigar)\b.*\b(?:si|el estatus|los papeles)\b.*\b(?:vecin|"
    r"companer|inquilin|emplead|alguien|persona)\w*",
    # harming or exposing people
    r"\b(?:home|house) address\b.*\b(?:agent|officer|ice|judge|cop)\b",
    r"\b(?:agent|officer|ice|judge|cop)s?'?\b.*\b(?:home|house) address\b",
    r"\b(?:direccion|domicilio|casa)\b.*\b(?:agente|oficial|juez|policia)\b",
    r"\b(?:dox+|doxx?ing)\b",
    r"\b(?:hurt|attack|kill|shoot|beat up|lastimar|atacar|matar|golpear|dispararle)\b.*"
    r"\b(?:agents?|officers?|ice|cops?|police|agentes?|oficiales|policias?|migra|someone|alguien)\b",
    r"\bhide from (?:ice|immigration|la migra)\b.*\b(?:someone|another|ssn|identity|papers|name)\b",
    r"\b(?:smuggle|smuggling|coyote|traffick|pasar gente|meter gente|cruzar gente)\b",
    r"\b(?:marry|casarme|casarse)\b.*\b(?:for (?:papers|a green card)|por (?:papeles|la mica))\b",
)


def should_decline(question: str) -> bool:
    """Requests for harm, fraud, or someone else's status or identity."""
    return bool(_DECLINE.search(fold(question)))
