"""Which numbers a callback may ring (pure: the web layer passes what needs Redis).

A number the engine would promise to call back is refused when:

- its country is not allowed: ``Options.callback_regions`` (the ``callback_countries``
  setting), else the country of the flow's ``human.dial`` number, else the US;
- its line is not a plain one: only fixed-line and mobile numbers are rung
  (:data:`~ivr.flowlang.phone.CALLABLE_TYPES`), never premium-rate, shared-cost,
  toll-free, VoIP or personal numbers, which cost us money or reach no person;
- it, or the caller, already had ``callback_max_per_day`` callbacks promised today: the web
  layer counts them in Redis and passes the numbers over the limit in
  ``Options.callback_over_limit`` (the engine does no I/O).

A refused number is never a dead end: the caller hears why (:func:`refusal_prompt`) and
keeps their place in line, or is offered voicemail and the person again.
"""

from __future__ import annotations

from ivr.flowlang import phone
from ivr.flowlang.model import Flow
from ivr.runtime import prompts
from ivr.runtime.work import Options, Work

COUNTRY, LINE, LIMIT = "country", "line", "limit"


def regions(flow: Flow, options: Options) -> tuple[str, ...]:
    """The countries callbacks may ring for ``flow``."""
    if options.callback_regions:
        return options.callback_regions
    own = phone.region_code(flow.human.dial) if flow.human.dial else ""
    return (own or phone.DEFAULT_REGION,)


def refusal(number: str, flow: Flow, options: Options) -> str:
    """Why ``number`` (E.164) may not be called back ('' when it may)."""
    if phone.region_code(number) not in regions(flow, options):
        return COUNTRY
    if phone.line_type(number) not in phone.CALLABLE_TYPES:
        return LINE
    if number in options.callback_over_limit:
        return LIMIT
    return ""


def callable_number(number: str, flow: Flow, options: Options) -> str:
    """``number`` when a callback may ring it, else ''."""
    return number if number and not refusal(number, flow, options) else ""


def refusal_prompt(why: str) -> str:
    """What the caller hears when their number is refused."""
    return prompts.CANT_CALL_TODAY if why == LIMIT else prompts.CANT_CALL


def own_number(t: Work) -> str:
    """The caller's own number when a callback may ring it, else ''."""
    return callable_number(phone.valid_number(t.call.caller), t.flow, t.options)


def refuse(t: Work, number: str) -> bool:
    """Say why ``number`` may not be called back and return True; False when it may."""
    why = refusal(number, t.flow, t.options)
    if why:
        t.say(refusal_prompt(why))
    return bool(why)
