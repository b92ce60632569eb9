"""Readable patterns: requests we must decline, and the English/Spanish urgent backstop.

Declines are deliberately explicit patterns: a maintainer must be able to read why a request was
refused, and a refusal is only for requests to harm or expose others (report someone, find an
agent's home, forged papers) and attempts to change the bot's rules. A person threatened by
someone else is never refused. Urgent patterns back up the multilingual nearest-exemplar
classifier of :mod:`bot.urgency` for English and Spanish; their hypothetical cues veto its guesses.
"""

from __future__ import annotations

import re
from typing import Literal

from bot.corpus import fold

Situation = Literal["door", "work", "school", "detained", "stopped", "now"]


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
    r"\binmigracion\b",
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
    r"\b(?:theyre|theyr|thyre|ices|ice|agents|migra|immigration) (?:at|outside|here|in front of|inside|"
    r"knocking|banging) (?:my|our|the|the door|door)?\b",
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
    r"\b(?:el|la) (?:mes|semana|ano) pasad[oa]\b",
    r"\b(?:el|este|on|last|this) (?:lunes|martes|miercoles|jueves|viernes|sabado|domingo|monday|"
    r"tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    r"\bse fueron\b",
    # other languages: "if", "someday", "last week", "yesterday" (readable, not fitted)
    r"如果|要是|万一|以后|将来|上周|上个月|昨天|去年",
    r"만약|만일|나중에|지난주|지난달|어제|작년",
    r"\b(?:якщо|коли-небудь|минулого (?:тижня|місяця|року)|вчора|если|когда-нибудь|на прошлой "
    r"неделе|вчера)\b",
    r"\b(?:jesli|jezeli|gdyby|kiedys|w zeszlym (?:tygodniu|miesiacu|roku)|wczoraj)\b",
    r"(?:^|\s)(?:إذا|اذا|لو|الأسبوع الماضي|الاسبوع الماضي|الشهر الماضي|أمس|امبارح|مبارح)(?:\s|$)",
    r"(?:^|\s)(?:اگر|پچھلے ہفتے|پچھلے مہینے|अगर|पिछले हफ्ते|पिछले महीने)(?:\s|$)",
    r"\b(?:agar|pichhle hafte|pichle hafte|kabhi)\b",
    r"\b(?:kung sakali|kapag|noong isang linggo|kahapon|balang araw)\b",
)
#: "If they are knocking ...": a present-tense scene inside a condition is still hypothetical.
_CONDITIONAL_NOW = _rx(
    r"\b(?:if|when|whenever) (?:\w+ ){0,3}(?:is|are|s|re|r) (?:knocking|banging|here|outside|at)\b",
    r"\b(?:si|cuando) (?:\w+ ){0,3}(?:esta|estan) (?:tocando|golpeando|aqui|afuera|en)\b",
)
#: Said now, whatever else the message says ("they're at the door right now, what if ...").
_RIGHT_NOW = _rx(
    r"现在|正在|马上|지금|\bзараз\b|\bсейчас\b|\bteraz\b|\bwlasnie\b|الآن|هلأ|هلق|دلوقتي|حالا|ابھی|अभी",
    r"\b(?:abhi|ngayon)\b",
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


_SCHOOL = _rx(
    r"\bschool\b",
    r"\bescuela\b",
    r"\bcolegio\b",
    r"\bkinder\b",
    r"\bdaycare\b",
    r"\bguarderia\b",
)
_STOPPED_ME = _rx(
    r"\b(?:stopped|stopping|pulled|pulling|pull|stop) (?:me|us)\b",
    r"\b(?:being|getting|got|been) (?:stopped|pulled over)\b",
    r"\b(?:stopp(?:ed|ing)|pull(?:ed|ing) over|pulled) (?:my|our) (?:car|truck|van|vehicle)\b",
    r"\b(?:pararon|paro|estan parando|detuvieron) (?:mi|nuestro) (?:carro|troca|troka|camioneta|auto)\b",
    r"\bme (?:pararon|paro|estan parando|detuvieron el carro|tienen parad[oa]|detuvo|detuvieron)\b",
    r"\bnos (?:pararon|paro|estan parando)\b",
)


#: Words that place an urgent message, in the languages we have scripts or exemplars for. Checked in
#: this order, so "they took my husband at work" is "detained", not "work".
_PLACES: tuple[tuple[Situation, re.Pattern[str]], ...] = (
    (
        "detained",
        _rx(
            r"\b(?:took|taken|arrested|detained|grabbed|picked up)\b",
            r"\b(?:se (?:lo|la|los|las) llevaron|se llevaron|llevaron|agarraron|detuvieron a|arrestaron)\b",
            r"\b(?:zabral\w*|zatrzymal\w* (?:mojego|moja|mego|brata|meza|zone|syna|corke))\b",
            r"\b(?:забрал\w*|затримал\w*|заарештувал\w*|арестовал\w*)\b",
            r"带走|抓走|抓了|被抓|逮捕|잡아갔|잡혀|체포|연행",
            r"(?:أخذوا|اخذوا|اعتقلوا|قبضوا|مسكوا)",
            r"\b(?:le gaye|pakad\w*|giraftar)\b|ले गए|पकड़|گرفتار|لے گئے|پکڑ",
            r"\b(?:kinuha|dinampot|hinuli|inaresto)\b",
        ),
    ),
    (
        "stopped",
        _rx(
            r"\b(?:car|truck|street|driving|walking|pulled over|traffic stop)\b",
            r"\b(?:carro|troca|troka|calle|manejando|caminando|camioneta)\b",
            r"\b(?:samochod\w*|ulic\w*|zatrzymal\w* mnie|auto)\b",
            r"\b(?:машин\w*|вулиц\w*|зупинил\w*|остановил\w*)\b",
            r"车里|开车|街上|拦住|拦下|차를|운전|길에서|세웠",
            r"(?:سيارة|السيارة|الشارع|أوقفوني|اوقفوني|وقفوني)",
            r"\b(?:gaadi|gadi|roka|sadak)\b|गाड़ी|रोका|سڑک|گاڑی|روکا",
            r"\b(?:kotse|sasakyan|kalye|pinara|hinarang)\b",
        ),
    ),
    (
        "school",
        _rx(
            r"\b(?:school|escuela|colegio|kinder|daycare|guarderia|szkol\w*|школ\w*|skul|eskwela\w*|"
            r"paaralan)\b",
            r"学校|幼儿园|학교|유치원|مدرسة|المدرسة|स्कूल|اسکول",
        ),
    ),
    (
        "work",
        _rx(
            r"\b(?:work|job|workplace|factory|restaurant|warehouse|site|trabajo|chamba|fabrica|"
            r"restaurante|bodega|obra|prac\w*|fabryc\w*|робот\w*|работ\w*|завод\w*|trabaho|kaam)\b",
            r"工作|公司|工厂|餐馆|직장|회사|공장|일터|식당|العمل|الشغل|شغلي|المصنع|काम|کام|فیکٹری",
        ),
    ),
    (
        "door",
        _rx(
            r"\b(?:door|house|home|apartment|apt|building|puerta|casa|depa|departamento|edificio|"
            r"drzwi\w*|dom\w*|mieszkan\w*|двер\w*|будин\w*|дом\w*|квартир\w*|pinto|bahay|"
            r"darwaz\w*|ghar|kumakatok|katok|dastak|knock\w*|tocando|stukaj\w*|pukaj\w*)\b",
            r"门口|家门|敲门|我家|문 앞|문앞|집에|집 앞|الباب|البيت|بيتي|दरवाज|घर|دروازہ|گھر",
        ),
    ),
)


def situation_hint(question: str) -> Situation | None:
    """Where an urgent message places the person, from words in several languages (or None)."""
    texts = (fold(question), question.lower())
    for situation, pattern in _PLACES:
        if any(pattern.search(t) for t in texts):
            return situation
    return None


def is_hypothetical(question: str) -> bool:
    """A "what if", "someday" or past-event cue, or a threat by someone (not an event now), with
    no "right now" cue."""
    # Hangul and CJK are matched on the text as written: folding decomposes Hangul syllables
    texts = (fold(question), question.lower())
    cue = any(_HYPOTHETICAL.search(t) or _THREATENED.search(t) for t in texts)
    now = any(_RIGHT_NOW.search(t) or _STRONG_NOW.search(t) for t in texts)
    return (cue and not now) or bool(_CONDITIONAL_NOW.search(texts[0]))


def detect_urgent(question: str) -> Situation | None:
    """Recognise a situation happening now; ``None`` for general or hypothetical questions."""
    text = fold(question)
    immigration = bool(_IMMIGRATION.search(text))
    strong = bool(_STRONG_NOW.search(text))
    hypothetical = bool(_HYPOTHETICAL.search(text))
    if _LOCAL_POLICE.search(text) and not strong:
        return None  # an arrest by local police is answered from the documents
    if _TAKEN.search(text) and (immigration or strong) and (strong or not hypothetical):
        return "detained"
    if _STOPPED_ME.search(text) and immigration and (strong or not hypothetical):
        return "stopped"
    present = strong or (_WEAK_NOW.search(text) and not hypothetical)
    if not present or not (immigration or (_OFFICERS.search(text) and strong)):
        return None
    if _SCHOOL.search(text):
        return "school"
    if _WORK.search(text) and not _DOOR.search(text):
        return "work"
    if _DOOR.search(text):
        return "door"
    return "now"  # happening now, place unclear: the nearest exemplars choose the script


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
    r"\b(?:direccion|domicilio)\b.{0,40}\b(?:del?|de la|de los)\s+(?:agentes?|oficial(?:es)?|"
    r"juez|policias?|migra)\b",
    r"\b(?:casa|donde vive)\s+(?:del?|de la|de los)\s+(?:agentes?|oficial(?:es)?|juez|policias?)\b",
    r"\bwhere (?:does|do|did) (?:the |that |this )?(?:ice )?(?:agents?|officers?|judge|cops?)\b.*"
    r"\blive\b",
    r"\b(?:dox+|doxx?ing)\b",
    r"\b(?:hurt|attack|kill|shoot|beat up|lastimar|atacar|matar|golpear|dispararle)\b.*"
    r"\b(?:agents?|officers?|ice|cops?|police|agentes?|oficiales|policias?|migra|someone|alguien)\b",
    r"\bhide from (?:ice|immigration|la migra)\b.*\b(?:someone|another|ssn|identity|papers|name)\b",
    r"\b(?:smuggle|smuggling|coyote|traffick|pasar gente|meter gente|cruzar gente)\b",
    # damaging agents' vehicles or exposing agents and people
    r"\b(?:slash\w*|puncture|vandali[sz]e|burn|ponch\w+|quemar\w*|romper\w*)\b.*\b(?:tires?|llantas|"
    r"trucks?|cars?|camionetas?|carros?|vehicles?|vehiculos?)\b",
    r"\b(?:post|publish|share|expose|leak|publicar|compartir|exponer)\b.*\b(?:names?|photos?|pictures?|"
    r"address\w*|nombres?|fotos?|direccion\w*)\b.*\b(?:agents?|officers?|agentes?|oficiales)\b",
    r"\b(?:plates?|placas?|plate number)\b.*\b(?:owner|dueno|name|nombre|address|direccion)\b",
    r"\b(?:illegals?|ilegales|indocumentad[oa]s)\b.*\b(?:tell|report|call|avisar|reportar|llamar|"
    r"denunciar)\b",
    r"\bzglos\w*\b.*\b(?:ice|imigracj\w*|sasiad\w*)\b",
    r"假(?:绿卡|证件|身份|社安)",
    r"\b(?:marry|casarme|casarse)\b.*\b(?:for (?:papers|a green card)|por (?:papeles|la mica))\b",
)


