"""Test doubles that stand in for the outside world during tests and demos.

``asterisk`` holds the fake Asterisk: an ARI server on 127.0.0.1 that plays
scripted callers into the application the way a real Asterisk 22 would.
"""
