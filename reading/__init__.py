"""The reading library: decode a picture, find its marks, read them with the model.

Pure functions and the model wrapper, shared by the worker processes, the web page, `digitbot
predict` and training. Imports neither RQ, Redis, telegram nor Flask
(tests/test_architecture.py holds it to that)."""
