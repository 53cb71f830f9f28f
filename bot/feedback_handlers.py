"""Confirmations, corrections and privacy commands.

Under each answer: "✅ right" and "✏️ correct it". Correcting offers digit buttons (per position
for numbers) or typing the number. The answer message is edited to show what was recorded.
digitbot.buttons lays the keyboards out and owns their callback data; here they become PTB
objects. Admins name users by the first characters of their salted hash (/feedback and /review
show defaults.USER_HASH_SHOWN of them): /exclude <user> keeps a user's samples out of training.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.context import INTAKE, SETTINGS
from digitbot import buttons, defaults, texts
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
    if press.action is Action.RIGHT:
        await _record(update, context, request_id, pending.text)
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
    """Take a typed number as a correction when the user asked to type it. True if handled."""
    if context.chat_data is None or TYPING_CORRECTION not in context.chat_data:
        return False
    message = update.effective_message
    text = (message.text or "").strip().replace(" ", "") if message else ""
    if not text.isdigit():
        return False
    request_id = context.chat_data.pop(TYPING_CORRECTION)
    outcome, _ = await asyncio.to_thread(
        _store(context).record, request_id, text, user_hash=_user_hash(update, context)
    )
    assert message is not None
    await message.reply_text(outcome_message(outcome, text), do_quote=True)
    return True


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
    await query.answer(note if outcome not in (RecordOutcome.RECORDED, RecordOutcome.HELD) else "")
    message = query.message
    if message is None or outcome not in (RecordOutcome.RECORDED, RecordOutcome.HELD):
        return
    original = getattr(message, "text", None) or ""
    first_line = original.split("\n")[0]
    try:
        await query.edit_message_text(
            f"{first_line}\n{note}",
            reply_markup=keyboard(buttons.answer_markup(request_id, with_feedback=False)),
        )
    except BadRequest as exc:  # e.g. "message is not modified"
        log.debug("could not edit the answer: %s", exc)


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
