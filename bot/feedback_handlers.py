"""Confirmations, corrections and privacy commands.

Under each answer: "✅ right" and "✏️ correct it". Correcting offers digit buttons (per position
for numbers) or typing the number, which may have more or fewer digits than were read; a number
sent in reply to an answer corrects it as well. The answer message is edited to show what was
recorded. An album's answer has a row of buttons per photo: ✏️ opens that photo's correction
keyboard in a message of its own, and a recorded photo loses its ✅ / ✏️ there.
digitbot.buttons lays the keyboards out and owns their callback data; here they become PTB
objects. Admins name users by the first characters of their salted hash (/feedback and /review
show defaults.USER_HASH_SHOWN of them): /exclude <user> keeps a user's samples out of training.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.context import INTAKE, SETTINGS
from digitbot import buttons, defaults, texts
from digitbot.albums import album_line
from digitbot.buttons import Action
from digitbot.feedback import FeedbackStore, RecordOutcome, outcome_message
from digitbot.intake import PhotoIntake
from digitbot.retrain import describe_corrections, last_training
from digitbot.settings import Settings

log = logging.getLogger(__name__)

TYPING_CORRECTION = "typing-correction"


def _store(context: ContextTypes.DEFAULT_TYPE) -> FeedbackStore:
    intake: PhotoIntake = context.bot_data[INTAKE]
    return FeedbackStore(intake.connection)


def _shown(user_hash: str) -> str:
    """The leading characters of a user's hash that admins see and type."""
    return user_hash[: defaults.USER_HASH_SHOWN]