#: Attempts to change the bot's rules or make it play another part.
_RULES = _rx(
    r"\bignore (?:all |any |your |the |previous |prior |above )+(?:instructions|rules|prompts?)\b",
    r"\b(?:system|hidden|initial) prompt\b",
    r"\b(?:forget|disregard|override|bypass) (?:all |your |the |previous )*(?:instructions|rules)\b",
    r"\b(?:you are now|from now on you are|pretend (?:to be|you are)|act as|roleplay as)\b",
    r"\b(?:developer|dan|god) mode\b",
    r"\bjailbreak\b",
    r"\b(?:instrucciones|prompt|reglas) (?:del|de tu) sistema\b",
    r"忽略.{0,10}(?:指令|指示|规则)",
    r"\b(?:olvida|ignora|ignore) (?:tus|las|todas las) (?:instrucciones|reglas)\b",
    r"\b(?:ahora eres|finge que eres|actua como|haz de cuenta que eres)\b",
)
#: The person writing is the one threatened: they are helped, never refused.
_THREATENED = _rx(
    r"\bthreat\w*",
    r"\bamenaz\w*",
    r"\b(?:on|report|turn in|snitch on|denounce|deport) (?:me|us|my (?:family|kids|husband|wife|"
    r"mom|dad|son|daughter))\b",
    r"\b(?:reportarme|denunciarme|echarme|deportarme|reportarnos|denunciarnos|echarnos)\b",
    r"\b(?:me|nos) (?:va|van|quiere|quieren) (?:a )?(?:reportar|denunciar|echar|deportar)\b",
    r"\b(?:says|said|keeps saying|dice|dijo) (?:he|she|they|que)? ?(?:will|would|is going to|"
    r"va a|iba a|gonna)\b.*\b(?:ice|immigration|migra|inmigracion|deport)",
)


#: A request to refuse in any language (see :meth:`bot.urgency.UrgencyClassifier.harm`): its
#: nearest "harm" exemplars (``bot/data/exemplars``) are at most this much further than its nearest
#: other exemplars and question phrasings, AND the linear harm classifier of the policy gives it
#: at least ``HARM_PROBABILITY``. Neither signal alone separates: the margin is close for "how do I
#: report ICE on my street", the classifier high for "how can I tell if a judge signed it". Set by
#: hand on dev: no other dev message passes both, and every dev request both catch is also one the
#: patterns refuse (9 of 18); the patterns stay the English/Spanish backstop.
HARM_MARGIN = -0.02
HARM_PROBABILITY = 0.6


def threatened(question: str) -> bool:
    """The person writing is the one threatened ("my ex says he'll call ICE on me"): they are
    helped, never refused."""
    return bool(_THREATENED.search(fold(question)))


def should_decline(question: str) -> bool:
    """Requests to harm or expose others, forged papers, or attempts to change the bot's rules."""
    text = fold(question)
    if _RULES.search(text):
        return True
    if threatened(question):
        return False
    return bool(_DECLINE.search(text))
