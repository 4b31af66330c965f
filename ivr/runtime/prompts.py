"""The engine's own words: retries, hand-offs, voicemail, confirmations and the whisper.

Kept in one place so they read as one voice and stay short (GetHuman R6). Each has its
Spanish text (``es-*`` calls); other languages fall back to English until translated here.
Pure functions of the call and the flow.
"""

from __future__ import annotations

import re

from ivr.flowlang.model import Flow
from ivr.runtime import callcode
from ivr.runtime.events import CallState

CONNECTING = "Connecting you to a person now. Please hold."
CLOSED = "Our team is not available right now."
UNAVAILABLE = "I'm sorry, nobody could take your call just now."
GIVE_UP = "Let me get you to a person who can help."
SORRY_CONFIRM = "Sorry about that. Let's try again."
CALLBACK_GOODBYE = "Thank you. Keep your phone nearby: we will call you back as promised. Goodbye."
_YES = {"yes", "yeah", "yep", "correct", "right", "sure", "that's right", "thats right", "1",
        "sí", "si", "claro", "correcto", "así es", "eso es"}
_NO = {"no", "nope", "wrong", "not really", "incorrect", "2", "incorrecto", "para nada"}
CALLBACK_HELLO = "Hello, we're returning your call, as you asked. Connecting you to a person now."
CALLBACK_MACHINE = ("Hello, this is the call back you asked for. Sorry we missed you: we will "
                    "try again a little later.")
NO_MESSAGE = "Sorry, I didn't get a message."
RECORD_NOW = "Please leave your message after the tone, then press pound."
NO_MESSAGE_GOODBYE = ("We did not get a message, and we have no number to call you back. "
                      "Please call again when you can. Goodbye.")
QUEUE_OFFER = ("If you'd rather not wait, press 1 to keep your place in line and we'll call "
               "you back. Or stay on the line.")
KEEP_PLACE = "No problem. You keep your place in line."
STILL_WAITING = "Thank you for waiting. You keep your place in line."
IN_LINE = "You are in line for the next available person. Please stay on the line."
ASK_NUMBER = ("Please enter the phone number we should call, with the area code, then press "
              "pound.")
NOT_A_NUMBER = "Sorry, that doesn't look like a phone number."
NUMBER_FAILED = "Sorry, that number didn't work. You keep your place in line."
CANT_CALL = "Sorry, we can't call that number back."
CANT_CALL_TODAY = ("Sorry, we can't call that number back today: it has had as many call "
                   "backs as we can make in a day.")
IN_PLACE = "You keep your place in line."

_ES = {
    CONNECTING: "Le comunico con una persona. Por favor, espere.",
    CLOSED: "Nuestro equipo no está disponible en este momento.",
    UNAVAILABLE: "Lo siento, nadie pudo atender su llamada en este momento.",
    GIVE_UP: "Voy a comunicarle con una persona que le pueda ayudar.",
    SORRY_CONFIRM: "Disculpe. Intentémoslo de nuevo.",
    CALLBACK_GOODBYE: "Gracias. Tenga su teléfono a mano: le llamaremos como prometimos. "
                      "Adiós.",
    CALLBACK_HELLO: "Hola, le devolvemos la llamada, como nos pidió. Le comunico con una "
                    "persona.",
    CALLBACK_MACHINE: "Hola, le devolvemos la llamada que nos pidió. Lamentamos no encontrarle: "
                      "volveremos a intentarlo un poco más tarde.",
    NO_MESSAGE: "Disculpe, no recibí ningún mensaje.",
    RECORD_NOW: "Por favor, deje su mensaje después del tono y oprima la tecla de número.",
    NO_MESSAGE_GOODBYE: "No recibimos ningún mensaje y no tenemos un número para devolverle "
                        "la llamada. Por favor, llame de nuevo cuando pueda. Adiós.",
    QUEUE_OFFER: "Si prefiere no esperar, oprima 1 para conservar su lugar en la fila y le "
                 "devolveremos la llamada. O permanezca en la línea.",
    KEEP_PLACE: "Entendido. Conserva su lugar en la fila.",
    STILL_WAITING: "Gracias por esperar. Conserva su lugar en la fila.",
    IN_LINE: "Está en la fila para la próxima persona disponible. Por favor, no cuelgue.",
    ASK_NUMBER: "Por favor, marque el número al que debemos llamar, con el código de área, "
                "y luego oprima la tecla de número.",
    NOT_A_NUMBER: "Disculpe, eso no parece un número de teléfono.",
    NUMBER_FAILED: "Disculpe, ese número no funcionó. Conserva su lugar en la fila.",
    CANT_CALL: "Disculpe, no podemos devolver la llamada a ese número.",
    CANT_CALL_TODAY: "Disculpe, hoy ya no podemos devolver más llamadas a ese número.",
    IN_PLACE: "Conserva su lugar en la fila.",
    "Sorry, I didn't hear anything.": "Disculpe, no escuché nada.",
    "Sorry, I didn't get that.": "Disculpe, no le entendí.",
}