def _user_hash(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    intake: PhotoIntake = context.bot_data[INTAKE]
    user = update.effective_user
    return intake.user_hash(user.id) if user else ""


def keyboard(markup: dict[str, Any]) -> InlineKeyboardMarkup:
    """A digitbot.buttons markup as the PTB object that edits and replies take."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row]
            for row in markup["inline_keyboard"]
        ]
    )


async def on_feedback_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Route the ✅ / ✏️ buttons under an answer and the correction keyboards they open."""
    query = update.callback_query
    assert query is not None
    press = buttons.parse_callback_data(query.data)
    assert press is not None  # the handler's pattern (bot.app) passes only feedback presses
    request_id = press.target
    store = _store(context)
    pending = await asyncio.to_thread(store.pending, request_id)
    if pending is None:
        await query.answer(texts.FEEDBACK_EXPIRED, show_alert=True)
        return
    in_album = query.message is not None and is_album_answer(query.message)
    if press.action is Action.RIGHT:
        await _record(update, context, request_id, pending.text)
    elif press.action is Action.CORRECT and in_album:
        await query.answer()
        await _open_album_correction(update, context, request_id, pending.text)
    elif press.action is Action.CORRECT:
        await query.answer()
        await _edit_markup(update, buttons.correction_markup(request_id, pending.text))
    elif press.action is Action.POSITION:
        await query.answer()
        await _edit_markup(update, buttons.digit_markup(request_id, press.position, press.digits))
    elif press.action is Action.DIGIT:
        corrected = press.corrected()
        if len(corrected) == 1:
            await _record(update, context, request_id, corrected)
            return
        await query.answer()
        await _edit_markup(update, buttons.correction_markup(request_id, corrected))
    elif press.action is Action.SAVE:
        await _record(update, context, request_id, press.digits)
    elif press.action is Action.TYPE:
        assert context.chat_data is not None
        context.chat_data[TYPING_CORRECTION] = request_id
        await query.answer()
        message = query.message
        if message is not None:
            await context.bot.send_message(message.chat.id, texts.TYPE_CORRECTION)


async def on_typed_correction(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Take a typed number as a correction: sent in reply to one of the bot's answers (as the
    ✏️ button would), or after "⌨️ type it". True if handled."""
    message = update.effective_message
    if message is None:
        return False
    text = (message.text or "").strip().replace(" ", "")
    if not (text.isascii() and text.isdigit()):
        return False
    replied = message.reply_to_message
    if replied is not None and _is_our_answer(context, replied):
        await _correct_by_reply(update, context, replied, text)
        return True
    if context.chat_data is None or TYPING_CORRECTION not in context.chat_data:
        return False
    request_id = context.chat_data.pop(TYPING_CORRECTION)
    outcome, _ = await asyncio.to_thread(
        _store(context).record, request_id, text, user_hash=_user_hash(update, context)
    )
    await message.reply_text(outcome_message(outcome, text), do_quote=True)
    return True


def is_album_answer(message: MaybeInaccessibleMessage) -> bool:
    """True for the answer to an album (a line and a row of buttons per photo)."""
    text = getattr(message, "text", None) or ""
    return text.startswith(album_line(1, "")) or len(buttons.answer_targets(_markup(message))) > 1


def _is_our_answer(context: ContextTypes.DEFAULT_TYPE, message: Message) -> bool:
    """True for a message of this bot that carries an answer's buttons."""
    sender = message.from_user
    return (
        sender is not None
        and sender.id == context.bot.id
        and bool(buttons.answer_targets(_markup(message)))
    )


def _markup(message: MaybeInaccessibleMessage | None) -> dict[str, Any] | None:
    markup = getattr(message, "reply_markup", None)
    return markup.to_dict() if markup is not None else None


async def _correct_by_reply(
    update: Update, context: ContextTypes.DEFAULT_TYPE, answer: Message, label: str
) -> None:
    """A number sent in reply to an answer: the right reading of the photo it answers."""
    message = update.effective_message
    assert message is not None
    targets = buttons.answer_targets(_markup(answer))
    if len(targets) > 1:
        await message.reply_text(texts.REPLY_TO_ALBUM, do_quote=True)
        return
    outcome, sample = await asyncio.to_thread(
        _store(context).record, targets[0], label, user_hash=_user_hash(update, context)
    )
    note = outcome_message(
        outcome, label, confirmed=sample is not None and sample.kind == "confirmed"
    )
    await message.reply_text(note, do_quote=True)
    if outcome in (RecordOutcome.RECORDED, RecordOutcome.HELD):
        await _show_recorded(context, answer, targets[0], note)


async def _open_album_correction(
    update: Update, context: ContextTypes.DEFAULT_TYPE, request_id: str, digits: str
) -> None:
    """✏️ beside one photo of an album: its correction keyboard, in a message of its own that
    replies to the album's answer (the answer keeps the other photos' buttons)."""
    query = update.callback_query
    assert query is not None and query.message is not None
    number = buttons.button_number(_markup(query.message), str(query.data)) or "?"
    await context.bot.send_message(
        query.message.chat.id,
        texts.ALBUM_CORRECTING.format(number=number, digits=digits),
        reply_markup=keyboard(buttons.correction_markup(request_id, digits)),
        reply_parameters=ReplyParameters(query.message.message_id),
    )


async def _record(
    update: Update, context: ContextTypes.DEFAULT_TYPE, request_id: str, label: str
) -> None:
    query = update.callback_query
    assert query is not None
    outcome, sample = await asyncio.to_thread(
        _store(context).record, request_id, label, user_hash=_user_hash(update, context)
    )
    note = outcome_message(
        outcome, label, confirmed=sample is not None and sample.kind == "confirmed"
    )
    message = query.message
    recorded = outcome in (RecordOutcome.RECORDED, RecordOutcome.HELD)
    # In an album's answer the note shows as a toast: the answer's text is every photo's.
    in_album = message is not None and is_album_answer(message)
    await query.answer(note if not recorded or in_album else "")
    if message is None or not recorded:
        return
    await _show_recorded(context, message, request_id, note)
    replied_to = getattr(message, "reply_to_message", None)
    if replied_to is not None and is_album_answer(replied_to):  # an album photo's correction
        await _edit_keyboard(
            context, replied_to, buttons.without_feedback(_markup(replied_to), request_id)
        )


async def _show_recorded(
    context: ContextTypes.DEFAULT_TYPE, answer: MaybeInaccessibleMessage, request_id: str, note: str
) -> None:
    """Show on the answer that its feedback is recorded: the note under its first line and no
    ✅ / ✏️ any more; in an album's answer, only that photo's buttons go."""
    if is_album_answer(answer):
        await _edit_keyboard(context, answer, buttons.without_feedback(_markup(answer), request_id))
        return
    first_line = (getattr(answer, "text", None) or "").split("\n")[0]
    try:
        await context.bot.edit_message_text(
            f"{first_line}\n{note}",
            chat_id=answer.chat.id,
            message_id=answer.message_id,
            reply_markup=keyboard(buttons.answer_markup(request_id, with_feedback=False)),
        )
    except BadRequest as exc:  # e.g. "message is not modified"
        log.debug("could not edit the answer: %s", exc)


async def _edit_keyboard(
    context: ContextTypes.DEFAULT_TYPE, message: MaybeInaccessibleMessage, markup: dict[str, Any]
) -> None:
    try:
        await context.bot.edit_message_reply_markup(
            chat_id=message.chat.id, message_id=message.message_id, reply_markup=keyboard(markup)
        )
    except BadRequest as exc:
        log.debug("could not edit the keyboard: %s", exc)


async def _edit_markup(update: Update, markup: dict[str, Any]) -> None:
    query = update.callback_query
    assert query is not None
    try:
        await query.edit_message_reply_markup(reply_markup=keyboard(markup))
    except BadRequest as exc:
        log.debug("could not edit the keyboard: %s", exc)


async def forget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Delete everything stored for this user."""
    removed = await asyncio.to_thread(_store(context).forget_user, _user_hash(update, context))
    message = update.effective_message
    if message is not None:
        await message.reply_text(texts.FORGOTTEN.format(count=removed), do_quote=True)


async def privacy(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain what is kept."""
    message = update.effective_message
    if message is not None:
        await message.reply_text(texts.PRIVACY, do_quote=True)


async def _admin_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Message | None:
    """The command's message when its sender is an admin; otherwise refuse politely."""
    settings: Settings = context.bot_data[SETTINGS]
    message = update.effective_message
    user = update.effective_user
    if message is None:
        return None
    if not settings.is_admin(user.id if user else None):
        await message.reply_text(texts.ADMIN_ONLY, do_quote=True)
        return None
    return message


async def feedback_summary(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admins: counts, recent corrections, per-version accuracy on corrected samples."""
    message = await _admin_message(update, context)
    if message is None:
        return
    summary = await asyncio.to_thread(_store(context).summary)
    kinds = summary["by_kind"]
    lines = [
        f"Feedback samples: {summary['total']} "
        f"({kinds['confirmed']} confirmed, {kinds['corrected']} corrected)",
        "Status: " + ", ".join(f"{k} {v}" for k, v in summary["by_status"].items()),
    ]
    for version, row in summary["per_version"].items():
        lines.append(
            f"{version}: {100 * row['accuracy']:.1f}% right "
            f"({row['confirmed']} ✅ / {row['corrected']} ✏️)"
        )
    for item in summary["recent_corrections"][:5]:
        lines.append(
            f"• {item['predicted']} → {item['label']} ({item['status']}, "
            f"user {_shown(item['user_hash'])})"
        )
    outcome = await asyncio.to_thread(last_training, _store(context).connection)
    if outcome and "corrections" in outcome:
        lines.append(
            f"Last retraining ({outcome['version']}, {outcome['outcome']}): "
            + describe_corrections(outcome["corrections"])
        )
    await message.reply_text("\n".join(lines), do_quote=True)


async def review(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admins: list samples held for review, with accept/reject buttons."""
    message = await _admin_message(update, context)
    if message is None:
        return
    held = await asyncio.to_thread(_store(context).samples, status="held", limit=5)
    if not held:
        await message.reply_text(texts.NOTHING_HELD, do_quote=True)
        return
    for sample in held:
        text = texts.REVIEW_ITEM.format(
            version=sample.model_version,
            predicted=sample.predicted,
            user=_shown(sample.user_hash),
            label=sample.label,
        )
        await message.reply_text(
            text, reply_markup=keyboard(buttons.review_markup(sample.sample_id))
        )


async def on_review_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admins accept or reject a held sample."""
    settings: Settings = context.bot_data[SETTINGS]
    query = update.callback_query
    assert query is not None
    press = buttons.parse_callback_data(query.data)
    assert press is not None  # the handler's pattern (bot.app) passes only review presses
    user = update.effective_user
    if not settings.is_admin(user.id if user else None):
        await query.answer(texts.ADMIN_ONLY, show_alert=True)
        return
    done = await asyncio.to_thread(_store(context).review, press.target, accept=press.accept)
    await query.answer(texts.REVIEW_DONE if done else texts.REVIEW_ALREADY_DONE)
    if done:
        reviewed = texts.REVIEW_ACCEPTED if press.accept else texts.REVIEW_REJECTED
        await query.edit_message_text(reviewed.format(sample=press.target[:8]))


async def exclude(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admins: keep a user's samples (stored and future) out of training."""
    await _moderate_user(update, context, "exclude")


async def include(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admins: lift an exclusion; the user's samples get their status back."""
    await _moderate_user(update, context, "include")


async def _moderate_user(update: Update, context: ContextTypes.DEFAULT_TYPE, command: str) -> None:
    message = await _admin_message(update, context)
    if message is None:
        return
    prefix = (context.args[0] if context.args else "").strip().lower()
    if len(prefix) < defaults.USER_HASH_SHOWN:
        usage = texts.USER_USAGE.format(command=command, min_chars=defaults.USER_HASH_SHOWN)
        await message.reply_text(usage, do_quote=True)
        return
    store = _store(context)
    users = await asyncio.to_thread(store.users_matching, prefix)
    if len(users) != 1:
        text = (
            texts.NO_SUCH_USER.format(prefix=prefix)
            if not users
            else texts.AMBIGUOUS_USER.format(count=len(users), prefix=prefix)
        )
        await message.reply_text(text, do_quote=True)
        return
    shown = _shown(users[0])
    if command == "exclude":
        count = await asyncio.to_thread(store.exclude_user, users[0])
        text = texts.USER_EXCLUDED.format(user=shown, count=count)
    else:
        count = await asyncio.to_thread(store.include_user, users[0])
        text = texts.USER_INCLUDED.format(user=shown, count=count)
    log.info("admin %s: user %s, %d samples", command, shown, count)
    await message.reply_text(text, do_quote=True)
