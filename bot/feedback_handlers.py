"""Confirmations, corrections and privacy commands.

Under each answer: "✅ right" and "✏️ correct it". Correcting offers digit buttons (per position
for numbers) or typing the number. The answer message is edited to show what was recorded.
Callback data (at most 64 bytes): ok:<rid>, fix:<rid>, pos:<rid>:<i>:<candidate>,
dig:<rid>:<i>:<candidate>:<d>, lbl:<rid>:<label>, type:<rid>, rv:<sample>:<1|0>.
Admins name users by the first characters of their salted hash (/feedback and /review show
USER_HASH_SHOWN of them): /exclude <user> keeps a user's samples out of training.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot import messages
from bot.context import INTAKE, SETTINGS
from bot.intake import PhotoIntake
from digitbot.feedback import FeedbackStore, RecordOutcome
from digitbot.retrain import describe_corrections, last_training
from digitbot.settings import Settings

log = logging.getLogger(__name__)

TYPING_CORRECTION = "typing-correction"
USER_HASH_SHOWN = 8  # characters of a user's hash that admins see and type


def _store(context: ContextTypes.DEFAULT_TYPE) -> FeedbackStore:
    intake: PhotoIntake = context.bot_data[INTAKE]
    return FeedbackStore(intake.connection)


def _user_hash(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    intake: PhotoIntake = context.bot_data[INTAKE]
    user = update.effective_user
    return intake.user_hash(user.id) if user else ""


def explain_row(request_id: str) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton("🔍 How I read it", callback_data=f"explain:{request_id}")]


async def on_feedback_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Route the ok/fix/pos/dig/lbl/type buttons under an answer."""
    query = update.callback_query
    assert query is not None and query.data is not None
    kind, _, rest = query.data.partition(":")
    parts = rest.split(":")
    request_id = parts[0]
    store = _store(context)
    pending = await asyncio.to_thread(store.pending, request_id)
    if pending is None:
        await query.answer(messages.FEEDBACK_EXPIRED, show_alert=True)
        return
    if kind == "ok":
        await _record(update, context, request_id, pending.text)
    elif kind == "fix":
        await query.answer()
        await _edit_markup(update, _correction_keyboard(request_id, pending.text))
    elif kind == "pos":
        position, candidate = int(parts[1]), parts[2]
        await query.answer()
        await _edit_markup(update, _digit_keyboard(request_id, position, candidate))
    elif kind == "dig":
        position, candidate, digit = int(parts[1]), parts[2], parts[3]
        candidate = candidate[:position] + digit + candidate[position + 1 :]
        if len(candidate) == 1:
            await _record(update, context, request_id, candidate)
            return
        await query.answer()
        await _edit_markup(update, _correction_keyboard(request_id, candidate))
    elif kind == "lbl":
        await _record(update, context, request_id, parts[1])
    elif kind == "type":
        assert context.chat_data is not None
        context.chat_data[TYPING_CORRECTION] = request_id
        await query.answer()
        message = query.message
        if message is not None:
            await context.bot.send_message(message.chat.id, messages.TYPE_CORRECTION)


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
    await message.reply_text(messages.feedback_outcome(outcome, text), do_quote=True)
    return True


async def _record(
    update: Update, context: ContextTypes.DEFAULT_TYPE, request_id: str, label: str
) -> None:
    query = update.callback_query
    assert query is not None
    outcome, sample = await asyncio.to_thread(
        _store(context).record, request_id, label, user_hash=_user_hash(update, context)
    )
    note = messages.feedback_outcome(
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
            f"{first_line}\n{note}", reply_markup=InlineKeyboardMarkup([explain_row(request_id)])
        )
    except BadRequest as exc:  # e.g. "message is not modified"
        log.debug("could not edit the answer: %s", exc)


def _correction_keyboard(request_id: str, candidate: str) -> InlineKeyboardMarkup:
    if len(candidate) == 1:
        return _digit_keyboard(request_id, 0, candidate)
    rows = [
        [
            InlineKeyboardButton(
                f"digit {i + 1}: {ch}  ✏️", callback_data=f"pos:{request_id}:{i}:{candidate}"
            )
        ]
        for i, ch in enumerate(candidate)
    ]
    rows.append(
        [InlineKeyboardButton(f"✔ save {candidate}", callback_data=f"lbl:{request_id}:{candidate}")]
    )
    rows.append([InlineKeyboardButton("⌨️ type it", callback_data=f"type:{request_id}")])
    return InlineKeyboardMarkup(rows)


