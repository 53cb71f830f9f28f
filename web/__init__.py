"""The browser front end: a drawing canvas and photo upload that read digits through the same
RQ pipeline as the Telegram bot, and the operators' view (status, RQ dashboard, metrics).

Never imports TensorFlow: recognition happens in the workers; the web server only validates,
enqueues and shows what the workers stored.
"""
