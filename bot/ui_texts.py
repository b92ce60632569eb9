"""Fixed texts of the chat front ends (Telegram and the terminal chat), in English and Spanish.

Plain text only: each front end escapes or formats them itself, so the terminal shows exactly
what Telegram shows. Answers to questions come from the engine, never from here.
"""

from __future__ import annotations

from bot.texts import DEFAULT, HOTLINE, SUPPORTED

AG_HOTLINE = "1-877-581-3692"
LEGAL_DIRECTORY = "https://www.immigrationadvocates.org/legaldirectory/"

LANGUAGE_NAMES = {"en": "English", "es": "Español"}

_UI: dict[str, dict[str, str]] = {
    "en": {
        "welcome": (
            "Hello. I am KYR Bot (Know Your Rights). I answer questions about your rights as an "
            "immigrant in Chicago, using only checked documents, and I show where each answer "
            "comes from.\n\n"
            "I can: explain your rights with police and immigration agents, what to do in an "
            "emergency, and where to find free help.\n"
            "I cannot: give legal advice about your own case, contact anyone for you, or know "
            "what is happening to a specific person.\n\n"
            "This is general information, not legal advice.\n\n"
            "Privacy: I do not keep your messages, your name or your username. Chats with bots "
            "on Telegram are not end-to-end encrypted, so do not send names, addresses or "
            "documents. Send /privacy to read more.\n\n"
            "Type your question in your own words, or choose a topic."
        ),
        "help": (
            'Type your question in your own words, for example: "Do I have to open the door '
            'to immigration agents?"\n\n'
            "/topics - browse the topics\n"
            "/urgent - what to do right now in an emergency\n"
            "/language - choose English or Spanish\n"
            "/sources - the documents I use and when they were checked\n"
            "/privacy - what I keep and what I do not\n"
            "/forget - delete everything kept about this chat\n\n"
            f"To talk to a person, call the family support hotline: {HOTLINE}. "
            "In an emergency, call 911."
        ),
        "privacy": (
            "What I keep: your language choice and a counter that stops floods of messages, "
            "stored under a scrambled code instead of your chat, name or username; and "
            "anonymous totals of the helpful / not helpful buttons, not linked to anyone.\n\n"
            "What I do not keep: the text of your messages, your name, your username or your "
            "phone number.\n\n"
            "Chats with bots on Telegram are not end-to-end encrypted: Telegram can see them. "
            "Do not send names, addresses, photos of documents or case numbers.\n\n"
            "Send /forget to delete everything kept about this chat."
        ),
        "language_prompt": "Choose your language:",
        "language_chosen": "I will answer in English from now on.",
        "topics_header": "Choose a topic:",
        "sections_header": "Choose a part of this topic:",
        "sources_header": "I answer only from these documents. Each one shows when it was checked:",
        "type_question": (
            "I can only read typed text. Please type your question in a few words, for "
            'example: "What do I do if police stop me?"'
        ),
        "rate_limited": (
            "You have sent many messages in a short time. Please wait a minute and try again. "
            f"If you need help now, call the family support hotline: {HOTLINE}. "
            "In an emergency, call 911."
        ),
        "forgotten": (
            "Done. I deleted everything kept about this chat: your language choice and your "
            "message counter. The anonymous button counts never held anything about you."
        ),
        "unknown_command": "I don't know that command. Send /help to see what I can do.",
        "unknown_link": "I couldn't find that topic. Here are all the topics:",
        "stale_button": "That button no longer works. Send /topics to start again.",
        "feedback_thanks": "Thank you for telling me.",
        "feedback_sorry": (
            "Thank you for telling me. If you need help with your situation, tap "
            '"Talk to a person" or call the family support hotline.'
        ),
        "talk_to_person": (
            "You can talk to a person:\n\n"
            f"Family support hotline (ICIRR): {HOTLINE}\n"
            f"Illinois Attorney General Civil Rights Hotline: {AG_HOTLINE}\n"
            "Emergencies: 911\n"
            "City of Chicago services (not emergencies): 311\n\n"
            "Free or low-cost immigration legal help near you: "
            f"{LEGAL_DIRECTORY}"
        ),
        "btn_topics": "Topics",
        "btn_back": "Back to topics",
        "btn_helpful": "Helpful",
        "btn_not_helpful": "Not helpful",
        "btn_person": "Talk to a person",
        "cmd_start": "Welcome and what I can do",
        "cmd_topics": "Browse the topics",
        "cmd_urgent": "What to do right now in an emergency",
        "cmd_language": "Choose English or Spanish",
        "cmd_help": "How to use this bot",
        "cmd_privacy": "What is kept and what is not",
        "cmd_sources": "The documents and when they were checked",
        "cmd_forget": "Delete everything kept about this chat",
        "admin_stats": (
            "Index: {documents} documents, {chunks} chunks, built {built_at}, model {model}.\n"
            "Feedback: {feedback}"
        ),
        "admin_no_feedback": "none yet",
        "admin_reloaded": "A new index was opened.",
        "admin_unchanged": "The index has not changed.",
        "admin_unavailable": "The index is unavailable: see the logs.",
    },
    "es": {
        "welcome": (
            "Hola. Soy KYR Bot (Conozca sus derechos). Respondo preguntas sobre sus derechos "
            "como inmigrante en Chicago, solo con documentos revisados, y le muestro de dónde "
            "viene cada respuesta.\n\n"
            "Puedo: explicarle sus derechos ante la policía y los agentes de inmigración, qué "
            "hacer en una emergencia y dónde encontrar ayuda gratuita.\n"
            "No puedo: darle asesoría legal sobre su caso, comunicarme con nadie por usted ni "
            "saber qué le pasa a una persona en particular.\n\n"
            "Esto es información general, no asesoría legal.\n\n"
            "Privacidad: no guardo sus mensajes, su nombre ni su nombre de usuario. Los chats "
            "con bots en Telegram no tienen cifrado de extremo a extremo, así que no envíe "
            "nombres, direcciones ni documentos. Envíe /privacy para saber más.\n\n"
            "Escriba su pregunta con sus propias palabras o elija un tema."
        ),
        "help": (
            'Escriba su pregunta con sus propias palabras, por ejemplo: "¿Tengo que abrir la '
            'puerta a los agentes de inmigración?"\n\n'
            "/topics - ver los temas\n"
            "/urgent - qué hacer ahora mismo en una emergencia\n"
            "/language - elegir inglés o español\n"
            "/sources - los documentos que uso y cuándo se revisaron\n"
            "/privacy - qué guardo y qué no\n"
            "/forget - borrar todo lo guardado sobre este chat\n\n"
            f"Para hablar con una persona, llame a la línea de apoyo familiar: {HOTLINE}. "
            "En una emergencia, llame al 911."
        ),
        "privacy": (
            "Lo que guardo: el idioma que eligió y un contador que detiene avalanchas de "
            "mensajes, guardados bajo un código cifrado en lugar de su chat, su nombre o su "
            "nombre de usuario; y totales anónimos de los botones útil / no útil, sin relación "
            "con nadie.\n\n"
            "Lo que no guardo: el texto de sus mensajes, su nombre, su nombre de usuario ni su "
            "número de teléfono.\n\n"
            "Los chats con bots en Telegram no tienen cifrado de extremo a extremo: Telegram "
            "puede verlos. No envíe nombres, direcciones, fotos de documentos ni números de "
            "caso.\n\n"
            "Envíe /forget para borrar todo lo guardado sobre este chat."
        ),
        "language_prompt": "Elija su idioma:",
        "language_chosen": "Desde ahora le responderé en español.",
        "topics_header": "Elija un tema:",
        "sections_header": "Elija una parte de este tema:",
        "sources_header": (
            "Solo respondo con estos documentos. Cada uno muestra cuándo se revisó:"
        ),
        "type_question": (
            "Solo puedo leer texto escrito. Escriba su pregunta en pocas palabras, por ejemplo: "
            '"¿Qué hago si me detiene la policía?"'
        ),
        "rate_limited": (
            "Envió muchos mensajes en poco tiempo. Espere un minuto e intente de nuevo. "
            f"Si necesita ayuda ahora, llame a la línea de apoyo familiar: {HOTLINE}. "
            "En una emergencia, llame al 911."
        ),
        "forgotten": (
            "Listo. Borré todo lo guardado sobre este chat: el idioma que eligió y su contador "
            "de mensajes. Los conteos anónimos de los botones nunca guardaron nada sobre usted."
        ),
        "unknown_command": "No conozco ese comando. Envíe /help para ver lo que puedo hacer.",
        "unknown_link": "No encontré ese tema. Estos son todos los temas:",
        "stale_button": "Ese botón ya no funciona. Envíe /topics para empezar de nuevo.",
        "feedback_thanks": "Gracias por decírmelo.",
        "feedback_sorry": (
            'Gracias por decírmelo. Si necesita ayuda con su situación, toque "Hablar con una '
            'persona" o llame a la línea de apoyo familiar.'
        ),
        "talk_to_person": (
            "Puede hablar con una persona:\n\n"
            f"Línea de apoyo familiar (ICIRR): {HOTLINE}\n"
            "Línea de Derechos Civiles de la Procuraduría General de Illinois: "
            f"{AG_HOTLINE}\n"
            "Emergencias: 911\n"
            "Servicios de la Ciudad de Chicago (no emergencias): 311\n\n"
            "Ayuda legal de inmigración gratuita o de bajo costo cerca de usted: "
            f"{LEGAL_DIRECTORY}"
        ),
        "btn_topics": "Temas",
        "btn_back": "Volver a los temas",
        "btn_helpful": "Útil",
        "btn_not_helpful": "No útil",
        "btn_person": "Hablar con una persona",
        "cmd_start": "Bienvenida y lo que puedo hacer",
        "cmd_topics": "Ver los temas",
        "cmd_urgent": "Qué hacer ahora mismo en una emergencia",
        "cmd_language": "Elegir inglés o español",
        "cmd_help": "Cómo usar este bot",
        "cmd_privacy": "Qué se guarda y qué no",
        "cmd_sources": "Los documentos y cuándo se revisaron",
        "cmd_forget": "Borrar todo lo guardado sobre este chat",
    },
}

COMMANDS = ("start", "topics", "urgent", "language", "help", "privacy", "sources", "forget")


def ui(key: str, lang: str) -> str:
    """The UI text ``key`` in ``lang``, falling back to English (admin texts are English only)."""
    return _UI.get(lang, _UI[DEFAULT]).get(key) or _UI[DEFAULT][key]


def ui_language(*candidates: str | None) -> str:
    """The first candidate the UI is written in, else English."""
    for lang in candidates:
        if lang:
            short = lang.split("-")[0].lower()
            if short in SUPPORTED:
                return short
    return DEFAULT