def _es(code: str) -> bool:
    return code.lower().startswith("es")


def tr(text: str, code: str) -> str:
    """One of the engine's fixed sentences in language ``code`` (others unchanged)."""
    return _ES.get(text, text) if _es(code) else text


def retry(why: str, count: int, human_keys: tuple[str, ...], code: str = "") -> str:
    """What to say before re-prompting after silence or a miss (gentler, then explicit)."""
    first = tr("Sorry, I didn't hear anything." if why == "no_input" else
               "Sorry, I didn't get that.", code)
    if count >= 2 and human_keys:
        key = human_keys[0]
        if _es(code):
            return f"{first} Puede oprimir {key} en cualquier momento para hablar con una persona."
        return f"{first} You can press {key} at any time to reach a person."
    return first


def confirm(question: str, code: str = "") -> str:
    """The confirmation asked for a plausible but unsure speech match."""
    if _es(code):
        return f"{question} ¿Es correcto? Diga sí u oprima 1, o diga no u oprima 2."
    return f"{question} Is that right? Say yes or press 1, or say no or press 2."


def guess(name: str, phrases: tuple[str, ...], code: str = "") -> str:
    """The question for an unsure match when the intent has no ``confirm:`` line."""
    words = phrases[0] if phrases else name.replace("_", " ")
    return f'Creo que dijo "{words}".' if _es(code) else f'I think you said "{words}".'


def yes_no(answer: str, code: str = "") -> bool | None:
    """True / False for a yes / no answer (words or keys 1/2, English or Spanish), None when
    unclear."""
    words = " ".join(re.sub(r"[^\w\s']", " ", answer.lower()).split())
    first = words.split()[:1]
    if words in _YES or first in (["yes"], ["sí"], ["si"]):
        return True
    if words in _NO or first == ["no"]:
        return False
    return None


def voicemail(promise: str, code: str = "") -> str:
    if _es(code):
        return ("Por favor, deje su nombre, su número y lo que necesita después del tono, y "
                f"oprima la tecla de número. Le devolveremos la llamada {promise}.")
    return ("Please leave your name, number and what you need after the tone, then press "
            f"pound. We will call you back {promise}.")


def offer_callback(code: str = "") -> str:
    """Offered when nobody answered: a call back without leaving a message."""
    if _es(code):
        return ("Para que le devolvamos la llamada a este número, oprima 1. O quédese en la "
                "línea para dejar un mensaje.")
    return ("To get a call back at the number you're calling from, press 1. Or stay on the "
            "line to leave a message.")


def confirm_number(spoken: str) -> str:
    """Asked in the queue before a call back to the number the caller is calling from."""
    return (f"We'll call you back at {spoken}. To confirm, press 1. To use a different "
            "number, press 2.")


def callback_promised(spoken: str, when: str) -> str:
    """Said when the caller leaves the queue for a call back."""
    return f"Thank you. We will call you back at {spoken} {when}."


def callback_confirmed(promise: str, code: str = "") -> str:
    if _es(code):
        return f"Listo. Le devolveremos la llamada a este número {promise}. Adiós."
    return f"Done. We will call you back at this number {promise}. Goodbye."


def voicemail_saved(promise: str, code: str = "") -> str:
    if _es(code):
        return f"Gracias. Su mensaje quedó guardado y le llamaremos {promise}. Adiós."
    return f"Thank you. Your message is saved and we will call you back {promise}. Goodbye."


def whisper(call: CallState, flow: Flow) -> str:
    """What the agent hears before the caller is connected, so nobody is asked twice.

    Only characters XML can carry (a caller's words may hold control characters)."""
    return xml_text(_whisper(call, flow))


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry (controls, lone surrogates)."""
    return _NOT_XML.sub("", text)


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _whisper(call: CallState, flow: Flow) -> str:
    parts = [f"Caller from the {flow.id.replace('-', ' ')} line."]
    if call.callback:
        parts = [f"Callback you promised, from the {flow.id.replace('-', ' ')} line."]
    if call.reason:
        parts.append(f"They said: {call.reason}.")
    where = [p for p in call.path if p in flow.states][-3:]
    if where:
        parts.append("They were at " + ", then ".join(w.replace("_", " ") for w in where) + ".")
    if call.heard and call.heard != call.reason:
        parts.append(f"Last input: {call.heard}.")
    slots = [f"{k.replace('_', ' ')} {v}" for k, v in call.slots.items() if "*" not in v]
    if slots:
        parts.append("They entered " + ", ".join(slots) + ".")
    if call.history:
        parts.append(call.history)
    if call.language:
        parts.append(f"They chose to speak {call.language}.")
    if call.sid:  # the agent finds the call's story in the console by this code
        parts.append(f"Call code {callcode.spoken(callcode.short_code(call.sid))}.")
    return " ".join(parts)
