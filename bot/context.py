"""Names of the resources the bot keeps in `application.bot_data` (opened in post_init)."""

CHAT_LOCKS = "chat-locks"  # bot.chat_locks.ChatLocks: a chat's photos are enqueued in turn
HEARTBEAT_TASK = "heartbeat-task"  # the asyncio.Task refreshing the bot's heartbeat key
INTAKE = "intake"  # digitbot.intake.PhotoIntake, which also holds the Redis connection
SETTINGS = "settings"  # digitbot.settings.Settings
UPDATE_JOURNAL = "update-journal"  # bot.update_journal.UpdateJournal: updates fetched, not done
