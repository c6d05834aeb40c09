"""Speech for the triage IVR: spoken prompts and voice answers, all on this server.

Prompts are rendered ahead of time with pyttsx3 (espeak-ng) into the Asterisk sounds
directory, so the call flow plays them as ordinary ``sound:`` URIs. During a call,
the caller's audio reaches us through ARI external media (RTP on 127.0.0.1) and
goes to an offline Vosk recognizer in worker threads. Each triage question can then
be answered by voice or by key, whichever comes first; the caller's own description
is transcribed onto the ticket. Without a model the IVR runs keypad-only.
"""
