"""Names of the resources the bot keeps in `application.bot_data` (opened in post_init)."""

INTAKE = "intake"  # bot.intake.PhotoIntake, which also holds the Redis connection
SETTINGS = "settings"  # digitbot.settings.Settings