def _digit_keyboard(request_id: str, position: int, candidate: str) -> InlineKeyboardMarkup:
    def button(d: int) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            str(d), callback_data=f"dig:{request_id}:{position}:{candidate}:{d}"
        )

    rows = [[button(d) for d in range(0, 5)], [button(d) for d in range(5, 10)]]
    rows.append([InlineKeyboardButton("⌨️ type it", callback_data=f"type:{request_id}")])
    return InlineKeyboardMarkup(rows)


async def _edit_markup(update: Update, markup: InlineKeyboardMarkup) -> None:
    query = update.callback_query
    assert query is not None
    try:
        await query.edit_message_reply_markup(reply_markup=markup)
    except BadRequest as exc:
        log.debug("could not edit the keyboard: %s", exc)


async def forget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Delete everything stored for this user."""
    removed = await asyncio.to_thread(_store(context).forget_user, _user_hash(update, context))
    message = update.effective_message
    if message is not None:
        await message.reply_text(messages.FORGOTTEN.format(removed), do_quote=True)


async def privacy(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain what is kept."""
    message = update.effective_message
    if message is not None:
        await message.reply_text(messages.PRIVACY, do_quote=True)


async def _admin_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Message | None:
    """The command's message when its sender is an admin; otherwise refuse politely."""
    settings: Settings = context.bot_data[SETTINGS]
    message = update.effective_message
    user = update.effective_user
    if message is None:
        return None
    if not settings.is_admin(user.id if user else None):
        await message.reply_text(messages.ADMIN_ONLY, do_quote=True)
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
            f"user {item['user_hash'][:USER_HASH_SHOWN]})"
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
        await message.reply_text(messages.NOTHING_HELD, do_quote=True)
        return
    for sample in held:
        markup = InlineKeyboardMarkup([[
            InlineKeyboardButton("accept", callback_data=f"rv:{sample.sample_id}:1"),
            InlineKeyboardButton("reject", callback_data=f"rv:{sample.sample_id}:0"),
        ]])  # fmt: skip
        await message.reply_text(
            f"Model {sample.model_version} read {sample.predicted}; user "
            f"{sample.user_hash[:USER_HASH_SHOWN]} says {sample.label}.",
            reply_markup=markup,
        )


async def on_review_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Admins accept or reject a held sample."""
    settings: Settings = context.bot_data[SETTINGS]
    query = update.callback_query
    assert query is not None and query.data is not None
    user = update.effective_user
    if not settings.is_admin(user.id if user else None):
        await query.answer(messages.ADMIN_ONLY, show_alert=True)
        return
    _, sample_id, verdict = query.data.split(":")
    done = await asyncio.to_thread(_store(context).review, sample_id, accept=verdict == "1")
    await query.answer("done" if done else "already reviewed")
    if done:
        await query.edit_message_text(
            f"{'Accepted' if verdict == '1' else 'Rejected'} sample {sample_id[:8]}."
        )


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
    if len(prefix) < USER_HASH_SHOWN:
        usage = messages.USER_USAGE.format(command=command, min_chars=USER_HASH_SHOWN)
        await message.reply_text(usage, do_quote=True)
        return
    store = _store(context)
    users = await asyncio.to_thread(store.users_matching, prefix)
    if len(users) != 1:
        text = (
            messages.NO_SUCH_USER.format(prefix=prefix)
            if not users
            else messages.AMBIGUOUS_USER.format(count=len(users), prefix=prefix)
        )
        await message.reply_text(text, do_quote=True)
        return
    shown = users[0][:USER_HASH_SHOWN]
    if command == "exclude":
        count = await asyncio.to_thread(store.exclude_user, users[0])
        text = messages.USER_EXCLUDED.format(user=shown, count=count)
    else:
        count = await asyncio.to_thread(store.include_user, users[0])
        text = messages.USER_INCLUDED.format(user=shown, count=count)
    log.info("admin %s: user %s, %d samples", command, shown, count)
    await message.reply_text(text, do_quote=True)
